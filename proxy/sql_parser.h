/*
 * sql_parser: the classifier's internal parse state and the table-reference
 * parsing its passes share. Only the sql_classify files include it; the
 * public API is sql_classify.h.
 *
 *   sql_classify.c  statement forms, drives the passes (owns struct parser)
 *   sql_parser.c    table names, table reference lists, written tables
 *   sql_keys.c      sharding keys: WHERE terms, assignments, VALUES rows
 *   sql_lock.c      locking clauses (FOR UPDATE / FOR SHARE / LOCK IN SHARE
 *                   MODE) at any depth and the tables they write
 *   sql_ddl.c       TRUNCATE, schema changes (ALTER / DROP / RENAME /
 *                   CREATE ...) and CALL
 *   sql_set.c       SET: the client character set and sql_mode it selects,
 *                   SET STATEMENT ... FOR
 *
 * The token helpers below are static inline so their short names stay
 * local to each file that includes this header. Every function reads from
 * and advances p->lx / p->tok; none allocates except through
 * sql_stmt_add_key (a failure sets p->nomem).
 */
#ifndef UR_SQL_PARSER_H
#define UR_SQL_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/sql_classify.h"
#include "proxy/sql_lexer.h"

struct table_ref {
    char name[SQL_NAME_MAX];
    char alias[SQL_NAME_MAX];
    const struct sql_table_rule *rule;  /* NULL = not configured */
};

struct parser {
    struct sql_lexer         lx;
    struct sql_tok           tok;       /* current token */
    const struct sql_tables *tables;
    const char              *cur_db;
    unsigned                 mode;      /* SQL_MODE_* */
    struct sql_stmt         *st;
    struct table_ref         refs[SQL_TABLE_REFS_MAX];
    size_t                   nrefs;
    int                      nomem;     /* a key could not be stored */
    bool                     lock_word;  /* a FOR or LOCK word was lexed */
    bool                     lock_scan;  /* the form may hold a locking clause */
    bool                     select_first; /* first word SELECT or WITH */
    bool                     hint_void;  /* hints do not count (unreadable dynamic SQL) */
    struct sql_lexer         main_lx;    /* at the main SELECT (after WITH) */
    struct sql_tok           main_tok;
};

/* ---- token helpers ---------------------------------------------------------- */

/*
 * Every locking clause starts with FOR or LOCK: noting those words as they
 * are lexed lets a plain read cost one lexing pass and nothing more.
 */
static inline void p_next(struct parser *p)
{
    sql_lexer_next(&p->lx, &p->tok);
    if (p->tok.type == SQL_TOK_WORD && (p->tok.n == 3 || p->tok.n == 4) &&
        (sql_tok_is(&p->tok, "FOR") || sql_tok_is(&p->tok, "LOCK")))
        p->lock_word = true;
}

static inline bool p_is(struct parser *p, const char *kw)
{
    return sql_tok_is(&p->tok, kw);
}

static inline bool p_punct(struct parser *p, char c)
{
    return sql_tok_punct(&p->tok, c);
}

static inline bool p_end(struct parser *p)
{
    return p->tok.type == SQL_TOK_END;
}

static inline bool p_ident(struct parser *p)
{
    return p->tok.type == SQL_TOK_WORD || p->tok.type == SQL_TOK_QIDENT;
}

/* Is t one of words (a NULL-terminated list of upper-case keywords)? */
static inline bool word_in(const struct sql_tok *t, const char *const *words)
{
    for (size_t i = 0; words[i]; i++)
        if (sql_tok_is(t, words[i]))
            return true;
    return false;
}

/* Add a key found in the text; out of memory sets p->nomem. */
static inline void add_key(struct parser *p, uint64_t key)
{
    if (sql_stmt_add_key(p->st, key) != 0)
        p->nomem = 1;
}

/* ---- sql_parser.c: tables ----------------------------------------------------- */

/* Words that end a table reference list or a WHERE clause (NULL-terminated). */
extern const char *const sql_parser_clause_end[];

/* Skip a parenthesized group; the current token is its `(`. */
void sql_parser_skip_group(struct parser *p);

/* The configured rule for [schema.]name (schema "" = the current one), or NULL. */
const struct sql_table_rule *sql_parser_lookup_table(const struct parser *p,
                                                     const char *schema,
                                                     const char *name);

/* The statement writes table r (NULL: not configured, nothing to note). */
void sql_parser_mark_written(struct sql_stmt *st, const struct sql_table_rule *r);

/*
 * A bare name `[schema.]name` at the current token (consumed): its
 * configured rule, or NULL. name / schema get its parts when not NULL
 * (schema "" when not given).
 */
const struct sql_table_rule *sql_parser_read_name(struct parser *p, char *schema,
                                                  char *name);

/* One table reference `[schema.]name [[AS] alias]` into p->refs. */
void sql_parser_read_table_ref(struct parser *p);

/*
 * A table reference list up to a clause word, or a USING not after a JOIN
 * (DELETE FROM targets USING refs), into p->refs; parenthesized references
 * `(t)`, `(t1, t2)`, `(t1 JOIN t2 ON ...)` at any nesting; derived tables
 * skipped. A group it cannot follow makes the statement a unit-table write
 * without a known key.
 */
void sql_parser_read_table_refs(struct parser *p);

/*
 * Two unit-table refs in p->refs[from..] make the keys unknown: a WHERE
 * key term bounds the rows of one of them only.
 */
void sql_parser_check_unit_refs(struct parser *p, size_t from);

/*
 * Does a table name start at the current token: a name, or `.` (MariaDB
 * reads `.orders` as the current schema's `orders`)?
 */
static inline bool sql_parser_at_name(struct parser *p)
{
    return p_ident(p) || p_punct(p, '.');
}

/*
 * A dotted name at the current token (`a`, `a.b`, `a.b.c`), consumed: its
 * parts into part. Returns how many (0: the token is not a name).
 */
size_t sql_parser_read_dotted(struct parser *p, char part[3][SQL_NAME_MAX]);

/* Mark every table in p->refs as written. */
void sql_parser_mark_refs_written(struct parser *p);

/* ---- sql_classify.c / sql_set.c ------------------------------------------------ */

/* The statement form at the current token (its first word). */
void sql_classify_form(struct parser *p);

/* SET ...: the current token is SET (sql_set.c). */
void sql_set_classify(struct parser *p);

#endif
