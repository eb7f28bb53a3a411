/*
 * sql_parser: table names and table reference lists for the classifier's
 * passes (see sql_parser.h): which configured rule a name resolves to,
 * `t [AS a], u JOIN v ON ...` lists with parenthesized references at any
 * nesting into p->refs (a part it cannot follow makes a unit-table write
 * without a known key), and which tables a statement writes (the first
 * unit table named, else the first center table, is the one sql_decide's
 * messages name).
 */
#include "proxy/sql_parser.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Words that end a table reference list or a WHERE clause. */
const char *const sql_parser_clause_end[] = {
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
    return p_end(p) || word_in(&p->tok, sql_parser_clause_end);
}

/* Skip a parenthesized group; the current token is its `(`. */
void sql_parser_skip_group(struct parser *p)
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

const struct sql_table_rule *sql_parser_lookup_table(const struct parser *p,
                                                     const char *schema,
                                                     const char *name)
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
void sql_parser_mark_written(struct sql_stmt *st, const struct sql_table_rule *r)
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
 * `[schema.]name` at the current token, consumed: its parts into a and b
 * (b "" when no schema was given: then a is the name). With star, a
 * `name.*` (DELETE's target list) is consumed too.
 */
static void read_name_parts(struct parser *p, char a[SQL_NAME_MAX], char b[SQL_NAME_MAX],
                            bool star)
{
    b[0] = '\0';
    if (p_punct(p, '.'))
        p_next(p);                  /* `.name`: the current schema's name */
    sql_tok_ident(&p->tok, a, SQL_NAME_MAX);
    p_next(p);
    if (!p_punct(p, '.'))
        return;
    p_next(p);
    if (p_ident(p)) {
        sql_tok_ident(&p->tok, b, SQL_NAME_MAX);
        p_next(p);
    } else if (star && p_punct(p, '*')) {
        p_next(p);
    }
}

const struct sql_table_rule *sql_parser_read_name(struct parser *p, char *schema,
                                                  char *name)
{
    char a[SQL_NAME_MAX], b[SQL_NAME_MAX];

    read_name_parts(p, a, b, false);
    if (schema)
        snprintf(schema, SQL_NAME_MAX, "%s", b[0] ? a : "");
    if (name)
        snprintf(name, SQL_NAME_MAX, "%s", b[0] ? b : a);
    return sql_parser_lookup_table(p, b[0] ? a : "", b[0] ? b : a);
}

/*
 * Parse `[schema.]name [[AS] alias]` at the current token into a new ref.
 * Only write statements collect refs, so a table past SQL_TABLE_REFS_MAX is
 * marked written at once: its key cannot be followed, but it is checked.
 */
void sql_parser_read_table_ref(struct parser *p)
{
    char a[SQL_NAME_MAX], b[SQL_NAME_MAX];
    struct table_ref *ref = p->nrefs < SQL_TABLE_REFS_MAX ? &p->refs[p->nrefs] : NULL;

    read_name_parts(p, a, b, true);
    const struct sql_table_rule *rule =
        sql_parser_lookup_table(p, b[0] ? a : "", b[0] ? b : a);
    if (ref == NULL) {
        p->st->key_unknown = true;  /* too many tables to follow */
        sql_parser_mark_written(p->st, rule);
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
 * A part of a table reference list the reader does not follow (`((SELECT
 * ...) UNION (SELECT ...)) AS d`, a clause word inside parentheses): the
 * rest of the group, up to and including its `)`, is skipped, every name in
 * it that resolves to a configured table is marked written, and the
 * statement counts as a unit-table write without a known key, never as one
 * that writes no unit table. The current token is inside the group.
 */
static void refs_not_understood(struct parser *p)
{
    struct sql_stmt *st = p->st;
    int depth = 1;

    st->key_unknown = true;
    if (!st->unit_table) {
        st->unit_table = true;
        snprintf(st->table, sizeof(st->table), "(parenthesized table reference)");
        snprintf(st->column, sizeof(st->column), "(unknown)");
    }
    while (depth > 0 && !p_end(p)) {
        if (p_ident(p)) {
            sql_parser_mark_written(st, sql_parser_read_name(p, NULL, NULL));
            continue;
        }
        if (p_punct(p, '('))
            depth++;
        else if (p_punct(p, ')'))
            depth--;
        p_next(p);
    }
}

#define REFS_DEPTH_MAX 32   /* deeper parentheses are not followed */

static bool read_refs(struct parser *p, int depth);

/*
 * A `(` where a table reference may come: a derived table `(SELECT ...)`
 * (`(WITH ...`, `(VALUES ...`, `(TABLE t)`) is skipped, it is only read;
 * else the group is a parenthesized reference list, `(t)`, `((t a))`,
 * `(t1, t2)`, `(t1 JOIN t2 ON ...)`, read into p->refs at any nesting.
 */
static void read_paren_ref(struct parser *p, int depth)
{
    static const char *const derived[] = { "SELECT", "WITH", "VALUES", "TABLE", NULL };
    struct sql_lexer saved_lx = p->lx;
    struct sql_tok saved_tok = p->tok;

    p_next(p);
    if (word_in(&p->tok, derived)) {
        p->lx = saved_lx;
        p->tok = saved_tok;
        sql_parser_skip_group(p);
        return;
    }
    if (depth >= REFS_DEPTH_MAX)
        refs_not_understood(p);
    else if (read_refs(p, depth + 1))
        p_next(p);      /* its `)` */
}

/*
 * A table reference list `t [AS a], u JOIN v ON ... | USING (...), ...`
 * with parenthesized references at any nesting. At the top level (depth
 * 0) it ends at a clause word, or at USING not following a JOIN
 * (`DELETE FROM t USING refs`); in a group, at its `)` (not consumed:
 * returns true), and a clause word or the text's end there is not
 * understood (refs_not_understood, which skips the group: returns false).
 * Index hints, ON conditions and subqueries in them are skipped.
 */
static bool read_refs(struct parser *p, int depth)
{
    bool group = depth > 0, expect = true, joined = false;

    while (!p_end(p)) {
        if (group && p_punct(p, ')'))
            return true;
        if (word_in(&p->tok, sql_parser_clause_end) || (p_is(p, "USING") && !joined))
            break;
        if (p_punct(p, '(')) {
            if (expect)
                read_paren_ref(p, depth);
            else
                sql_parser_skip_group(p);
            expect = false;
        } else if (expect && sql_parser_at_name(p)) {
            sql_parser_read_table_ref(p);
            expect = false;
        } else if (p_punct(p, ',')) {
            expect = true;
            joined = false;
            p_next(p);
        } else if (p_is(p, "JOIN") || p_is(p, "STRAIGHT_JOIN")) {
            expect = true;
            joined = true;
            p_next(p);
        } else {
            p_next(p);  /* ON / USING conditions, index hints, LATERAL... */
        }
    }
    if (group)
        refs_not_understood(p);
    return !group;
}

/*
 * Table references up to a clause word (or a USING that ends a DELETE's
 * target list), into p->refs.
 */
void sql_parser_read_table_refs(struct parser *p)
{
    (void)read_refs(p, 0);
}

/*
 * A WHERE key term names one table reference: with two unit-table refs from
 * `from` on (`orders a, orders b ... WHERE b.buyer_id = 5` writes every row
 * of a), no key bounds all the rows written.
 */
void sql_parser_check_unit_refs(struct parser *p, size_t from)
{
    size_t units = 0;

    for (size_t i = from; i < p->nrefs; i++)
        if (p->refs[i].rule && p->refs[i].rule->cls == SQL_TABLE_UNIT)
            units++;
    if (units > 1)
        p->st->key_unknown = true;
}

/* Mark every table reference as written. */
size_t sql_parser_read_dotted(struct parser *p, char part[3][SQL_NAME_MAX])
{
    size_t n = 0;

    while (n < 3 && p_ident(p)) {
        sql_tok_ident(&p->tok, part[n++], SQL_NAME_MAX);
        p_next(p);
        if (!p_punct(p, '.'))
            break;
        p_next(p);
    }
    return n;
}

void sql_parser_mark_refs_written(struct parser *p)
{
    for (size_t i = 0; i < p->nrefs; i++)
        sql_parser_mark_written(p->st, p->refs[i].rule);
}
