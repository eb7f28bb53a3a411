/*
 * sql_classify: statement forms, the passes over a statement, and struct
 * sql_stmt. See sql_classify.h.
 *
 *   text -> sql_lexer tokens -> p_statement: first word picks the form
 *      INSERT/REPLACE  table [(cols)] VALUES (row), ... | SET a = v, ...
 *                      [ON DUPLICATE KEY UPDATE a = v]
 *      UPDATE          table refs SET assignments [WHERE ...]
 *      DELETE          [targets] FROM table refs [WHERE ...]
 *                      | FROM targets USING table refs [WHERE ...]
 *      SELECT          only lexed (a read) unless a FOR / LOCK word was seen
 *      LOAD DATA       ... INTO TABLE t  (keys only from a hint)
 *      PREPARE s FROM 'text' / EXECUTE IMMEDIATE 'text'
 *                      the text is classified on its own (p_dynamic);
 *                      text not a plain literal is refused, hint or not
 *      WITH ... / (    the first verb at depth 0 decides
 *      TRUNCATE, ALTER, DROP, RENAME, CREATE, CALL
 *                      sql_ddl.c: a write of every row, a schema change
 *                      of a classified table, a procedure call
 *        table names and refs: sql_parser.c; keys from WHERE, SET and VALUES
 *        rows: sql_keys.c
 *
 *   then, if a FOR / LOCK word was lexed in a SELECT, INSERT, REPLACE,
 *   UPDATE, DELETE, SET or DO statement -> sql_lock_classify_stmt
 *   (sql_lock.c): one more pass from the statement's start finds locking
 *   clauses (FOR UPDATE, FOR SHARE, LOCK IN SHARE MODE) at any depth and
 *   every table of every FROM / JOIN list at any depth. A locking clause
 *   makes the statement a write to all of them. A SELECT gets keys only in
 *   the simple form (one SELECT block, its own locking clause, unit tables
 *   only in its own FROM); else key_unknown. INSERT / REPLACE / UPDATE /
 *   DELETE keep their own keys unless a unit table is named inside
 *   parentheses, or named at all when the form itself writes none.
 *
 * Anything the simple forms do not cover leaves key_unknown set, so a
 * unit-table write without a usable key is refused rather than let through.
 */
#include "proxy/sql_classify.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/sql_ddl.h"
#include "proxy/sql_keys.h"
#include "proxy/sql_lock.h"
#include "proxy/sql_parser.h"

/* ---- sql_stmt ------------------------------------------------------------- */

void sql_stmt_init(struct sql_stmt *st)
{
    memset(st, 0, sizeof(*st));
    st->keys = st->keys_inline;
    st->keys_cap = SQL_KEYS_INLINE;
}

void sql_stmt_deinit(struct sql_stmt *st)
{
    if (st->keys != st->keys_inline)
        free(st->keys);
    st->keys = st->keys_inline;
    st->keys_cap = SQL_KEYS_INLINE;
    st->nkeys = 0;
}

static void sql_stmt_reset(struct sql_stmt *st)
{
    uint64_t *keys = st->keys;
    size_t cap = st->keys_cap;

    memset(st, 0, offsetof(struct sql_stmt, keys));
    st->keys = keys;
    st->keys_cap = cap;
    st->nkeys = 0;
    st->key_unknown = false;
    st->nkey_params = 0;
    st->nparams = 0;
    st->malformed = false;
    st->deferred = false;
}

int sql_stmt_copy(struct sql_stmt *dst, const struct sql_stmt *src)
{
    sql_stmt_init(dst);
    memcpy(dst, src, sizeof(*dst));
    dst->keys = dst->keys_inline;
    dst->keys_cap = SQL_KEYS_INLINE;
    dst->nkeys = 0;
    for (size_t i = 0; i < src->nkeys; i++) {
        if (sql_stmt_add_key(dst, src->keys[i]) != 0) {
            sql_stmt_deinit(dst);
            return -1;
        }
    }
    return 0;
}

