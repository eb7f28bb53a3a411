/*
 * sql_lock: the classifier's locking-read pass (internal; see
 * sql_parser.h). A statement with a locking clause (FOR UPDATE, FOR SHARE,
 * LOCK IN SHARE MODE) at any depth writes every table of every FROM / JOIN
 * list.
 */
#ifndef UR_SQL_LOCK_H
#define UR_SQL_LOCK_H

#include "proxy/sql_parser.h"

/*
 * Called when a FOR / LOCK word was lexed in a form that may lock rows.
 * start is the lexer at the statement's beginning; p->lx / p->tok are
 * left where they were (at the statement's end). Updates p->st.
 */
void sql_lock_classify_stmt(struct parser *p, const struct sql_lexer *start);

#endif
