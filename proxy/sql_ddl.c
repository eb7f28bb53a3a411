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
 *   CREATE ... INDEX i ON t,  CREATE ... TRIGGER trg ... ON t
 *                                 ddl when a named table is classified
 *   CALL [db.]proc(...)           call: a unit write, keys only from a hint
 *
 * A plain CREATE TABLE of a new name changes no existing table and stays a
 * read, as every other DDL on unclassified tables does. Strings, quoted
 * names and comments are already hidden by the lexer.
 */
#include "proxy/sql_ddl.h"

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
    if (p_ident(p))
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
    if (!p_ident(p))
        return;
    st->verb = SQL_VERB_TRUNCATE;
    st->is_write = true;
    st->all_rows = true;
    st->key_unknown = true;
    sql_parser_mark_written(st, sql_parser_read_name(p, NULL, NULL));
}

/* ALTER TABLE t ...: t, a RENAME's new name, EXCHANGE PARTITION's table. */
static void ddl_alter(struct parser *p)
{
    static const char *const mods[] = { "ONLINE", "OFFLINE", "IGNORE", NULL };
    static const char *const renamed[] = { "COLUMN", "INDEX", "KEY", NULL };
    static const char what[] = "ALTER TABLE";

    p_next(p);
    while (word_in(&p->tok, mods))
        p_next(p);
    if (!p_is(p, "TABLE"))
        return;                         /* ALTER DATABASE, VIEW, USER, ... */
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
    if (!p_ident(p))
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

/* CREATE ... INDEX i ... ON t / CREATE ... TRIGGER trg ... ON t */
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
        "PROCEDURE", "FUNCTION", "VIEW", "EVENT", "DATABASE", "SCHEMA", "USER",
        "ROLE", "SEQUENCE", "SERVER", "PACKAGE", "AGGREGATE", "TABLESPACE", NULL,
    };
    bool replace = false;

    p_next(p);
    if (p_is(p, "OR")) {
        p_next(p);
        replace = p_is(p, "REPLACE");
    }
    /* DEFINER = ..., TEMPORARY, UNIQUE, ALGORITHM = ... come before the kind */
    for (int i = 0; i < 16 && !p_end(p) && !word_in(&p->tok, others); i++) {
        if (p_is(p, "TABLE")) {
            ddl_create_table(p, replace);
            return;
        }
        if (p_is(p, "INDEX")) {
            ddl_create_on(p, "CREATE INDEX");
            return;
        }
        if (p_is(p, "TRIGGER")) {
            ddl_create_on(p, "CREATE TRIGGER");
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
