/*
 * sql_classify: statement forms, table classification and key extraction.
 * See sql_classify.h.
 *
 *   text -> sql_lexer tokens -> classify_stmt: first word picks the form
 *      INSERT/REPLACE  table [(cols)] VALUES (row), ... | SET a = v, ...
 *                      [ON DUPLICATE KEY UPDATE a = v]
 *      UPDATE          table refs SET assignments [WHERE ...]
 *      DELETE          [targets] FROM table refs [WHERE ...]
 *      SELECT          only lexed (a read) unless a FOR / LOCK word was seen
 *      LOAD DATA       ... INTO TABLE t  (keys only from a hint)
 *      WITH ... / (    the first verb at depth 0 decides
 *
 *   then, if a FOR / LOCK word was lexed in a SELECT, INSERT, REPLACE,
 *   UPDATE, DELETE, SET or DO statement -> p_locking: one more pass from the
 *   statement's start finds locking clauses (FOR UPDATE, FOR SHARE, LOCK IN
 *   SHARE MODE) at any depth and every table of every FROM / JOIN list at any
 *   depth. A locking clause makes the statement a write to all of them. Keys
 *   only for the simple form (below, p_select_keys); else key_unknown.
 *
 * Anything the simple forms do not cover leaves key_unknown set, so a
 * unit-table write without a usable key is refused rather than let through.
 */
#include "proxy/sql_classify.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
    int                      nomem;
    bool                     lock_word;  /* a FOR or LOCK word was lexed */
    bool                     lock_scan;  /* the form may hold a locking clause */
    bool                     select_first; /* first word SELECT or WITH */
    struct sql_lexer         main_lx;    /* at the main SELECT (after WITH) */
    struct sql_tok           main_tok;
};

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

/* ---- parser helpers --------------------------------------------------------- */

/*
 * Every locking clause starts with FOR or LOCK: noting those words as they
 * are lexed lets a plain read cost one lexing pass and nothing more.
 */
static void p_next(struct parser *p)
{
    sql_lexer_next(&p->lx, &p->tok);
    if (p->tok.type == SQL_TOK_WORD && (p->tok.n == 3 || p->tok.n == 4) &&
        (sql_tok_is(&p->tok, "FOR") || sql_tok_is(&p->tok, "LOCK")))
        p->lock_word = true;
}

static bool p_is(struct parser *p, const char *kw)
{
    return sql_tok_is(&p->tok, kw);
}

static bool p_punct(struct parser *p, char c)
{
    return sql_tok_punct(&p->tok, c);
}

static bool p_end(struct parser *p)
{
    return p->tok.type == SQL_TOK_END;
}

static bool p_ident(struct parser *p)
{
    return p->tok.type == SQL_TOK_WORD || p->tok.type == SQL_TOK_QIDENT;
}

static bool word_in(const struct sql_tok *t, const char *const *words)
{
    for (size_t i = 0; words[i]; i++)
        if (sql_tok_is(t, words[i]))
            return true;
    return false;
}

/* Words that end a table reference list or a WHERE clause. */
static const char *const clause_end[] = {
    "WHERE", "SET", "ORDER", "LIMIT", "GROUP", "HAVING", "FOR", "LOCK",
    "UNION", "EXCEPT", "INTERSECT", "RETURNING", "WINDOW", "INTO", "VALUES",
    "VALUE", "SELECT", "FROM", "PROCEDURE", NULL,
};

static const char *const not_alias[] = {
    "AS", "JOIN", "INNER", "LEFT", "RIGHT", "CROSS", "STRAIGHT_JOIN", "NATURAL",
    "OUTER", "ON", "USING", "PARTITION", "USE", "IGNORE", "FORCE", "DEFAULT",
    NULL,
};

static bool p_clause_end(struct parser *p)
{
    return p_end(p) || word_in(&p->tok, clause_end);
}

/* Skip a parenthesized group; the current token is its `(`. */
static void p_skip_group(struct parser *p)
{
    int depth = 0;

    do {
        if (p_punct(p, '('))
            depth++;
        else if (p_punct(p, ')'))
            depth--;
        p_next(p);
    } while (depth > 0 && !p_end(p));
}

