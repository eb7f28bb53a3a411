/*
 * fuzz_sql_metamorphic.c: two spellings of one statement must classify
 * alike (proxy/sql_classify.h). A difference is a potential bypass: a write
 * the proxy reads differently from how MariaDB runs it.
 *
 *   byte 0     bit 0 NO_BACKSLASH_ESCAPES, bit 1 current schema "shop",
 *              bit 2 a latin1 connection (0xA0, the no-break space, is
 *              whitespace to MariaDB's lexer there)
 *   byte 1     k = byte % 32: the next k bytes drive the rewrite choices
 *   the rest   SQL text (skipped when a statement is malformed)
 *
 * The variant is the text re-spelt token by token with the proxy's lexer,
 * statement by statement as the proxy walks a COM_QUERY, in ways MariaDB's
 * lexer treats identically:
 *   - a gap of plain whitespace becomes other whitespace (space, tab, CR,
 *     LF; on latin1 also 0xA0 after an ASCII byte) or comments `/ * x * /`, `/ * * /`, `-- x\n`, `# x\n`;
 *   - a gap holding comments or executable-comment markers is kept as it is
 *     (a hint stays a hint) but may get such separators before or after;
 *   - where two tokens touch, a separator goes between them only where
 *     MariaDB reads the pair alike with one (not a word before a string or
 *     `(`: x'41', _utf8'a', f(x); not around @vars; not between operator
 *     characters; `.` only next to names);
 *   - comments only outside executable comments (no nesting inside
 *     / *! ... * /), and nothing that starts with whitespace or `-` right
 *     after a `-` (`- -1` must not become a `--` comment);
 *   - the case of unquoted words (keywords and names; the classifier
 *     compares names without case) flips, but not of a word that starts
 *     with a digit (0B1 is a name, 0b1 a bit literal); strings, quoted
 *     names, numbers and comments are left alone.
 * Property: both texts give the same statements with the same verb, write,
 * tables, keys, key placeholders, hints and flags (schema and routine names
 * compared without case).
 */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "proxy/sql_classify.h"
#include "proxy/sql_lexer.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/fuzz_sql.h"

#define META_STMTS_MAX 64


/* The rewrite choices: the input's choice bytes, cycled. */
struct choices {
    const uint8_t *v;
    size_t n, next;
};

static unsigned choose(struct choices *c, unsigned range)
{
    unsigned b = c->n ? c->v[c->next++ % c->n] : (unsigned)(c->next++ * 7 + 3);
    return b % range;
}

struct out {
    char *s;
    size_t n;
    bool latin1;        /* a latin1 connection: 0xA0 is whitespace too */
};

static void out_put(struct out *o, const char *s, size_t n)
{
    memcpy(o->s + o->n, s, n);
    o->n += n;
}

static bool out_ends_dash(const struct out *o)
{
    return o->n > 0 && o->s[o->n - 1] == '-';
}

/*
 * A separator: whitespace, or (when comments is set) comments; at most 16
 * bytes. After a `-` only a block comment is safe: false when none could go
 * there (nothing was written).
 */
static bool put_separator(struct out *o, struct choices *c, bool comments)
{
    static const char *const spaces[] = { " ", "\t", "\n", "\r\n", "  \t ", "\xa0", " \xa0" };
    static const char *const notes[] = {
        "/* x */", "/**/", "-- x\n", "#x\n", "--\t\n", "--\xa0x\n", "/*\xa0*/",
    };
    /* 0xA0 right after a byte >= 0x80 could continue a UTF-8 character */
    unsigned kinds = o->latin1 && (o->n == 0 || (unsigned char)o->s[o->n - 1] < 0x80) ? 7 : 5;

    if (out_ends_dash(o)) {
        if (comments)
            out_put(o, "/* x */", 7);
        return comments;
    }
    const char *s = comments && choose(c, 2) ? notes[choose(c, kinds)] : spaces[choose(c, kinds)];
    out_put(o, s, strlen(s));
    return true;
}