int sql_stmt_add_key(struct sql_stmt *st, uint64_t key)
{
    if (st->nkeys > 0 && st->keys[st->nkeys - 1] == key)
        return 0;   /* a run of rows for one buyer costs one slot */
    if (st->nkeys == st->keys_cap) {
        size_t cap = st->keys_cap * 2;
        uint64_t *k = malloc(cap * sizeof(*k));
        if (k == NULL)
            return -1;
        memcpy(k, st->keys, st->nkeys * sizeof(*k));
        if (st->keys != st->keys_inline)
            free(st->keys);
        st->keys = k;
        st->keys_cap = cap;
    }
    st->keys[st->nkeys++] = key;
    return 0;
}

/* ---- statement forms -------------------------------------------------------- */

static void p_insert(struct parser *p)
{
    static const char *const mods[] = {
        "LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "IGNORE", "INTO", NULL,
    };
    int keyidx = -1;

    p->st->is_write = true;
    p_next(p);
    while (word_in(&p->tok, mods))
        p_next(p);
    if (!sql_parser_at_name(p))
        return;
    sql_parser_read_table_ref(p);
    sql_parser_mark_refs_written(p);
    if (p_is(p, "PARTITION")) {
        p_next(p);
        if (p_punct(p, '('))
            sql_parser_skip_group(p);
    }
    const struct sql_table_rule *r = p->nrefs ? p->refs[0].rule : NULL;
    bool unit = r && r->cls == SQL_TABLE_UNIT;
    if (p_punct(p, '(')) {
        struct sql_lexer saved_lx = p->lx;
        struct sql_tok saved_tok = p->tok;
        p_next(p);
        if (p_is(p, "SELECT") || p_is(p, "WITH")) {
            p->lx = saved_lx;
            p->tok = saved_tok;
            p->st->key_unknown = true;
            sql_keys_peek_upsert(p);
            return;
        }
        for (int i = 0; !p_end(p) && !p_punct(p, ')'); i++) {
            if (unit && p_ident(p) && sql_keys_match_column(p))
                keyidx = i;
            while (!p_end(p) && !p_punct(p, ',') && !p_punct(p, ')'))
                p_next(p);
            if (p_punct(p, ','))
                p_next(p);
        }
        p_next(p);
    }
    if (p_is(p, "VALUES") || p_is(p, "VALUE")) {
        if (unit && keyidx < 0)
            p->st->key_unknown = true;
        sql_keys_read_values(p, unit ? keyidx : -1);
    } else if (p_is(p, "SET")) {
        size_t before = p->st->nkeys + p->st->nkey_params;
        p_next(p);
        sql_keys_read_assignments(p);
        if (unit && p->st->nkeys + p->st->nkey_params == before)
            p->st->key_unknown = true;
        return;
    } else {
        p->st->key_unknown = true;      /* INSERT ... SELECT, TABLE, ... */
        sql_keys_peek_upsert(p);
        return;
    }
    if (p_is(p, "AS")) {                /* MySQL 8 row alias */
        p_next(p);
        p_next(p);
    }
    if (p_is(p, "ON")) {
        while (!p_end(p) && !p_is(p, "UPDATE"))
            p_next(p);
        p_next(p);
        sql_keys_read_assignments(p);
    }
}

static void p_update(struct parser *p)
{
    static const char *const mods[] = { "LOW_PRIORITY", "IGNORE", NULL };

    p->st->is_write = true;
    p_next(p);
    while (word_in(&p->tok, mods))
        p_next(p);
    sql_parser_read_table_refs(p);
    sql_parser_mark_refs_written(p);
    sql_parser_check_unit_refs(p, 0);
    if (p_is(p, "SET")) {
        p_next(p);
        sql_keys_read_assignments(p);
    }
    if (p_is(p, "WHERE")) {
        p_next(p);
        sql_keys_read_where(p);
    } else {
        p->st->key_unknown = true;
    }
}

