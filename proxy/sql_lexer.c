/*
 * sql_lexer: tokens of MySQL/MariaDB SQL for the statement classifier. See
 * sql_lexer.h. Quoting follows the server's defaults: backslash escapes and
 * doubled quotes in strings, doubled backticks in identifiers, "..." is a
 * string (ANSI_QUOTES off: the proxy refuses to turn it on, sql_set.c).
 */
#include "proxy/sql_lexer.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

void sql_lexer_init(struct sql_lexer *lx, const char *sql, size_t len, unsigned mode)
{
    memset(lx, 0, sizeof(*lx));
    lx->start = sql;
    lx->p = sql;
    lx->end = sql + len;
    lx->no_backslash_escapes = (mode & SQL_MODE_NO_BACKSLASH_ESCAPES) != 0;
    lx->mode = mode;
}

static bool is_ident_char(unsigned char c)
{
    return isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

/*
 * Without a known character set: is p latin1's no-break space 0xA0, rather
 * than the last byte of a UTF-8 character such as "à" (C3 A0)? Only a byte
 * that UTF-8 cannot explain counts.
 */
static bool lexer_nbsp_guess(const struct sql_lexer *lx, const char *p)
{
    size_t back = 1, before = (size_t)(p - lx->start);

    while (back <= 3 && back <= before && ((unsigned char)*(p - back) & 0xC0) == 0x80)
        back++;
    if (back > before)
        return true;
    unsigned char lead = (unsigned char)*(p - back);
    size_t len = lead >= 0xF0 && lead <= 0xF4 ? 4 : lead >= 0xE0 && lead < 0xF0 ? 3 :
                 lead >= 0xC2 && lead < 0xE0 ? 2 : 1;
    return back >= len;
}

/*
 * Is the byte at p (>= 0x80) whitespace for the server? Only 0xA0 and 0xFF
 * ever are (sql_charset.h); a byte the connection may read either way makes
 * the statement ambiguous.
 */
static bool lexer_nbsp(struct sql_lexer *lx, const char *p)
{
    unsigned char c = (unsigned char)*p;
    unsigned sure, maybe;

    if (c != 0xA0 && c != 0xFF)
        return false;
    if (!(lx->mode & SQL_MODE_CHARSET_KNOWN))
        return c == 0xA0 && lexer_nbsp_guess(lx, p);
    sure = c == 0xA0 ? SQL_MODE_SPACE_A0 : SQL_MODE_SPACE_FF;
    maybe = c == 0xA0 ? SQL_MODE_MAYBE_A0 : SQL_MODE_MAYBE_FF;
    if (lx->mode & sure)
        return true;
    if (lx->mode & maybe) {
        lx->ambiguous = true;
        lx->ambiguous_space = true;
        return true;
    }
    return false;
}

static bool lexer_space_at(struct sql_lexer *lx, const char *p)
{
    return isspace((unsigned char)*p) || lexer_nbsp(lx, p);
}

static bool lexer_ident_at(struct sql_lexer *lx, const char *p)
{
    return is_ident_char((unsigned char)*p) && !lexer_nbsp(lx, p);
}

/* A comment body: if it is `sharding_key = N`, record the hint. */
static void lexer_scan_hint(struct sql_lexer *lx, const char *s, const char *e)
{
    static const char key[] = "sharding_key";
    const size_t klen = sizeof(key) - 1;

    while (s < e && isspace((unsigned char)*s))
        s++;
    if ((size_t)(e - s) < klen || strncasecmp(s, key, klen) != 0)
        return;
    s += klen;
    while (s < e && isspace((unsigned char)*s))
        s++;
    if (s == e || *s != '=')
        return;
    s++;
    while (s < e && isspace((unsigned char)*s))
        s++;
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    uint64_t v = 0;
    bool ok = s < e;
    for (const char *q = s; q < e && ok; q++) {
        if (*q < '0' || *q > '9' || v > (UINT64_MAX - (uint64_t)(*q - '0')) / 10)
            ok = false;
        else
            v = v * 10 + (uint64_t)(*q - '0');
    }
    if (!ok) {
        lx->hint_bad = true;
        return;
    }
    if (lx->nhints++ == 0)
        lx->hint = v;
    else if (lx->hint != v)
        lx->hint_conflict = true;
}

/* Every MariaDB the proxy fronts runs a 6-digit version up to this (10.0). */
#define LEXER_VERSION_SURE 100000ul

/*
 * After `/ *!` or `/ *M!` (mariadb) at p: the version, 6 digits or 5 (fewer
 * are code, not a version), skipped. *skip tells whether the server skips
 * the content as a comment (see sql_lexer.h for the rules); without the
 * server's version a version not sure to run makes the statement ambiguous
 * and is read as code. Returns the first byte of the content.
 */
static const char *lexer_version(struct sql_lexer *lx, const char *p, const char *e,
                                 bool mariadb, bool *skip)
{
    unsigned long v = 0, server = SQL_MODE_VERSION_OF(lx->mode);
    size_t n = 0;

    *skip = false;
    while (n < 6 && n < (size_t)(e - p) && isdigit((unsigned char)p[n]))
        v = v * 10 + (unsigned long)(p[n++] - '0');
    if (n < 5)
        return p;
    if (server < LEXER_VERSION_SURE) {
        if (n == 5 ? v >= 50700 : v > LEXER_VERSION_SURE)
            lx->ambiguous = true;
    } else {
        *skip = n == 6 ? v > server : !mariadb && v >= 50700;
    }
    return p + n;
}

/*
 * The content of a versioned comment the server skips, from p: up to its
 * `* /`, past one nested `/ * ... * /` as MariaDB's consume_comment allows.
 * Returns the byte after it (e, malformed, if it does not end).
 */
static const char *lexer_skip_versioned(struct sql_lexer *lx, const char *p, const char *e)
{
    while (e - p >= 2) {
        if (p[0] == '*' && p[1] == '/')
            return p + 2;
        if (p[0] == '/' && p[1] == '*') {
            const char *q = p + 2;
            while (e - q >= 2 && !(q[0] == '*' && q[1] == '/'))
                q++;
            if (e - q < 2)
                break;
            p = q + 2;
            continue;
        }
        p++;
    }
    lx->malformed = true;
    return e;
}

/* Skip whitespace and comments. */
static void lexer_skip(struct sql_lexer *lx)
{
    const char *p = lx->p, *e = lx->end;

    while (p < e) {
        unsigned char c = (unsigned char)*p;
        if (lexer_space_at(lx, p)) {
            p++;
        } else if (c == '#' ||
                   (c == '-' && e - p >= 2 && p[1] == '-' &&
                    (e - p == 2 || lexer_space_at(lx, p + 2) ||
                     iscntrl((unsigned char)p[2])))) {
            while (p < e && *p != '\n')
                p++;
        } else if (c == '/' && e - p >= 2 && p[1] == '*') {
            if (e - p >= 3 && (p[2] == '!' || (p[2] == 'M' && e - p >= 4 && p[3] == '!'))) {
                bool skip, mariadb = p[2] == 'M';
                p = lexer_version(lx, p + (mariadb ? 4 : 3), e, mariadb, &skip);
                if (skip) {
                    p = lexer_skip_versioned(lx, p, e);
                    continue;
                }
                if (lx->in_exec_comment)        /* nested: the server's reading is unclear */
                    lx->ambiguous = true;
                lx->in_exec_comment = true;     /* executable comment: code */
                continue;
            }
            const char *close = NULL;
            for (const char *q = p + 2; q + 1 < e; q++) {
                if (q[0] == '*' && q[1] == '/') {
                    close = q;
                    break;
                }
            }
            if (close == NULL) {
                lx->malformed = true;
                p = e;
                break;
            }
            lexer_scan_hint(lx, p + 2, close);
            p = close + 2;
        } else if (c == '*' && lx->in_exec_comment && e - p >= 2 && p[1] == '/') {
            lx->in_exec_comment = false;
            p += 2;
        } else {
            break;
        }
    }
    lx->p = p;
}

/* A quoted run starting at the quote q; sets the token, advances. */
static void lexer_quoted(struct sql_lexer *lx, struct sql_tok *t, char q)
{
    const char *p = lx->p + 1, *e = lx->end;

    t->s = p;
    t->escaped = false;
    while (p < e) {
        if (*p == '\\' && q != '`' && !lx->no_backslash_escapes) {
            t->escaped = true;
            p += 2;
            continue;
        }
        if (*p == q) {
            if (p + 1 < e && p[1] == q) {
                t->escaped = true;
                p += 2;
                continue;
            }
            break;
        }
        p++;
    }
    if (p >= e) {
        lx->malformed = true;
        t->n = (size_t)(e - t->s);
        lx->p = e;
        return;
    }
    t->n = (size_t)(p - t->s);
    lx->p = p + 1;
}

static void lexer_number(struct sql_lexer *lx, struct sql_tok *t)
{
    const char *p = lx->p, *e = lx->end;

    t->type = SQL_TOK_NUMBER;
    t->s = p;
    if (e - p >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'b')) {
        p += 2;
        while (p < e && isxdigit((unsigned char)*p))
            p++;
    } else {
        while (p < e && (isdigit((unsigned char)*p) || *p == '.'))
            p++;
        if (p < e && (*p == 'e' || *p == 'E')) {
            p++;
            if (p < e && (*p == '+' || *p == '-'))
                p++;
            while (p < e && isdigit((unsigned char)*p))
                p++;
        }
    }
    /* 1abc is an identifier in MySQL */
    if (p < e && lexer_ident_at(lx, p)) {
        t->type = SQL_TOK_WORD;
        while (p < e && lexer_ident_at(lx, p))
            p++;
    }
    t->n = (size_t)(p - t->s);
    lx->p = p;
}