static void add_key(struct parser *p, uint64_t key)
{
    if (sql_stmt_add_key(p->st, key) != 0)
        p->nomem = 1;
}

static void add_key_param(struct parser *p, uint16_t index)
{
    struct sql_stmt *st = p->st;

    if (st->nkey_params == SQL_KEY_PARAMS_MAX) {
        st->key_unknown = true;
        return;
    }
    st->key_params[st->nkey_params++] = index;
}

/*
 * A key value: one token followed by a terminator the caller checks. Adds
 * the key or placeholder; anything else marks the key unknown.
 */
static void add_key_token(struct parser *p, const struct sql_tok *t)
{
    uint64_t v;

    if (t->type == SQL_TOK_PARAM)
        add_key_param(p, t->param);
    else if (sql_tok_uint(t, &v))
        add_key(p, v);
    else
        p->st->key_unknown = true;
}

/* ---- tables ----------------------------------------------------------------- */

static const struct sql_table_rule *table_lookup(const struct parser *p,
                                                 const char *schema, const char *name)
{
    const char *db = schema[0] ? schema : p->cur_db;

    for (size_t i = 0; p->tables && i < p->tables->n; i++) {
        const struct sql_table_rule *r = &p->tables->v[i];
        if (strcasecmp(r->name, name) != 0)
            continue;
        if (r->schema[0] == '\0' || (db && strcasecmp(r->schema, db) == 0))
            return r;
    }
    return NULL;
}

/* The statement writes table r (NULL: not configured, nothing to note). */
static void rule_written(struct sql_stmt *st, const struct sql_table_rule *r)
{
    if (r == NULL)
        return;
    if (r->cls == SQL_TABLE_UNIT && !st->unit_table) {
        st->unit_table = true;
        snprintf(st->table, sizeof(st->table), "%s", r->name);
        snprintf(st->column, sizeof(st->column), "%s", r->column);
    } else if (r->cls == SQL_TABLE_CENTER && !st->center_table) {
        st->center_table = true;
        if (!st->unit_table)
            snprintf(st->table, sizeof(st->table), "%s", r->name);
    }
}

/*
 * Parse `[schema.]name [[AS] alias]` at the current token into a new ref.
 * Only write statements collect refs, so a table past SQL_TABLE_REFS_MAX is
 * marked written at once: its key cannot be followed, but it is checked.
 */
static void p_table_ref(struct parser *p)
{
    char a[SQL_NAME_MAX], b[SQL_NAME_MAX] = "";
    struct table_ref *ref = p->nrefs < SQL_TABLE_REFS_MAX ? &p->refs[p->nrefs] : NULL;

    sql_tok_ident(&p->tok, a, sizeof(a));
    p_next(p);
    if (p_punct(p, '.')) {
        p_next(p);
        if (p_ident(p)) {
            sql_tok_ident(&p->tok, b, sizeof(b));
            p_next(p);
        } else if (p_punct(p, '*')) {
            p_next(p);
        }
    }
    const struct sql_table_rule *rule = table_lookup(p, b[0] ? a : "", b[0] ? b : a);
    if (ref == NULL) {
        p->st->key_unknown = true;  /* too many tables to follow */
        rule_written(p->st, rule);
        return;
    }
    memset(ref, 0, sizeof(*ref));
    snprintf(ref->name, sizeof(ref->name), "%s", b[0] ? b : a);
    ref->rule = rule;
    if (p_is(p, "AS"))
        p_next(p);
    if (p_ident(p) && !word_in(&p->tok, not_alias) && !p_clause_end(p)) {
        sql_tok_ident(&p->tok, ref->alias, sizeof(ref->alias));
        p_next(p);
    }
    p->nrefs++;
}

/*
 * Table references up to a clause word: `t [AS a], u JOIN v ON ... `.
 * Derived tables and index hints are skipped.
 */
static void p_table_refs(struct parser *p)
{
    bool expect = true;

    while (!p_clause_end(p)) {
        if (p_punct(p, '(')) {
            p_skip_group(p);
            expect = false;
        } else if (expect && p_ident(p)) {
            p_table_ref(p);
            expect = false;
        } else if (p_punct(p, ',') || p_is(p, "JOIN") || p_is(p, "STRAIGHT_JOIN")) {
            expect = true;
            p_next(p);
        } else {
            p_next(p);  /* ON / USING conditions, index hints, LATERAL... */
        }
    }
}

