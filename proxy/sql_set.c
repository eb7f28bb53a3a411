/*
 * sql_set: SET statements that change how the server reads what follows.
 *
 *   SET [GLOBAL|SESSION|LOCAL] var {=|:=} value, ...
 *   SET @@[global.|session.|local.]var = value, ...
 *   SET NAMES {cs | DEFAULT} [COLLATE c], SET {CHARACTER SET | CHARSET} cs
 *   SET STATEMENT var = value, ... FOR statement   (the statement is
 *                                                   classified as usual)
 *
 * character_set_client (and NAMES / CHARACTER SET) must name, as one plain
 * literal (word, `name`, 'name' or a collation id), a character set the
 * proxy reads byte by byte (sql_charset.h); DEFAULT is the server's. The
 * statement then reports the new set (sets_charset) so the caller reads
 * the statements after it in that set. sql_mode must be one plain literal
 * without ANSI_QUOTES or a mode that implies it (ANSI, DB2, MAXDB, MSSQL,
 * ORACLE, POSTGRESQL; as a number: bits 0x41f04, measured on 10.11);
 * DEFAULT is the server's global sql_mode, which must not hold ANSI_QUOTES
 * (docs/proxy.md). Anything else is `unsafe` and refused by sql_decide: a
 * variable, an expression, concatenated or escaped strings, an introducer
 * (`_latin1'..'`), an unknown character set. Both apply at any scope: a
 * GLOBAL value is what new sessions (and DEFAULT) get.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "proxy/sql_charset.h"
#include "proxy/sql_parser.h"

#define SET_SQL_MODE_ANSI_BITS 0x41f04ull   /* modes that set ANSI_QUOTES */

/* Record why st is refused (the first reason wins). */
static void set_unsafe(struct sql_stmt *st, enum sql_unsafe kind, const struct sql_tok *v,
                       const char *why)
{
    if (st->unsafe != SQL_UNSAFE_NONE)
        return;
    st->unsafe = kind;
    st->unsafe_why = why;
    if (v == NULL || v->type == SQL_TOK_END)
        snprintf(st->unsafe_value, sizeof(st->unsafe_value), "(none)");
    else
        snprintf(st->unsafe_value, sizeof(st->unsafe_value), "%.*s",
                 (int)(v->n < sizeof(st->unsafe_value) - 1 ? v->n : sizeof(st->unsafe_value) - 1),
                 v->s);
}

/* Is the value of an assignment over: `,`, the end, or SET STATEMENT's FOR? */
static bool set_value_end(struct parser *p, bool stmt_form)
{
    return p_end(p) || p_punct(p, ',') || (stmt_form && p_is(p, "FOR"));
}

/* Skip the rest of a value (any depth); returns the tokens skipped. */
static int set_skip_value(struct parser *p, bool stmt_form)
{
    int n = 0, depth = 0;

    while (!p_end(p) && (depth > 0 || !set_value_end(p, stmt_form))) {
        if (p_punct(p, '('))
            depth++;
        else if (p_punct(p, ')'))
            depth--;
        p_next(p);
        n++;
    }
    return n;
}

/* A plain literal token (no escapes: 'AN\SI' is ANSI). */
static bool set_plain(const struct sql_tok *t)
{
    return (t->type == SQL_TOK_WORD || t->type == SQL_TOK_QIDENT ||
            t->type == SQL_TOK_STRING || t->type == SQL_TOK_NUMBER) && !t->escaped;
}

/* The character set value v (one token) of a client character set change. */
static void set_charset(struct parser *p, const struct sql_tok *v, int ntok)
{
    static const char not_literal[] =
        "the client character set must be a plain literal the proxy can read "
        "(a name, 'name' or a collation number), not a variable or an expression";
    struct sql_stmt *st = p->st;
    const struct sql_charset *cs = NULL;
    uint64_t id;

    if (ntok != 1 || !set_plain(v)) {
        set_unsafe(st, SQL_UNSAFE_CHARSET, v, not_literal);
        return;
    }
    if (sql_tok_is(v, "DEFAULT")) {
        st->sets_charset = true;
        st->charset = NULL;
        return;
    }
    if (v->type == SQL_TOK_NUMBER)
        cs = sql_tok_uint(v, &id) && id <= 0xffff ? sql_charset_by_collation((unsigned)id) : NULL;
    else
        cs = sql_charset_by_name(v->s, v->n);
    if (cs == NULL) {
        set_unsafe(st, SQL_UNSAFE_CHARSET, v, "not a client character set the proxy knows");
    } else if (cs->unsafe) {
        set_unsafe(st, SQL_UNSAFE_CHARSET, v,
                   "its two-byte characters may end in a `\\` or `'` byte (as do big5, "
                   "cp932, gbk and sjis), so the proxy would read the statements after "
                   "it differently from the server; use utf8mb4");
    } else {
        st->sets_charset = true;
        st->charset = cs;
    }
}