static void p_delete(struct parser *p)
{
    static const char *const mods[] = { "LOW_PRIORITY", "QUICK", "IGNORE", NULL };
    size_t targets = 0;     /* p->refs[0..targets): names of the refs after */

    p->st->is_write = true;
    p_next(p);
    while (word_in(&p->tok, mods))
        p_next(p);
    if (!p_is(p, "FROM")) {
        sql_parser_read_table_refs(p);  /* DELETE t1, t2 FROM ... */
        targets = p->nrefs;
    }
    if (p_is(p, "FROM")) {
        p_next(p);
        sql_parser_read_table_refs(p);
    }
    if (p_is(p, "USING")) {             /* DELETE FROM t1, t2 USING ... */
        targets = p->nrefs;
        p_next(p);
        sql_parser_read_table_refs(p);
    }
    sql_parser_mark_refs_written(p);
    sql_parser_check_unit_refs(p, targets);
    if (p_is(p, "WHERE")) {
        p_next(p);
        sql_keys_read_where(p);
    } else {
        p->st->key_unknown = true;
    }
}

static void p_load(struct parser *p)
{
    p_next(p);
    if (!p_is(p, "DATA") && !p_is(p, "XML"))
        return;
    p->st->verb = SQL_VERB_LOAD_DATA;
    p->st->is_write = true;
    p->st->key_unknown = true;          /* the rows are in a file */
    while (!p_end(p) && !p_is(p, "TABLE"))
        p_next(p);
    p_next(p);
    if (sql_parser_at_name(p)) {
        sql_parser_read_table_ref(p);
        sql_parser_mark_refs_written(p);
    }
}

/*
 * Is the current token a dynamic statement's text the proxy can read: one
 * string literal without escapes, followed by the statement's end (or, for
 * EXECUTE IMMEDIATE, USING)? Adjacent literals are concatenated by the
 * server (`'... buyer_id = 5' ' OR 1'`), so a second one is not readable.
 * Consumes nothing.
 */
/* The table named for dynamic SQL the proxy cannot read. */
static const char dynamic_unread[] = "(dynamic SQL not a plain literal)";

static bool p_dynamic_literal(struct parser *p, bool immediate)
{
    if (p->tok.type != SQL_TOK_STRING || p->tok.escaped)
        return false;
    struct sql_lexer lx = p->lx;
    struct sql_tok next;
    sql_lexer_next(&lx, &next);
    return next.type == SQL_TOK_END || (immediate && sql_tok_is(&next, "USING"));
}

/*
 * SQL-level dynamic statements. `EXECUTE IMMEDIATE 'text'` runs the text
 * now: it is classified as if sent directly (a placeholder's value, given by
 * USING, is unknown). `PREPARE s FROM 'text'` runs later, under rules that
 * may have changed by then, so a write in it is refused unless it touches
 * no classified table. Text the proxy cannot read (a variable, an
 * expression, escapes, adjacent literals) is a unit-table write refused
 * whatever hint it carries: a hint cannot vouch for text nobody checked
 * (PREPARE: deferred; EXECUTE IMMEDIATE: its hint is void).
 */
