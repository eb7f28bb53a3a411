/*
 * sql_lock: the locking-read pass (see sql_lock.h). It runs only when the
 * first pass lexed a FOR or LOCK word in a form that may lock rows, so a
 * plain read never pays for it.
 *
 *   statement start --p_lock_scan--> struct lock_scan: locking clauses at
 *        |                           depth 0 / nested, set operations,
 *        |                           unit / center tables of every FROM /
 *        |                           JOIN list at any depth
 *        v
 *   sql_lock_classify_stmt: a locking clause anywhere -> a write to those
 *        tables. Keys: a SELECT's from p_select_keys in the simple form (one
 *        SELECT block, its own locking clause, unit tables only in its own
 *        FROM), else unknown (a hint still gives one); INSERT / REPLACE /
 *        UPDATE / DELETE keep their own unless a unit table is named
 *        inside parentheses, or named at all when the form writes none
 */
#include "proxy/sql_lock.h"

#include <string.h>

#include "proxy/sql_keys.h"

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
    const struct sql_table_rule *r = sql_parser_read_name(p, NULL, NULL);

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
        } else if (word_in(&p->tok, sql_parser_clause_end)) {
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
            sql_parser_read_table_refs(p);
            continue;
        } else if (depth == 0 && p_is(p, "WHERE") && p->nrefs > 0) {
            p_next(p);
            sql_keys_read_where(p);
            where = true;
            continue;
        }
        p_next(p);
    }
    if (!where)
        p->st->key_unknown = true;
    sql_parser_mark_refs_written(p);
    sql_parser_check_unit_refs(p, 0);
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
void sql_lock_classify_stmt(struct parser *p, const struct sql_lexer *start)
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
        sql_parser_mark_written(st, ls.unit);
        sql_parser_mark_written(st, ls.center);
    }
    p->lx = end_lx;
    p->tok = end_tok;
}