/* Mark every table reference as written. */
static void refs_written(struct parser *p)
{
    for (size_t i = 0; i < p->nrefs; i++)
        rule_written(p->st, p->refs[i].rule);
}

/*
 * Is the column reference at the current token (`col`, `t.col`, `s.t.col`)
 * the sharding column of a unit table among the refs? Consumes it.
 */
static bool p_key_column(struct parser *p)
{
    char part[3][SQL_NAME_MAX];
    int n = 0;

    while (n < 3 && p_ident(p)) {
        sql_tok_ident(&p->tok, part[n++], SQL_NAME_MAX);
        p_next(p);
        if (!p_punct(p, '.'))
            break;
        p_next(p);
    }
    if (n == 0)
        return false;
    const char *col = part[n - 1], *qual = n >= 2 ? part[n - 2] : NULL;
    for (size_t i = 0; i < p->nrefs; i++) {
        const struct table_ref *ref = &p->refs[i];
        if (ref->rule == NULL || ref->rule->cls != SQL_TABLE_UNIT ||
            strcasecmp(ref->rule->column, col) != 0)
            continue;
        if (qual == NULL || strcasecmp(qual, ref->name) == 0 ||
            (ref->alias[0] && strcasecmp(qual, ref->alias) == 0))
            return true;
    }
    return false;
}

/* ---- WHERE and assignments -------------------------------------------------- */

static bool p_punct2(struct parser *p, const char *op)
{
    return p->tok.type == SQL_TOK_PUNCT && p->tok.n == strlen(op) &&
           memcmp(p->tok.s, op, p->tok.n) == 0;
}

/* After a key term: the term must end here, or the key does not bound it. */
static bool where_term_end(struct parser *p)
{
    return p_end(p) || p_is(p, "AND") || p_punct2(p, "&&") || p_punct(p, ')') ||
           word_in(&p->tok, clause_end);
}

/*
 * At a top-level AND term: `keycol = v` or `keycol IN (v, ...)` followed by
 * the end of the term. Adds the keys and returns true, or rewinds and
 * returns false.
 */
static bool p_key_term(struct parser *p)
{
    struct sql_lexer saved_lx = p->lx;
    struct sql_tok saved_tok = p->tok;
    struct sql_tok vals[64];
    size_t nvals = 0;

    if (!p_key_column(p))
        goto rewind;
    if (p_punct(p, '=') || p_punct2(p, "<=>")) {
        p_next(p);
        vals[nvals++] = p->tok;
        p_next(p);
    } else if (p_is(p, "IN")) {
        p_next(p);
        if (!p_punct(p, '('))
            goto rewind;
        do {
            p_next(p);
            if (nvals == sizeof(vals) / sizeof(vals[0]))
                goto rewind;
            vals[nvals++] = p->tok;
            p_next(p);
        } while (p_punct(p, ','));
        if (!p_punct(p, ')'))
            goto rewind;
        p_next(p);
    } else {
        goto rewind;
    }
    if (!where_term_end(p))
        goto rewind;
    for (size_t i = 0; i < nvals; i++)
        add_key_token(p, &vals[i]);
    return true;
rewind:
    p->lx = saved_lx;
    p->tok = saved_tok;
    return false;
}

/* WHERE clause (current token just after WHERE) up to its end. */
static void p_where(struct parser *p)
{
    struct sql_stmt *st = p->st;
    size_t keys_before = st->nkeys, params_before = st->nkey_params;
    bool found = false, or_seen = false;
    bool term_start = true;
    int depth = 0;

    while (!p_end(p) && !(depth == 0 && word_in(&p->tok, clause_end))) {
        if (depth == 0 && term_start && p_ident(p) && p_key_term(p)) {
            found = true;
            term_start = false;
            continue;
        }
        term_start = false;
        if (p_punct(p, '(')) {
            depth++;
        } else if (p_punct(p, ')')) {
            if (--depth < 0)
                break;
        } else if (depth == 0) {
            if (p_is(p, "AND") || p_punct2(p, "&&"))
                term_start = true;
            else if (p_is(p, "OR") || p_is(p, "XOR") || p_punct2(p, "||"))
                or_seen = true;
        }
        p_next(p);
    }
    if (or_seen || !found) {
        /* the keys do not bound the rows the statement touches */
        st->nkeys = keys_before;
        st->nkey_params = params_before;
        st->key_unknown = true;
    }
}