static void p_dynamic(struct parser *p, bool immediate)
{
    struct sql_stmt *st = p->st, inner;
    size_t used;

    if (!p_dynamic_literal(p, immediate)) {
        st->is_write = true;
        st->unit_table = true;
        st->key_unknown = true;
        snprintf(st->table, sizeof(st->table), "%s", dynamic_unread);
        snprintf(st->column, sizeof(st->column), "(unknown)");
        if (immediate)
            p->hint_void = true;
        else
            st->deferred = true;
        return;
    }
    sql_stmt_init(&inner);
    if (sql_classify_mode(p->tok.s, p->tok.n, p->mode, p->tables, p->cur_db, &inner,
                          &used) != 0)
        p->nomem = 1;
    if (inner.unsafe != SQL_UNSAFE_NONE && st->unsafe == SQL_UNSAFE_NONE) {
        st->unsafe = inner.unsafe;
        memcpy(st->unsafe_value, inner.unsafe_value, sizeof(st->unsafe_value));
        st->unsafe_why = inner.unsafe_why;
    } else if (inner.sets_charset && !immediate && st->unsafe == SQL_UNSAFE_NONE) {
        st->unsafe = SQL_UNSAFE_CHARSET;
        snprintf(st->unsafe_value, sizeof(st->unsafe_value), "(in PREPARE)");
        st->unsafe_why = "a SQL-level PREPARE of a character set change would run later, "
                         "unseen by the proxy; send the SET as a plain statement";
    } else if (inner.sets_charset) {
        st->sets_charset = true;
        st->charset = inner.charset;
    }
    if (inner.is_write) {
        st->is_write = true;
        st->unit_table = inner.unit_table;
        st->center_table = inner.center_table;
        memcpy(st->table, inner.table, sizeof(st->table));
        memcpy(st->column, inner.column, sizeof(st->column));
        st->all_rows = inner.all_rows;
        st->ddl = inner.ddl;
        st->ddl_what = inner.ddl_what;
        st->call = inner.call;
        memcpy(st->routine, inner.routine, sizeof(st->routine));
        memcpy(st->routine_db, inner.routine_db, sizeof(st->routine_db));
        st->upsert = inner.upsert;
        st->upsert_table = inner.upsert_table;
        st->upsert_move_unknown = inner.upsert_move_unknown;
        st->key_move_unknown = inner.key_move_unknown;
        if (inner.verb == SQL_VERB_REPLACE)
            st->verb = SQL_VERB_REPLACE;    /* decide_upsert refuses it without the option */
        if (immediate) {
            for (size_t i = 0; i < inner.nkeys; i++)
                add_key(p, inner.keys[i]);
            st->key_unknown = inner.key_unknown || inner.nkey_params > 0;
            if (inner.has_hint && !p->lx.nhints) {
                p->lx.nhints = 1;
                p->lx.hint = inner.hint;
            }
            p->lx.hint_conflict |= inner.hint_conflict;
            st->deferred = inner.deferred;      /* a PREPARE in it */
            if (strcmp(inner.table, dynamic_unread) == 0)
                p->hint_void = true;            /* unreadable text in it */
        } else {
            st->key_unknown = true;
            st->deferred = true;
        }
    }
    if (used < p->tok.n)                /* several statements in one text */
        st->key_unknown = st->key_unknown || st->is_write;
    sql_stmt_deinit(&inner);
}

/*
 * An executable comment the server may skip (sql_lexer.h): whether its
 * content runs decides what the statement is (`/ *!99999 SELECT 1 UNION * /
 * DELETE ...`, a quote inside that starts a string only if it runs), so it
 * may write anything: a unit write without a known key.
 */
static void p_ambiguous(struct sql_stmt *st, bool space)
{
    st->is_write = true;
    st->key_unknown = true;
    if (!st->unit_table) {
        st->unit_table = true;
        snprintf(st->table, sizeof(st->table), space ? "(byte 0xA0/0xFF of an unsure "
                 "character set)" : "(versioned comment)");
        snprintf(st->column, sizeof(st->column), "(unknown)");
    }
}

/* Forms that run a query, so may lock rows (SET @x = (SELECT ...), DO ...). */
static const char *const lock_forms[] = {
    "SELECT", "INSERT", "REPLACE", "UPDATE", "DELETE", "SET", "DO", NULL,
};

/* The statement form by its first word(s). */
static void p_statement(struct parser *p)
{
    p_next(p);
    sql_classify_form(p);
}

