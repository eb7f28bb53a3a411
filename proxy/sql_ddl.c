/*
 * sql_ddl: statements whose effect on unit and center tables no key can
 * bound (see sql_ddl.h). The proxy cannot check them row by row, so it
 * names what they touch and sql_decide refuses (or, for CALL with a hint,
 * checks the hint's buyer):
 *
 *   TRUNCATE [TABLE] t            a write of every row of t (all_rows)
 *   ALTER [ONLINE|IGNORE] TABLE t ... [RENAME [TO] u] [... WITH TABLE u]
 *   DROP [TEMPORARY] TABLE t, ...  DROP INDEX i ON t
 *   DROP TRIGGER trg              its table is not named: ddl whenever
 *                                 any table is classified
 *   DROP DATABASE db              ddl when a classified table may live in db
 *   RENAME TABLE a TO b, ...      every name, old and new
 *   CREATE [OR REPLACE] ... TABLE t ... SELECT | LIKE   (OR REPLACE: always)
 *   CREATE ... INDEX i ON t       ddl when t is classified
 *   CREATE [OR REPLACE] [ALGORITHM=..] [DEFINER=..] [SQL SECURITY ..] VIEW,
 *   ALTER ... VIEW, CREATE ... TRIGGER | PROCEDURE | FUNCTION | EVENT |
 *   PACKAGE, ALTER ... EVENT      a view or stored program: ddl when any
 *                                 identifier of the statement (its ON table,
 *                                 its body) names a classified table, or
 *                                 the body runs dynamic SQL or a CALL: its
 *                                 writes would run later, unseen by the proxy
 *   CALL [db.]proc(...)           call: a unit write, keys only from a hint
 *
 * A plain CREATE TABLE of a new name changes no existing table and stays a
 * read, as every other DDL on unclassified tables does. Strings, quoted
 * names and comments are already hidden by the lexer.
 */
#include "proxy/sql_ddl.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The statement changes or removes classified table r (NULL: nothing). */
static void ddl_mark(struct parser *p, const struct sql_table_rule *r, const char *what)
{
    struct sql_stmt *st = p->st;

    if (r == NULL || st->ddl)
        return;
    st->verb = SQL_VERB_DDL;
    st->is_write = true;
    st->ddl = true;
    st->ddl_what = what;
    snprintf(st->table, sizeof(st->table), "%s", r->name);
}

/* A `[schema.]name` at the current token, if there is one. */
static void ddl_name(struct parser *p, const char *what)
{
    if (sql_parser_at_name(p))
        ddl_mark(p, sql_parser_read_name(p, NULL, NULL), what);
}

/* IF [NOT] EXISTS */
static void ddl_skip_if_exists(struct parser *p)
{
    if (!p_is(p, "IF"))
        return;
    p_next(p);
    if (p_is(p, "NOT"))
        p_next(p);
    if (p_is(p, "EXISTS"))
        p_next(p);
}

static void ddl_truncate(struct parser *p)
{
    struct sql_stmt *st = p->st;

    p_next(p);
    if (p_is(p, "TABLE"))
        p_next(p);
    if (!sql_parser_at_name(p))
        return;
    st->verb = SQL_VERB_TRUNCATE;
    st->is_write = true;
    st->all_rows = true;
    st->key_unknown = true;
    sql_parser_mark_written(st, sql_parser_read_name(p, NULL, NULL));
}

/* The kind word of a view or stored program, as "CREATE <kind>" / "ALTER <kind>". */
static const char *ddl_body_kind(struct parser *p, bool create)
{
    static const char *const kinds[][3] = {
        { "VIEW", "CREATE VIEW", "ALTER VIEW" },
        { "TRIGGER", "CREATE TRIGGER", NULL },
        { "PROCEDURE", "CREATE PROCEDURE", NULL },
        { "FUNCTION", "CREATE FUNCTION", NULL },
        { "EVENT", "CREATE EVENT", "ALTER EVENT" },
        { "PACKAGE", "CREATE PACKAGE", NULL },
    };

    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (p_is(p, kinds[i][0]))
            return kinds[i][create ? 1 : 2];
    return NULL;
}