static void lexer_punct(struct sql_lexer *lx, struct sql_tok *t)
{
    static const char *const multi[] = {
        "<=>", "<=", ">=", "<>", "!=", "||", "&&", ":=", "<<", ">>", "->>", "->",
    };
    const char *p = lx->p;
    size_t left = (size_t)(lx->end - p);

    t->type = SQL_TOK_PUNCT;
    t->s = p;
    t->n = 1;
    for (size_t i = 0; i < sizeof(multi) / sizeof(multi[0]); i++) {
        size_t n = strlen(multi[i]);
        if (n <= left && memcmp(p, multi[i], n) == 0) {
            t->n = n;
            break;
        }
    }
    lx->p = p + t->n;
}

void sql_lexer_next(struct sql_lexer *lx, struct sql_tok *t)
{
    memset(t, 0, sizeof(*t));
    if (lx->at_end) {
        t->type = SQL_TOK_END;
        return;
    }
    lexer_skip(lx);
    const char *p = lx->p, *e = lx->end;
    if (p >= e) {
        lx->at_end = true;
        t->type = SQL_TOK_END;
        return;
    }
    unsigned char c = (unsigned char)*p;
    if (c == ';') {
        lx->p = p + 1;
        lx->at_end = true;
        t->type = SQL_TOK_END;
        return;
    }
    if (c == '\'' || c == '"') {
        t->type = SQL_TOK_STRING;
        lexer_quoted(lx, t, (char)c);
    } else if (c == '`') {
        t->type = SQL_TOK_QIDENT;
        lexer_quoted(lx, t, '`');
    } else if (isdigit(c) || (c == '.' && e - p >= 2 && isdigit((unsigned char)p[1]))) {
        lexer_number(lx, t);
    } else if (c == '?') {
        t->type = SQL_TOK_PARAM;
        t->s = p;
        t->n = 1;
        t->param = lx->nparams++;
        lx->p = p + 1;
    } else if (c == '@') {
        t->type = SQL_TOK_VAR;
        t->s = p;
        p++;
        if (p < e && *p == '@')
            p++;
        while (p < e && (lexer_ident_at(lx, p) || *p == '.'))
            p++;
        t->n = (size_t)(p - t->s);
        lx->p = p;
    } else if (is_ident_char(c)) {
        t->type = SQL_TOK_WORD;
        t->s = p;
        while (p < e && lexer_ident_at(lx, p))
            p++;
        t->n = (size_t)(p - t->s);
        lx->p = p;
    } else {
        lexer_punct(lx, t);
    }
}