static bool p_assignment_end(struct parser *p)
{
    return p_end(p) || p_punct(p, ',') || p_is(p, "WHERE") || p_is(p, "ORDER") ||
           p_is(p, "LIMIT") || p_is(p, "RETURNING");
}

/*
 * A value that keeps the key as it is: `keycol` or `VALUES(keycol)` (the
 * usual ON DUPLICATE KEY UPDATE form). Consumes it and returns true, or
 * rewinds and returns false.
 */
static bool p_same_key(struct parser *p)
{
    struct sql_lexer saved_lx = p->lx;
    struct sql_tok saved_tok = p->tok;

    if (p_is(p, "VALUES") || p_is(p, "VALUE")) {
        p_next(p);
        if (p_punct(p, '(')) {
            p_next(p);
            if (p_ident(p) && p_key_column(p) && p_punct(p, ')')) {
                p_next(p);
                if (p_assignment_end(p))
                    return true;
            }
        }
    } else if (p_ident(p) && p_key_column(p) && p_assignment_end(p)) {
        return true;
    }
    p->lx = saved_lx;
    p->tok = saved_tok;
    return false;
}

/* SET-style assignments `a = v, b = w` up to a clause word. */
static void p_assignments(struct parser *p)
{
    while (!p_end(p) && !p_is(p, "WHERE") && !p_is(p, "ORDER") &&
           !p_is(p, "LIMIT") && !p_is(p, "RETURNING")) {
        bool key = p_ident(p) && p_key_column(p);
        if (!p_punct(p, '=') && !p_punct2(p, ":=")) {
            p_next(p);
            continue;
        }
        p_next(p);
        if (key && p_same_key(p)) {     /* the key does not change */
            if (p_punct(p, ','))
                p_next(p);
            continue;
        }
        struct sql_tok v = p->tok;
        size_t ntok = 0;
        int depth = 0;
        while (!p_end(p) && !(depth == 0 && p_assignment_end(p))) {
            if (p_punct(p, '('))
                depth++;
            else if (p_punct(p, ')'))
                depth--;
            ntok++;
            p_next(p);
        }
        if (key) {
            if (ntok == 1)
                add_key_token(p, &v);
            else
                p->st->key_unknown = true;
        }
        if (p_punct(p, ','))
            p_next(p);
    }
}

/* ---- statement forms -------------------------------------------------------- */

/* VALUES rows: the value at column position keyidx of each row. */
static void p_values_rows(struct parser *p, int keyidx)
{
    do {
        p_next(p);                      /* past VALUES or ',' */
        if (p_is(p, "ROW"))
            p_next(p);
        if (!p_punct(p, '(')) {
            p->st->key_unknown = true;
            return;
        }
        int col = 0, depth = 0;
        size_t ntok = 0;
        struct sql_tok v = { 0 };
        bool got = false;
        p_next(p);
        while (!p_end(p)) {
            if (depth == 0 && (p_punct(p, ',') || p_punct(p, ')'))) {
                if (col == keyidx) {
                    if (ntok == 1)
                        add_key_token(p, &v);
                    else
                        p->st->key_unknown = true;
                    got = true;
                }
                col++;
                ntok = 0;
                if (p_punct(p, ')'))
                    break;
                p_next(p);
                continue;
            }
            if (p_punct(p, '('))
                depth++;
            else if (p_punct(p, ')'))
                depth--;
            if (ntok++ == 0)
                v = p->tok;
            p_next(p);
        }
        if (!got && keyidx >= 0)
            p->st->key_unknown = true;
        p_next(p);                      /* past ')' */
    } while (p_punct(p, ','));
}

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
    if (!p_ident(p))
        return;
    p_table_ref(p);
    refs_written(p);
    if (p_is(p, "PARTITION")) {
        p_next(p);
        if (p_punct(p, '('))
            p_skip_group(p);
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
            return;
        }
        for (int i = 0; !p_end(p) && !p_punct(p, ')'); i++) {
            if (unit && p_ident(p) && p_key_column(p))
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
        p_values_rows(p, unit ? keyidx : -1);
    } else if (p_is(p, "SET")) {
        size_t before = p->st->nkeys + p->st->nkey_params;
        p_next(p);
        p_assignments(p);
        if (unit && p->st->nkeys + p->st->nkey_params == before)
            p->st->key_unknown = true;
        return;
    } else {
        p->st->key_unknown = true;      /* INSERT ... SELECT, TABLE, ... */
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
        p_assignments(p);
    }
}