/*
 * A view or stored program (what: "CREATE VIEW", ...; the current token is
 * its kind word): every identifier to the statement's end, `name`,
 * `a.b` or `a.b.c`, is looked up as a table the way the classifier looks
 * up table names (each part alone in the current schema, each pair as
 * schema.table). Dynamic SQL (PREPARE, EXECUTE) and CALL in a body could
 * write any table: with classified tables configured they count as one.
 *
 * A compound body (BEGIN ... END) holds `;`-ended statements, and the
 * server reads the whole program as one statement: the scan goes on past
 * a `;` while a BEGIN (in a statement's place: not after `,`, an operator
 * or SELECT / WHERE / ...) or a CASE is open; END closes one (END IF /
 * LOOP / WHILE / REPEAT / FOR close blocks not counted). A body still open
 * at the text's end (a miscount) is refused when tables are classified.
 */
static void ddl_body(struct parser *p, const char *what)
{
    static const char *const opaque[] = { "PREPARE", "EXECUTE", "CALL", NULL };
    static const char *const end_kinds[] = { "IF", "LOOP", "WHILE", "REPEAT", "FOR", NULL };
    static const char *const not_before_begin[] = {
        "SELECT", "WHERE", "AND", "OR", "XOR", "NOT", "BY", "SET", "AS", "FROM", "ON",
        "RETURN", "WHEN", "IS", "IN", "LIKE", "INTO", "VALUES", "HAVING", NULL,
    };
    struct sql_stmt *st = p->st;
    bool classified = p->tables && p->tables->n > 0;
    bool begin_ok = true, crossed = false;
    int depth = 0;

    p_next(p);
    for (;;) {
        if (p_end(p)) {
            if (depth <= 0 || p->lx.p >= p->lx.end)
                break;
            p->lx.at_end = false;       /* a `;` inside BEGIN ... END */
            crossed = true;
            begin_ok = true;
            p_next(p);
            continue;
        }
        if (p->tok.type == SQL_TOK_WORD && (p_is(p, "BEGIN") || p_is(p, "CASE"))) {
            depth += p_is(p, "CASE") || begin_ok;
            begin_ok = true;
            p_next(p);
            continue;
        }
        if (p->tok.type == SQL_TOK_WORD && p_is(p, "END")) {
            p_next(p);
            if (word_in(&p->tok, end_kinds)) {
                p_next(p);
            } else {
                if (p_is(p, "CASE"))
                    p_next(p);
                depth--;
            }
            begin_ok = false;
            continue;
        }
        if (!p_ident(p)) {
            begin_ok = p->tok.type != SQL_TOK_PUNCT || p_punct(p, ')') || p_punct(p, ':');
            p_next(p);
            continue;
        }
        begin_ok = !(p->tok.type == SQL_TOK_WORD && word_in(&p->tok, not_before_begin));
        if (p->tok.type == SQL_TOK_WORD && word_in(&p->tok, opaque) && classified &&
            !st->ddl) {
            ddl_mark(p, &p->tables->v[0], what);
            char word[16];
            size_t n = p->tok.n < sizeof(word) - 1 ? p->tok.n : sizeof(word) - 1;
            for (size_t i = 0; i < n; i++)     /* as MariaDB reads it: any case */
                word[i] = (char)toupper((unsigned char)p->tok.s[i]);
            word[n] = '\0';
            snprintf(st->table, sizeof(st->table), "(any: the body runs %s)", word);
        }
        char part[3][SQL_NAME_MAX];
        size_t n = sql_parser_read_dotted(p, part);
        for (size_t i = 0; i < n && !st->ddl; i++) {
            ddl_mark(p, sql_parser_lookup_table(p, "", part[i]), what);
            if (i + 1 < n)
                ddl_mark(p, sql_parser_lookup_table(p, part[i], part[i + 1]), what);
        }
    }
    if (crossed && depth > 0 && classified && !st->ddl) {
        ddl_mark(p, &p->tables->v[0], what);
        snprintf(st->table, sizeof(st->table), "(any: the body's BEGIN ... END is not closed)");
    }
}

