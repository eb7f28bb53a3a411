/*
 * sql_lexer: splits MySQL/MariaDB SQL text into the tokens the classifier
 * needs. Comments and whitespace are skipped; a comment that is a sharding
 * hint (`/ * sharding_key=123 * /`, spaces optional) is reported to the
 * caller. Executable comments (`/ *! ... * /`, `/ *M! ... * /`) are code: their
 * content is lexed like the rest. `?` outside strings and comments is a
 * placeholder and is numbered in order.
 *
 * Versions (measured on MariaDB 10.11.19): 5 or 6 digits after the marker
 * are a version (fewer are code, a 7th digit is code). A 6-digit version
 * runs when it is at most the server's (100616 runs on 10.11, 101120 does
 * not); a 5-digit one always runs after `/ *M!` and, after `/ *!`, runs below
 * 50700 and is skipped from 50700 on (MySQL 5.7 syntax). A skipped comment
 * ends at its own `* /` and may hold one nested `/ * ... * /`. With the
 * server's version known (SQL_MODE_VERSION) the lexer follows these rules;
 * without it, a version whose fate depends on the server (5 digits >= 50700,
 * 6 digits above 100000) makes the statement `ambiguous`: the content may
 * run or not, and either reading may hide the other's text. An executable
 * comment that would run inside another is ambiguous too.
 *
 * Whitespace above 0x7F depends on the client character set
 * (sql_charset.h): with SQL_MODE_CHARSET_KNOWN, 0xA0 / 0xFF are whitespace
 * exactly when SQL_MODE_SPACE_A0 / SQL_MODE_SPACE_FF say so, and a byte
 * whose SQL_MODE_MAYBE_* bit is set (the connection may be in either kind of
 * set) is read as whitespace and makes the statement `ambiguous`. Without
 * it, a byte 0xA0 that does not continue a UTF-8 character is whitespace
 * (latin1's no-break space).
 *
 * The lexer never allocates; tokens point into the text.
 */
#ifndef UR_SQL_LEXER_H
#define UR_SQL_LEXER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How the session reads SQL text: the `mode` of sql_lexer_init / sql_classify_mode. */
#define SQL_MODE_NO_BACKSLASH_ESCAPES 0x01u /* backslash is not an escape */
#define SQL_MODE_CHARSET_KNOWN  0x02u   /* the client character set is known: */
#define SQL_MODE_SPACE_A0       0x04u   /*   0xA0 is whitespace (latin1, ...) */
#define SQL_MODE_SPACE_FF       0x08u   /*   0xFF is whitespace (cp852, ...) */
#define SQL_MODE_MAYBE_A0       0x10u   /*   0xA0 may be whitespace: ambiguous */
#define SQL_MODE_MAYBE_FF       0x20u   /*   0xFF may be whitespace: ambiguous */
#define SQL_MODE_VERSION_SHIFT  12      /* bits 12..31: the server's version */
/* MariaDB's version as 6 digits (10.11.19 = 101119); 0 = unknown. */
#define SQL_MODE_VERSION(v)     ((unsigned)(v) << SQL_MODE_VERSION_SHIFT)
#define SQL_MODE_VERSION_OF(m)  ((unsigned long)((m) >> SQL_MODE_VERSION_SHIFT))

enum sql_tok_type {
    SQL_TOK_END,        /* end of text or of the statement (`;`) */
    SQL_TOK_WORD,       /* unquoted identifier or keyword */
    SQL_TOK_QIDENT,     /* `quoted identifier` (s/n exclude the backticks) */
    SQL_TOK_STRING,     /* 'string' or "string" (s/n exclude the quotes) */
    SQL_TOK_NUMBER,
    SQL_TOK_PARAM,      /* ? */
    SQL_TOK_PUNCT,      /* operators and punctuation, 1-3 characters */
    SQL_TOK_VAR,        /* @var, @@var */
};

struct sql_tok {
    enum sql_tok_type type;
    const char *s;
    size_t      n;
    uint16_t    param;  /* SQL_TOK_PARAM: its 0-based index */
    bool        escaped; /* SQL_TOK_STRING/QIDENT: contains escapes/doubling */
};

struct sql_lexer {
    const char *start;      /* the text's first character */
    const char *p;          /* next character */
    const char *end;
    bool        in_exec_comment; /* inside / *! ... * / */
    bool        at_end;     /* a `;` or the end was reached */
    bool        malformed;  /* unterminated string, identifier or comment */
    bool        ambiguous;  /* an executable comment the server may skip */
    bool        ambiguous_space; /* or a byte that may be whitespace */
    uint16_t    nparams;    /* placeholders seen so far */
    int         nhints;     /* sharding hints seen */
    uint64_t    hint;       /* the first hint's key */
    bool        hint_conflict; /* a later hint named another key */
    bool        hint_bad;   /* a hint whose value is not a number */
    bool        no_backslash_escapes; /* sql_mode NO_BACKSLASH_ESCAPES */
    unsigned    mode;       /* SQL_MODE_* */
};

/* mode: SQL_MODE_* flags and version. With SQL_MODE_NO_BACKSLASH_ESCAPES
 * (the server says so in its status flags) a backslash is an ordinary
 * character in strings. */
void sql_lexer_init(struct sql_lexer *lx, const char *sql, size_t len, unsigned mode);

/* Next token. At a `;` returns SQL_TOK_END once and stops there. */
void sql_lexer_next(struct sql_lexer *lx, struct sql_tok *t);

/* Case-insensitive comparison of an unquoted word with kw (upper case). */
bool sql_tok_is(const struct sql_tok *t, const char *kw);

/* True for a one-character punctuation token c. */
bool sql_tok_punct(const struct sql_tok *t, char c);

/*
 * The token as an unsigned integer key: a plain decimal number, or a string
 * holding only decimal digits. Returns true and sets *v.
 */
bool sql_tok_uint(const struct sql_tok *t, uint64_t *v);

/* Copy an identifier token (word or quoted) into out, unescaping ``. */
void sql_tok_ident(const struct sql_tok *t, char *out, size_t outlen);

#endif