static void p_update(struct parser *p)
{
    static const char *const mods[] = { "LOW_PRIORITY", "IGNORE", NULL };

    p->st->is_write = true;
    p_next(p);
    while (word_in(&p->tok, mods))
        p_next(p);
    p_table_refs(p);
    refs_written(p);
    if (p_is(p, "SET")) {
        p_next(p);
        p_assignments(p);
    }
    if (p_is(p, "WHERE")) {
        p_next(p);
        p_where(p);
    } else {
        p->st->key_unknown = true;
    }
}

static void p_delete(struct parser *p)
{
    static const char *const mods[] = { "LOW_PRIORITY", "QUICK", "IGNORE", NULL };

    p->st->is_write = true;
    p_next(p);
    while (word_in(&p->tok, mods))
        p_next(p);
    if (!p_is(p, "FROM"))
        p_table_refs(p);                /* DELETE t1, t2 FROM ... */
    if (p_is(p, "FROM")) {
        p_next(p);
        p_table_refs(p);
    }
    refs_written(p);
    if (p_is(p, "WHERE")) {
        p_next(p);
        p_where(p);
    } else {
        p->st->key_unknown = true;
    }
}

/* ---- locking reads ---------------------------------------------------------- */

#define LOCK_DEPTH_MAX 64   /* deeper than this every name may be a table */

/* What one pass over a statement found about row locks and tables. */
struct lock_scan {
    bool top_lock;          /* a locking clause at depth 0 */
    bool nested_lock;       /* one inside parentheses */
    bool top_set_op;        /* UNION / EXCEPT / INTERSECT at depth 0 */
    bool nested_unit;       /* a unit table named inside parentheses */
    const struct sql_table_rule *unit;      /* the first unit table named */
    const struct sql_table_rule *center;    /* the first center table named */
};

/*
 * At FOR or LOCK: is it a locking clause (FOR UPDATE, FOR SHARE, LOCK IN
 * SHARE MODE)? Consumes FOR / LOCK, and the next word when it is one. Not
 * one: FOR SYSTEM_TIME, SUBSTRING(s FROM 1 FOR 2), LOCK TABLES, ...
 */
static bool p_lock_clause(struct parser *p)
{
    bool is_for = p_is(p, "FOR");

    p_next(p);
    if (is_for ? (p_is(p, "UPDATE") || p_is(p, "SHARE")) : p_is(p, "IN")) {
        p_next(p);
        return true;
    }
    return false;
}

/* A table name `[schema.]name` in a table list: note a configured one. */
static void p_scan_table(struct parser *p, struct lock_scan *ls, int depth)
{
    char a[SQL_NAME_MAX], b[SQL_NAME_MAX] = "";

    sql_tok_ident(&p->tok, a, sizeof(a));
    p_next(p);
    if (p_punct(p, '.')) {
        p_next(p);
        if (p_ident(p)) {
            sql_tok_ident(&p->tok, b, sizeof(b));
            p_next(p);
        }
    }
    const struct sql_table_rule *r = table_lookup(p, b[0] ? a : "", b[0] ? b : a);
    if (r != NULL && r->cls == SQL_TABLE_UNIT) {
        if (ls->unit == NULL)
            ls->unit = r;
        if (depth > 0)
            ls->nested_unit = true;
    } else if (r != NULL && r->cls == SQL_TABLE_CENTER && ls->center == NULL) {
        ls->center = r;
    }
}

