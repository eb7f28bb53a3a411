/*
 * sql_keys: the classifier's sharding-key extraction (internal; see
 * sql_parser.h). Each reader parses one clause at the current token and
 * adds the keys and key placeholders it proves to p->st, or sets
 * p->st->key_unknown when the clause does not bound the rows by key.
 */
#ifndef UR_SQL_KEYS_H
#define UR_SQL_KEYS_H

#include <stdbool.h>

#include "proxy/sql_parser.h"

/*
 * Is the column reference at the current token (`col`, `t.col`, `s.t.col`)
 * the sharding column of a unit table among p->refs? Consumes it.
 */
bool sql_keys_match_column(struct parser *p);

/* WHERE clause (current token just after WHERE) up to its end. */
void sql_keys_read_where(struct parser *p);

/* SET-style assignments `a = v, b = w` up to a clause word. */
void sql_keys_read_assignments(struct parser *p);

/*
 * VALUES rows (current token VALUES): the value at column position keyidx
 * of each row (-1: no key column, rows are only skipped).
 */
void sql_keys_read_values(struct parser *p, int keyidx);

/*
 * INSERT ... SELECT / TABLE (rows the proxy does not read): if an ON
 * DUPLICATE KEY UPDATE follows anywhere, the statement is an upsert whose
 * assignments are not read either, so it may move a row to any buyer.
 */
void sql_keys_peek_upsert(struct parser *p);

#endif