static bool is_punct(const struct sql_tok *t, char ch)
{
    return t->type == SQL_TOK_PUNCT && t->n == 1 && t->s[0] == ch;
}

/* May a separator go between two tokens that touch? */
static bool touching_pair_splits(const struct sql_tok *a, const struct sql_tok *b)
{
    if (a->type == SQL_TOK_VAR || b->type == SQL_TOK_VAR)
        return false;
    if (a->type == SQL_TOK_PUNCT && b->type == SQL_TOK_PUNCT)
        return false;
    if (a->type == SQL_TOK_WORD && (b->type == SQL_TOK_STRING || is_punct(b, '(')))
        return false;
    if (is_punct(a, '.'))
        return b->type == SQL_TOK_WORD || b->type == SQL_TOK_QIDENT;
    if (is_punct(b, '.'))
        return a->type == SQL_TOK_WORD || a->type == SQL_TOK_QIDENT;
    return true;
}

/* The token's bytes in the text, quotes included. */
static const char *tok_start(const struct sql_tok *t)
{
    return (t->type == SQL_TOK_STRING || t->type == SQL_TOK_QIDENT) ? t->s - 1 : t->s;
}

static bool all_space(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i]))
            return false;
    return true;
}

/*
 * The gap [g, e) between the previous token prev (NULL at the start) and
 * the next one next (NULL at the end), re-spelt. exec_before / exec_after:
 * inside an executable comment at the gap's ends.
 */
static void put_gap(struct out *o, struct choices *c, const char *g, const char *e,
                    const struct sql_tok *prev, const struct sql_tok *next,
                    bool exec_before, bool exec_after)
{
    size_t n = (size_t)(e - g);

    if (n == 0) {
        if ((prev == NULL || next == NULL || touching_pair_splits(prev, next)) &&
            choose(c, 2))
            put_separator(o, c, !exec_before);
        return;
    }
    if (all_space(g, n)) {
        if (!put_separator(o, c, !exec_before && !exec_after))
            out_put(o, g, n);
        return;
    }
    if (choose(c, 3) == 0)
        put_separator(o, c, !exec_before);
    out_put(o, g, n);
    /*
     * Not right after `/ *!` and its version digits (they stay together), nor
     * after a `--` that ends the text (it is a comment only there).
     */
    if (!isdigit((unsigned char)e[-1]) && e[-1] != '!' && e[-1] != '-' && choose(c, 3) == 0)
        put_separator(o, c, !exec_after);
}

static void put_token(struct out *o, struct choices *c, const struct sql_tok *t,
                      const char *end)
{
    const char *s = tok_start(t);
    size_t at = o->n;

    out_put(o, s, (size_t)(end - s));
    /* not 1abc: 0B1 is a name where 0b1 is a bit literal */
    if (t->type != SQL_TOK_WORD || isdigit((unsigned char)*s) || choose(c, 2) == 0)
        return;
    for (size_t i = at; i < o->n; i++) {
        unsigned char ch = (unsigned char)o->s[i];
        if (ch < 0x80 && isalpha(ch) && choose(c, 2))
            o->s[i] = (char)(isupper(ch) ? tolower(ch) : toupper(ch));
    }
}

/*
 * One statement of sql[0..len) re-spelt into o. Returns the bytes it spans
 * (its `;` included), or 0 if it is malformed (nothing to compare).
 */