/*
 * One pass over the whole statement from start: locking clauses at any
 * depth, and the tables of every FROM / JOIN list at any depth (UNION
 * branches, subqueries, derived tables, CTE bodies, parenthesized joins).
 * Per depth: are the tokens a table list, and may a table name come next?
 * A `(` where a table may come opens a list (`FROM (t1 JOIN t2)`); a SELECT
 * in it ends that list and its own FROM starts another. The lexer has
 * already hidden strings, quoted names and comments.
 */
static void p_lock_scan(struct parser *p, const struct sql_lexer *start,
                        struct lock_scan *ls)
{
    bool list[LOCK_DEPTH_MAX + 1] = { false };      /* [MAX]: scratch slot */
    bool expect[LOCK_DEPTH_MAX + 1] = { false };
    int depth = 0;

    memset(ls, 0, sizeof(*ls));
    p->lx = *start;
    p_next(p);
    while (!p_end(p)) {
        int d = depth < LOCK_DEPTH_MAX ? depth : LOCK_DEPTH_MAX;
        if (p_punct(p, '(')) {
            bool opens = list[d] && expect[d];
            expect[d] = false;
            depth++;
            d = depth < LOCK_DEPTH_MAX ? depth : LOCK_DEPTH_MAX;
            list[d] = expect[d] = opens;
        } else if (p_punct(p, ')')) {
            if (depth > 0)
                depth--;
        } else if (p_is(p, "FOR") || p_is(p, "LOCK")) {
            if (p_lock_clause(p)) {
                if (depth == 0)
                    ls->top_lock = true;
                else
                    ls->nested_lock = true;
                list[d] = false;
            }
            continue;
        } else if (p_is(p, "FROM")) {
            list[d] = expect[d] = true;
        } else if (list[d] && (p_punct(p, ',') || p_is(p, "JOIN") ||
                               p_is(p, "STRAIGHT_JOIN"))) {
            expect[d] = true;
        } else if (word_in(&p->tok, clause_end)) {
            list[d] = false;
            if (depth == 0 && (p_is(p, "UNION") || p_is(p, "EXCEPT") ||
                               p_is(p, "INTERSECT")))
                ls->top_set_op = true;
        } else if (p_ident(p) && (d == LOCK_DEPTH_MAX || (list[d] && expect[d]))) {
            expect[d] = false;
            p_scan_table(p, ls, depth);
            continue;
        }
        p_next(p);
    }
}

/*
 * The simple locking read: one SELECT block whose locking clause and unit
 * tables are all at depth 0. Its keys come from the WHERE clause as for
 * UPDATE / DELETE.
 */
static void p_select_keys(struct parser *p)
{
    bool where = false;
    int depth = 0;

    p->lx = p->main_lx;
    p->tok = p->main_tok;
    p_next(p);
    while (!p_end(p)) {
        if (p_punct(p, '(')) {
            depth++;
        } else if (p_punct(p, ')')) {
            depth--;
        } else if (depth == 0 && p_is(p, "FROM") && p->nrefs == 0) {
            p_next(p);
            p_table_refs(p);
            continue;
        } else if (depth == 0 && p_is(p, "WHERE") && p->nrefs > 0) {
            p_next(p);
            p_where(p);
            where = true;
            continue;
        }
        p_next(p);
    }
    if (!where)
        p->st->key_unknown = true;
    refs_written(p);
}

/*
 * A FOR / LOCK word was lexed: is there a locking clause anywhere? Then the
 * statement writes every table it names in a FROM / JOIN list. Keys: the
 * simple form's, or unknown (a hint still gives one). In INSERT / REPLACE /
 * UPDATE / DELETE the form's own keys stay, but a unit table named inside
 * parentheses, or one the form itself does not write, makes them unknown.
 * start is the lexer at the statement's beginning; the lexer is left where
 * it was (at the statement's end).
 */