/* ALTER TABLE t ...: t, a RENAME's new name, EXCHANGE PARTITION's table. */
static void ddl_alter(struct parser *p)
{
    static const char *const mods[] = { "ONLINE", "OFFLINE", "IGNORE", NULL };
    static const char *const renamed[] = { "COLUMN", "INDEX", "KEY", NULL };
    static const char what[] = "ALTER TABLE";

    static const char *const view_mods[] = { "ALGORITHM", "DEFINER", "SQL", NULL };

    p_next(p);
    if (word_in(&p->tok, view_mods) || ddl_body_kind(p, false)) {
        /* ALTER [ALGORITHM = ..] [DEFINER = ..] [SQL SECURITY ..] VIEW | EVENT */
        for (int i = 0; i < 64 && !p_end(p); i++, p_next(p)) {
            const char *body = ddl_body_kind(p, false);
            if (body) {
                ddl_body(p, body);
                return;
            }
        }
        return;
    }
    while (word_in(&p->tok, mods))
        p_next(p);
    if (!p_is(p, "TABLE"))
        return;                         /* ALTER DATABASE, USER, ... */
    p_next(p);
    ddl_skip_if_exists(p);
    ddl_name(p, what);
    while (!p_end(p)) {
        if (p_is(p, "RENAME")) {
            p_next(p);
            if (word_in(&p->tok, renamed))
                continue;
            if (p_is(p, "TO") || p_is(p, "AS"))
                p_next(p);
            ddl_name(p, what);
        } else if (p_is(p, "TABLE")) {
            p_next(p);
            ddl_name(p, what);
        } else {
            p_next(p);
        }
    }
}

/* DROP DATABASE db: may it hold a classified table? */
static void ddl_drop_database(struct parser *p)
{
    char db[SQL_NAME_MAX];

    p_next(p);
    ddl_skip_if_exists(p);
    if (!p_ident(p))
        return;
    sql_tok_ident(&p->tok, db, sizeof(db));
    for (size_t i = 0; p->tables && i < p->tables->n; i++) {
        const struct sql_table_rule *r = &p->tables->v[i];
        if (r->schema[0] == '\0' || strcasecmp(r->schema, db) == 0) {
            ddl_mark(p, r, "DROP DATABASE");
            return;
        }
    }
}

/* DROP TRIGGER names no table: any classified table might be its own. */
static void ddl_drop_trigger(struct parser *p)
{
    struct sql_stmt *st = p->st;

    p_next(p);
    ddl_skip_if_exists(p);
    if (!p_ident(p) || p->tables == NULL || p->tables->n == 0)
        return;
    sql_parser_read_name(p, NULL, st->routine);
    st->verb = SQL_VERB_DDL;
    st->is_write = true;
    st->ddl = true;
    st->ddl_what = "DROP TRIGGER";
    st->table[0] = '\0';
}

static void ddl_drop(struct parser *p)
{
    p_next(p);
    if (p_is(p, "TEMPORARY"))
        p_next(p);
    if (p_is(p, "TABLE") || p_is(p, "TABLES")) {
        p_next(p);
        ddl_skip_if_exists(p);
        while (p_ident(p)) {
            ddl_name(p, "DROP TABLE");
            if (!p_punct(p, ','))
                break;
            p_next(p);
        }
    } else if (p_is(p, "INDEX")) {
        while (!p_end(p) && !p_is(p, "ON"))
            p_next(p);
        p_next(p);
        ddl_name(p, "DROP INDEX");
    } else if (p_is(p, "TRIGGER")) {
        ddl_drop_trigger(p);
    } else if (p_is(p, "DATABASE") || p_is(p, "SCHEMA")) {
        ddl_drop_database(p);
    }
}

