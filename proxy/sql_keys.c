/*
 * sql_keys: sharding keys from the statement text (see sql_keys.h). A key
 * is taken only where it bounds every row the statement touches:
 *
 *   WHERE        `keycol = v`, `keycol <=> v` or `keycol IN (v, ...)` as a
 *                top-level AND term (an OR / XOR at the top level, or no
 *                such term, makes the keys unknown)
 *   SET a = v    an assignment to the key column moves the row: v is a key
 *                too (`keycol = keycol` / `= VALUES(keycol)` keeps it)
 *   VALUES rows  the value at the key column's position in every row
 *
 * A value is one token: a number or digits-only string (a key), a `?`
 * (a placeholder whose value comes at execution), or anything else (key
 * unknown).
 *
 * Upserts: REPLACE, and INSERT with ON DUPLICATE KEY UPDATE (after VALUES
 * rows, found by a look ahead, or inside an INSERT ... SET list), into a
 * unit table set st->upsert and st->upsert_table: the row they replace or
 * update is found by any unique key, so it may be another buyer's unless
 * the configuration says every unique key of the table holds the sharding
 * column (sql_decide's policy). An ON DUPLICATE KEY UPDATE assignment of
 * the sharding column to anything but a literal, a `?` or the row's own
 * key sets upsert_move_unknown.
 */
#include "proxy/sql_keys.h"

#include <string.h>
#include <strings.h>

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

/*
 * Is the column reference at the current token (`col`, `t.col`, `s.t.col`)
 * the sharding column of a unit table among the refs? Consumes it.
 */
/*
 * The table ref a column qualifier names, as the server resolves it: an
 * alias first; a table's own name only when it has no alias (an aliased
 * table is known by its alias alone: `logs AS orders` makes `orders.col`
 * a column of logs). NULL if none.
 */
static const struct table_ref *keys_qualified_ref(const struct parser *p, const char *qual)
{
    for (size_t i = 0; i < p->nrefs; i++)
        if (p->refs[i].alias[0] && strcasecmp(qual, p->refs[i].alias) == 0)
            return &p->refs[i];
    for (size_t i = 0; i < p->nrefs; i++)
        if (!p->refs[i].alias[0] && strcasecmp(qual, p->refs[i].name) == 0)
            return &p->refs[i];
    return NULL;
}

bool sql_keys_match_column(struct parser *p)
{
    char part[3][SQL_NAME_MAX];
    size_t n = sql_parser_read_dotted(p, part);

    if (n == 0)
        return false;
    const char *col = part[n - 1], *qual = n >= 2 ? part[n - 2] : NULL;
    if (qual != NULL) {
        const struct table_ref *ref = keys_qualified_ref(p, qual);
        return ref != NULL && ref->rule != NULL && ref->rule->cls == SQL_TABLE_UNIT &&
               strcasecmp(ref->rule->column, col) == 0;
    }
    for (size_t i = 0; i < p->nrefs; i++) {
        const struct table_ref *ref = &p->refs[i];
        if (ref->rule != NULL && ref->rule->cls == SQL_TABLE_UNIT &&
            strcasecmp(ref->rule->column, col) == 0)
            return true;
    }
    return false;
}

/* The statement upserts into its target (the first table ref) if a unit table. */
static void keys_mark_upsert(struct parser *p)
{
    const struct sql_table_rule *r = p->nrefs ? p->refs[0].rule : NULL;

    if (r == NULL || r->cls != SQL_TABLE_UNIT)
        return;
    p->st->upsert = true;
    p->st->upsert_table = r;
}

/* REPLACE or INSERT: the forms ON DUPLICATE KEY UPDATE belongs to. */
static bool keys_insert_form(const struct parser *p)
{
    return p->st->verb == SQL_VERB_INSERT || p->st->verb == SQL_VERB_REPLACE;
}

/* At `ON`: ON DUPLICATE KEY UPDATE? Consumes the four words, or rewinds. */
static bool p_odku(struct parser *p)
{
    static const char *const words[] = { "ON", "DUPLICATE", "KEY", "UPDATE" };
    struct sql_lexer saved_lx = p->lx;
    struct sql_tok saved_tok = p->tok;

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (!p_is(p, words[i])) {
            p->lx = saved_lx;
            p->tok = saved_tok;
            return false;
        }
        p_next(p);
    }
    return true;
}