/* The value v (one token of ntok) of an sql_mode assignment. */
static void set_sql_mode(struct parser *p, const struct sql_tok *v, int ntok)
{
    static const char *const ansi[] = {
        "ANSI", "DB2", "MAXDB", "MSSQL", "ORACLE", "POSTGRESQL", NULL,
    };
    struct sql_stmt *st = p->st;
    char up[256];
    uint64_t bits;

    if (ntok != 1 || !set_plain(v) || v->n >= sizeof(up)) {
        set_unsafe(st, SQL_UNSAFE_SQL_MODE, v,
                   "sql_mode must be a plain literal the proxy can read ('MODE,...'), "
                   "not a variable or an expression");
        return;
    }
    if (v->type == SQL_TOK_NUMBER) {
        if (!sql_tok_uint(v, &bits) || (bits & SET_SQL_MODE_ANSI_BITS))
            set_unsafe(st, SQL_UNSAFE_SQL_MODE, v,
                       "a numeric sql_mode holding ANSI_QUOTES (or not an integer)");
        return;
    }
    for (size_t i = 0; i < v->n; i++)
        up[i] = (char)((v->s[i] >= 'a' && v->s[i] <= 'z') ? v->s[i] - 32 : v->s[i]);
    up[v->n] = '\0';
    for (size_t i = 0; ansi[i]; i++)
        if (strstr(up, ansi[i]))
            set_unsafe(st, SQL_UNSAFE_SQL_MODE, v,
                       "ANSI_QUOTES (or ANSI, DB2, MAXDB, MSSQL, ORACLE, POSTGRESQL, which "
                       "imply it) makes \"x\" an identifier, which the proxy reads as a "
                       "string");
}

/*
 * The variable name of an assignment at the current token, without @@ and
 * scope, into name (consumed); "" for a user variable or anything else.
 */
static void set_read_name(struct parser *p, char *name, size_t len)
{
    static const char *const scopes[] = { "global.", "session.", "local.", NULL };
    char buf[2 * SQL_NAME_MAX + 2] = "";

    name[0] = '\0';
    if (p->tok.type == SQL_TOK_VAR) {
        if (p->tok.n < 2 || p->tok.s[1] != '@') {
            p_next(p);                  /* @user_variable */
            return;
        }
        snprintf(buf, sizeof(buf), "%.*s", (int)(p->tok.n - 2), p->tok.s + 2);
        p_next(p);
        if (p_punct(p, '.')) {          /* @@session . name */
            strcat(buf, ".");
            p_next(p);
        }
        if ((buf[0] == '\0' || buf[strlen(buf) - 1] == '.') && p_ident(p)) {
            char part[SQL_NAME_MAX];
            sql_tok_ident(&p->tok, part, sizeof(part));
            strcat(buf, part);
            p_next(p);
        }
    } else if (p_ident(p)) {
        sql_tok_ident(&p->tok, buf, SQL_NAME_MAX);
        p_next(p);
    } else {
        return;
    }
    const char *b = buf;
    for (size_t i = 0; scopes[i]; i++)
        if (strncasecmp(b, scopes[i], strlen(scopes[i])) == 0)
            b += strlen(scopes[i]);
    size_t n = strlen(b) < len ? strlen(b) : len - 1;
    memcpy(name, b, n);
    name[n] = '\0';
}

/* One assignment of a SET list, up to its `,` / end / FOR. */
static void set_assignment(struct parser *p, bool stmt_form)
{
    static const char *const scopes[] = { "GLOBAL", "SESSION", "LOCAL", NULL };
    char name[SQL_NAME_MAX];

    if (word_in(&p->tok, scopes))
        p_next(p);
    if (p_is(p, "NAMES") || p_is(p, "CHARSET") || p_is(p, "CHARACTER")) {
        bool names = p_is(p, "NAMES");
        p_next(p);
        if (!names && p_is(p, "SET"))
            p_next(p);
        struct sql_tok v = p->tok;
        p_next(p);
        if (names && p_is(p, "COLLATE")) {  /* a wrong collation fails the statement */
            p_next(p);
            p_next(p);
        }
        set_charset(p, &v, 1 + set_skip_value(p, stmt_form));
        return;
    }
    set_read_name(p, name, sizeof(name));
    if (p_punct(p, '=') || (p->tok.type == SQL_TOK_PUNCT && p->tok.n == 2 &&
                            memcmp(p->tok.s, ":=", 2) == 0))
        p_next(p);
    struct sql_tok v = p->tok;
    int ntok = set_skip_value(p, stmt_form);
    if (strcasecmp(name, "character_set_client") == 0)
        set_charset(p, &v, ntok);
    else if (strcasecmp(name, "sql_mode") == 0)
        set_sql_mode(p, &v, ntok);
}

void sql_set_classify(struct parser *p)
{
    static const char *const other[] = {
        "PASSWORD", "ROLE", "DEFAULT", "TRANSACTION", NULL,
    };
    bool stmt_form;

    p_next(p);
    stmt_form = p_is(p, "STATEMENT");
    if (stmt_form)
        p_next(p);
    else if (word_in(&p->tok, other))
        return;                         /* SET PASSWORD / ROLE / DEFAULT ROLE / TRANSACTION */
    while (!p_end(p)) {
        set_assignment(p, stmt_form);
        if (!p_punct(p, ','))
            break;
        p_next(p);
    }
    if (stmt_form && p_is(p, "FOR")) {
        p_next(p);
        sql_classify_form(p);
    }
}