/* RENAME TABLE a TO b, c TO d: every name, old and new. */
static void ddl_rename(struct parser *p)
{
    static const char *const not_names[] = { "TO", "WAIT", "NOWAIT", NULL };

    p_next(p);
    if (!p_is(p, "TABLE") && !p_is(p, "TABLES"))
        return;                         /* RENAME USER */
    p_next(p);
    ddl_skip_if_exists(p);
    while (!p_end(p)) {
        if (p_ident(p) && !word_in(&p->tok, not_names))
            ddl_name(p, "RENAME TABLE");
        else
            p_next(p);
    }
}

/*
 * CREATE [OR REPLACE] [TEMPORARY] TABLE [IF NOT EXISTS] t ...: a copy
 * (SELECT, LIKE, VALUES, TABLE) into a classified name, or OR REPLACE of
 * one. Into an unclassified name its SELECT may still lock rows.
 */
static void ddl_create_table(struct parser *p, bool replace)
{
    static const char *const copy_words[] = { "SELECT", "LIKE", "VALUES", "TABLE", NULL };
    const char *what = replace ? "CREATE OR REPLACE TABLE" : NULL;

    p_next(p);
    ddl_skip_if_exists(p);
    if (!sql_parser_at_name(p))
        return;
    const struct sql_table_rule *r = sql_parser_read_name(p, NULL, NULL);
    p->lock_scan = true;
    for (; !p_end(p) && what == NULL; p_next(p)) {
        if (word_in(&p->tok, copy_words))
            what = p_is(p, "LIKE") ? "CREATE TABLE ... LIKE" : "CREATE TABLE ... SELECT";
    }
    if (what != NULL)
        ddl_mark(p, r, what);
}

/* CREATE ... INDEX i ... ON t */
static void ddl_create_on(struct parser *p, const char *what)
{
    while (!p_end(p) && !p_is(p, "ON"))
        p_next(p);
    p_next(p);
    ddl_name(p, what);
}

static void ddl_create(struct parser *p)
{
    static const char *const others[] = {
        "DATABASE", "SCHEMA", "USER", "ROLE", "SEQUENCE", "SERVER", "TABLESPACE", NULL,
    };
    bool replace = false;

    p_next(p);
    if (p_is(p, "OR")) {
        p_next(p);
        replace = p_is(p, "REPLACE");
    }
    /* DEFINER = ..., TEMPORARY, UNIQUE, ALGORITHM = ..., SQL SECURITY ...,
     * AGGREGATE come before the kind */
    for (int i = 0; i < 64 && !p_end(p) && !word_in(&p->tok, others); i++) {
        const char *body = ddl_body_kind(p, true);
        if (body) {
            ddl_body(p, body);
            return;
        }
        if (p_is(p, "TABLE")) {
            ddl_create_table(p, replace);
            return;
        }
        if (p_is(p, "INDEX")) {
            ddl_create_on(p, "CREATE INDEX");
            return;
        }
        p_next(p);
    }
}

/* CALL [db.]proc[(args)]: the procedure's name and schema. */
static void ddl_call(struct parser *p)
{
    struct sql_stmt *st = p->st;
    char schema[SQL_NAME_MAX];

    p_next(p);
    if (!p_ident(p))
        return;
    sql_parser_read_name(p, schema, st->routine);
    snprintf(st->routine_db, sizeof(st->routine_db), "%s",
             schema[0] ? schema : p->cur_db ? p->cur_db : "");
    st->verb = SQL_VERB_CALL;
    st->call = true;
    st->is_write = true;
    st->unit_table = true;
    st->key_unknown = true;
}

void sql_ddl_classify(struct parser *p)
{
    if (p_is(p, "TRUNCATE"))
        ddl_truncate(p);
    else if (p_is(p, "ALTER"))
        ddl_alter(p);
    else if (p_is(p, "DROP"))
        ddl_drop(p);
    else if (p_is(p, "RENAME"))
        ddl_rename(p);
    else if (p_is(p, "CREATE"))
        ddl_create(p);
    else if (p_is(p, "CALL"))
        ddl_call(p);
}