void sql_classify_form(struct parser *p)
{
    struct sql_stmt *st = p->st;

    p->select_first = p_is(p, "SELECT") || p_is(p, "WITH");
    while (p_punct(p, '('))
        p_next(p);
    if (p_end(p)) {
        st->verb = SQL_VERB_EMPTY;
        return;
    }
    if (p_is(p, "WITH")) {
        int depth = 0;
        while (!p_end(p)) {
            if (p_punct(p, '('))
                depth++;
            else if (p_punct(p, ')'))
                depth--;
            else if (depth == 0 && (p_is(p, "SELECT") || p_is(p, "UPDATE") ||
                                    p_is(p, "DELETE") || p_is(p, "INSERT") ||
                                    p_is(p, "REPLACE")))
                break;
            p_next(p);
        }
    }
    p->lock_scan = word_in(&p->tok, lock_forms);
    if (p_is(p, "SELECT")) {
        st->verb = SQL_VERB_SELECT;     /* a read until the lock pass says not */
        p->main_lx = p->lx;
        p->main_tok = p->tok;
    } else if (p_is(p, "INSERT") || p_is(p, "REPLACE")) {
        st->verb = p_is(p, "INSERT") ? SQL_VERB_INSERT : SQL_VERB_REPLACE;
        p_insert(p);
    } else if (p_is(p, "UPDATE")) {
        st->verb = SQL_VERB_UPDATE;
        p_update(p);
    } else if (p_is(p, "DELETE")) {
        st->verb = SQL_VERB_DELETE;
        p_delete(p);
    } else if (p_is(p, "LOAD")) {
        p_load(p);
    } else if (p_is(p, "PREPARE")) {
        p_next(p);                      /* the statement's name */
        p_next(p);
        if (p_is(p, "FROM")) {
            p_next(p);
            p_dynamic(p, false);
        }
    } else if (p_is(p, "EXECUTE")) {
        p_next(p);
        if (p_is(p, "IMMEDIATE")) {
            p_next(p);
            p_dynamic(p, true);
        }
    } else if (p_is(p, "SET")) {
        sql_set_classify(p);
    } else if (p_is(p, "USE")) {
        p_next(p);
        if (p_ident(p)) {
            st->verb = SQL_VERB_USE;
            sql_tok_ident(&p->tok, st->use_db, sizeof(st->use_db));
        }
    } else if (p_is(p, "BEGIN")) {
        p_next(p);
        st->verb = (p_end(p) || p_is(p, "WORK")) ? SQL_VERB_BEGIN : SQL_VERB_OTHER;
    } else if (p_is(p, "START")) {
        p_next(p);
        st->verb = p_is(p, "TRANSACTION") ? SQL_VERB_BEGIN : SQL_VERB_OTHER;
    } else if (p_is(p, "XA")) {
        st->verb = SQL_VERB_XA;
    } else if (p_is(p, "COMMIT")) {
        st->verb = SQL_VERB_COMMIT;
    } else if (p_is(p, "ROLLBACK")) {
        st->verb = SQL_VERB_ROLLBACK;
        p_next(p);
        if (p_is(p, "WORK"))
            p_next(p);
        if (p_is(p, "TO"))
            st->verb = SQL_VERB_OTHER;
    } else {
        sql_ddl_classify(p);
    }
}

int sql_classify(const char *sql, size_t len, const struct sql_tables *tables,
                 const char *cur_db, struct sql_stmt *st, size_t *consumed)
{
    return sql_classify_mode(sql, len, 0, tables, cur_db, st, consumed);
}

int sql_classify_mode(const char *sql, size_t len, unsigned mode,
                      const struct sql_tables *tables, const char *cur_db,
                      struct sql_stmt *st, size_t *consumed)
{
    struct parser p;
    struct sql_lexer start;

    sql_stmt_reset(st);
    memset(&p, 0, sizeof(p));
    sql_lexer_init(&p.lx, sql, len, mode);
    p.mode = mode;
    p.tables = tables;
    p.cur_db = cur_db;
    p.st = st;
    start = p.lx;
    p_statement(&p);
    while (!p_end(&p))                  /* the rest of this statement */
        p_next(&p);
    if (p.lock_word && p.lock_scan)
        sql_lock_classify_stmt(&p, &start);
    st->has_hint = p.lx.nhints > 0 && !p.hint_void;
    st->hint = p.lx.hint;
    st->hint_conflict = p.lx.hint_conflict || p.lx.hint_bad;
    st->nparams = p.lx.nparams;
    st->malformed = p.lx.malformed;
    if (st->malformed && st->is_write)
        st->key_unknown = true;
    if (p.lx.ambiguous)
        p_ambiguous(st, p.lx.ambiguous_space);
    *consumed = (size_t)(p.lx.p - sql);
    return p.nomem ? -1 : 0;
}