static void p_locking(struct parser *p, const struct sql_lexer *start)
{
    struct sql_stmt *st = p->st;
    struct sql_lexer end_lx = p->lx;
    struct sql_tok end_tok = p->tok;
    bool had_unit = st->unit_table;
    struct lock_scan ls;

    p_lock_scan(p, start, &ls);
    if (ls.top_lock || ls.nested_lock) {
        st->is_write = true;
        if (st->verb != SQL_VERB_SELECT) {
            if (ls.nested_unit || (ls.unit != NULL && !had_unit))
                st->key_unknown = true;
        } else if (p->select_first && ls.top_lock && !ls.top_set_op && !ls.nested_unit) {
            p_select_keys(p);
        } else {
            st->key_unknown = true;
        }
        rule_written(st, ls.unit);
        rule_written(st, ls.center);
    }
    p->lx = end_lx;
    p->tok = end_tok;
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
    if (p_ident(p)) {
        p_table_ref(p);
        refs_written(p);
    }
}

/*
 * SQL-level dynamic statements. `EXECUTE IMMEDIATE 'text'` runs the text
 * now: it is classified as if sent directly (a placeholder's value, given by
 * USING, is unknown). `PREPARE s FROM 'text'` runs later, under rules that
 * may have changed by then, so a write in it is refused unless it touches
 * no classified table. Text from a variable cannot be seen: a write to
 * unknown tables is assumed.
 */
static void p_dynamic(struct parser *p, bool immediate)
{
    struct sql_stmt *st = p->st, inner;
    size_t used;

    if (p->tok.type != SQL_TOK_STRING || p->tok.escaped) {
        st->is_write = true;
        st->unit_table = true;
        st->key_unknown = true;
        snprintf(st->table, sizeof(st->table), "(dynamic SQL)");
        snprintf(st->column, sizeof(st->column), "(unknown)");
        return;
    }
    sql_stmt_init(&inner);
    if (sql_classify_mode(p->tok.s, p->tok.n, p->mode, p->tables, p->cur_db, &inner,
                          &used) != 0)
        p->nomem = 1;
    if (inner.is_write) {
        st->is_write = true;
        st->unit_table = inner.unit_table;
        st->center_table = inner.center_table;
        memcpy(st->table, inner.table, sizeof(st->table));
        memcpy(st->column, inner.column, sizeof(st->column));
        if (immediate) {
            for (size_t i = 0; i < inner.nkeys; i++)
                add_key(p, inner.keys[i]);
            st->key_unknown = inner.key_unknown || inner.nkey_params > 0;
            if (inner.has_hint && !p->lx.nhints) {
                p->lx.nhints = 1;
                p->lx.hint = inner.hint;
            }
            p->lx.hint_conflict |= inner.hint_conflict;
        } else {
            st->key_unknown = true;
            st->deferred = true;
        }
    }
    if (used < p->tok.n)                /* several statements in one text */
        st->key_unknown = st->key_unknown || st->is_write;
    sql_stmt_deinit(&inner);
}

/* Forms that run a query, so may lock rows (SET @x = (SELECT ...), DO ...). */
static const char *const lock_forms[] = {
    "SELECT", "INSERT", "REPLACE", "UPDATE", "DELETE", "SET", "DO", NULL,
};

/* The statement form by its first word(s). */
static void p_statement(struct parser *p)
{
    struct sql_stmt *st = p->st;

    p_next(p);
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
        st->verb = SQL_VERB_SELECT;     /* a read until p_locking says not */
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
    sql_lexer_init(&p.lx, sql, len, (mode & SQL_MODE_NO_BACKSLASH_ESCAPES) != 0);
    p.mode = mode;
    p.tables = tables;
    p.cur_db = cur_db;
    p.st = st;
    start = p.lx;
    p_statement(&p);
    while (!p_end(&p))                  /* the rest of this statement */
        p_next(&p);
    if (p.lock_word && p.lock_scan)
        p_locking(&p, &start);
    st->has_hint = p.lx.nhints > 0;
    st->hint = p.lx.hint;
    st->hint_conflict = p.lx.hint_conflict || p.lx.hint_bad;
    st->nparams = p.lx.nparams;
    st->malformed = p.lx.malformed;
    if (st->malformed && st->is_write)
        st->key_unknown = true;
    *consumed = (size_t)(p.lx.p - sql);
    return p.nomem ? -1 : 0;
}