bool sql_tok_is(const struct sql_tok *t, const char *kw)
{
    return t->type == SQL_TOK_WORD && strlen(kw) == t->n &&
           strncasecmp(t->s, kw, t->n) == 0;
}

bool sql_tok_punct(const struct sql_tok *t, char c)
{
    return t->type == SQL_TOK_PUNCT && t->n == 1 && t->s[0] == c;
}

bool sql_tok_uint(const struct sql_tok *t, uint64_t *v)
{
    uint64_t u = 0;

    if ((t->type != SQL_TOK_NUMBER && t->type != SQL_TOK_STRING) || t->n == 0 ||
        t->n > 20 || t->escaped)
        return false;
    for (size_t i = 0; i < t->n; i++) {
        char c = t->s[i];
        if (c < '0' || c > '9' || u > (UINT64_MAX - (uint64_t)(c - '0')) / 10)
            return false;
        u = u * 10 + (uint64_t)(c - '0');
    }
    *v = u;
    return true;
}

void sql_tok_ident(const struct sql_tok *t, char *out, size_t outlen)
{
    size_t o = 0;

    if (outlen == 0)
        return;
    for (size_t i = 0; i < t->n && o + 1 < outlen; i++) {
        out[o++] = t->s[i];
        if (t->type == SQL_TOK_QIDENT && t->s[i] == '`' && i + 1 < t->n && t->s[i + 1] == '`')
            i++;
    }
    out[o] = '\0';
}