/*
 * After the VALUES rows: does an ON DUPLICATE KEY UPDATE follow? Looks at
 * the rest of the statement on a copy of the lexer (nothing consumed). Its
 * assignments are read by the caller only right here or after `AS alias`;
 * anywhere else (MySQL's `AS alias (cols)`) they are not, so a move of the
 * key cannot be ruled out.
 */
static void keys_peek_odku(struct parser *p)
{
    struct sql_lexer lx = p->lx;
    struct sql_tok t = p->tok;
    size_t pos = 0, seen = 0;
    bool read_by_caller = false;
    static const char *const words[] = { "ON", "DUPLICATE", "KEY", "UPDATE" };

    for (; t.type != SQL_TOK_END; sql_lexer_next(&lx, &t), pos++) {
        seen = sql_tok_is(&t, words[seen]) ? seen + 1 : sql_tok_is(&t, "ON") ? 1 : 0;
        if (seen == 4) {
            read_by_caller = pos == 3 || (pos == 5 && sql_tok_is(&p->tok, "AS"));
            keys_mark_upsert(p);
            if (!read_by_caller && p->st->upsert)
                p->st->upsert_move_unknown = true;
            return;
        }
    }
}

void sql_keys_peek_upsert(struct parser *p)
{
    keys_peek_odku(p);
    if (p->st->upsert)
        p->st->upsert_move_unknown = true;
}

static bool p_punct2(struct parser *p, const char *op)
{
    return p->tok.type == SQL_TOK_PUNCT && p->tok.n == strlen(op) &&
           memcmp(p->tok.s, op, p->tok.n) == 0;
}

/* After a key term: the term must end here, or the key does not bound it. */
static bool where_term_end(struct parser *p)
{
    return p_end(p) || p_is(p, "AND") || p_punct2(p, "&&") || p_punct(p, ')') ||
           word_in(&p->tok, sql_parser_clause_end);
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

    if (!sql_keys_match_column(p))
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
void sql_keys_read_where(struct parser *p)
{
    struct sql_stmt *st = p->st;
    size_t keys_before = st->nkeys, params_before = st->nkey_params;
    bool found = false, or_seen = false;
    bool term_start = true;
    int depth = 0;

    while (!p_end(p) && !(depth == 0 && word_in(&p->tok, sql_parser_clause_end))) {
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
            if (p_ident(p) && sql_keys_match_column(p) && p_punct(p, ')')) {
                p_next(p);
                if (p_assignment_end(p))
                    return true;
            }
        }
    } else if (p_ident(p) && sql_keys_match_column(p) && p_assignment_end(p)) {
        return true;
    }
    p->lx = saved_lx;
    p->tok = saved_tok;
    return false;
}

/*
 * SET-style assignments `a = v, b = w` up to a clause word. In INSERT ...
 * SET, an ON DUPLICATE KEY UPDATE ends a value and its assignments follow.
 */
void sql_keys_read_assignments(struct parser *p)
{
    bool insert = keys_insert_form(p);

    if (p->st->verb == SQL_VERB_REPLACE)
        keys_mark_upsert(p);
    while (!p_end(p) && !p_is(p, "WHERE") && !p_is(p, "ORDER") &&
           !p_is(p, "LIMIT") && !p_is(p, "RETURNING")) {
        bool key = p_ident(p) && sql_keys_match_column(p);
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
        bool odku = false;
        while (!p_end(p) && !(depth == 0 && p_assignment_end(p))) {
            if (insert && depth == 0 && p_is(p, "ON") && p_odku(p)) {
                odku = true;
                break;
            }
            if (p_punct(p, '('))
                depth++;
            else if (p_punct(p, ')'))
                depth--;
            ntok++;
            p_next(p);
        }
        if (key) {
            uint64_t lit;
            bool literal = ntok == 1 && (v.type == SQL_TOK_PARAM || sql_tok_uint(&v, &lit));
            if (ntok == 1)
                add_key_token(p, &v);
            else
                p->st->key_unknown = true;
            if (p->st->upsert && !literal)
                p->st->upsert_move_unknown = true;   /* moves the row to an unknown buyer */
            else if (!literal && !insert)
                p->st->key_move_unknown = true;      /* UPDATE ... SET key = expression */
        }
        if (odku) {
            keys_mark_upsert(p);
            continue;
        }
        if (p_punct(p, ','))
            p_next(p);
    }
}

/* VALUES rows: the value at column position keyidx of each row. */
void sql_keys_read_values(struct parser *p, int keyidx)
{
    if (p->st->verb == SQL_VERB_REPLACE)
        keys_mark_upsert(p);
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
    if (keys_insert_form(p))
        keys_peek_odku(p);
}