static size_t respell_stmt(struct out *o, struct choices *c, const char *sql, size_t len,
                           bool nbe)
{
    struct sql_lexer lx;
    struct sql_tok t, prev;
    const char *gap = sql;
    bool have_prev = false;

    sql_lexer_init(&lx, sql, len, nbe);
    for (;;) {
        bool exec_before = lx.in_exec_comment;
        sql_lexer_next(&lx, &t);
        if (lx.malformed)
            return 0;
        if (t.type == SQL_TOK_END) {
            bool semi = lx.p < lx.end;  /* else the text ended (a last `;` too) */
            const char *gap_end = semi ? lx.p - 1 : lx.p;
            put_gap(o, c, gap, gap_end, have_prev ? &prev : NULL, NULL, exec_before,
                    lx.in_exec_comment);
            if (semi)
                out_put(o, ";", 1);
            return (size_t)(lx.p - sql);
        }
        put_gap(o, c, gap, tok_start(&t), have_prev ? &prev : NULL, &t, exec_before,
                lx.in_exec_comment);
        put_token(o, c, &t, lx.p);
        gap = lx.p;
        prev = t;
        have_prev = true;
    }
}

/* Every statement of sql, classified in order; empty ones are left out. */
static size_t classify_all(const char *sql, size_t len, unsigned mode, const char *db,
                           struct sql_stmt *v, bool *nomem)
{
    size_t off = 0, n = 0;

    while (off < len && n < META_STMTS_MAX) {
        size_t used = 0;
        if (sql_classify_mode(sql + off, len - off, mode, &fuzz_tables, db, &v[n], &used) != 0)
            *nomem = true;
        FUZZ_CHECK(used > 0);
        off += used;
        if (v[n].verb != SQL_VERB_EMPTY || v[n].has_hint || v[n].hint_conflict)
            n++;
    }
    return off < len ? (size_t)-1 : n;
}


/* Print both texts before failing, so a failure can be read. */
static void report(const char *a, size_t an, const char *b, size_t bn, size_t i)
{
    fprintf(stderr, "statement %zu differs\n--- original\n%.*s\n--- variant\n%.*s\n---\n",
            i, (int)an, a, (int)bn, b);
}

static void compare(const char *sql, size_t len, const char *var, size_t vlen,
                    unsigned mode, const char *db)
{
    static struct sql_stmt a[META_STMTS_MAX], b[META_STMTS_MAX];
    bool nomem = false;

    for (size_t i = 0; i < META_STMTS_MAX; i++) {
        sql_stmt_init(&a[i]);
        sql_stmt_init(&b[i]);
    }
    size_t na = classify_all(sql, len, mode, db, a, &nomem);
    size_t nb = classify_all(var, vlen, mode, db, b, &nomem);
    if (!nomem && na != (size_t)-1 && nb != (size_t)-1) {
        if (na != nb)
            report(sql, len, var, vlen, na < nb ? na : nb);
        FUZZ_CHECK(na == nb);
        for (size_t i = 0; i < na; i++) {
            if (!fuzz_stmt_same(&a[i], &b[i], true))
                report(sql, len, var, vlen, i);
            FUZZ_CHECK(fuzz_stmt_same(&a[i], &b[i], true));
        }
    }
    for (size_t i = 0; i < META_STMTS_MAX; i++) {
        sql_stmt_deinit(&a[i]);
        sql_stmt_deinit(&b[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size - 2 < data[1] % 32u)
        return 0;
    unsigned flags = data[0];
    bool nbe = (flags & 1) != 0;
    struct choices c = { data + 2, data[1] % 32u, 0 };
    const char *sql = (const char *)data + 2 + c.n;
    size_t len = size - 2 - c.n, off = 0;
    /* each gap grows by at most two separators of 16 bytes, each token by 0 */
    struct out o = { malloc(len * 33 + 64), 0, (flags & 4) != 0 };

    if (o.s == NULL)
        return 0;
    while (off < len) {
        size_t used = respell_stmt(&o, &c, sql + off, len - off, nbe);
        if (used == 0) {
            free(o.s);
            return 0;
        }
        off += used;
    }
    compare(sql, len, o.s, o.n, nbe ? SQL_MODE_NO_BACKSLASH_ESCAPES : 0,
            (flags & 2) ? "shop" : "");
    free(o.s);
    return 0;
}
