/*
 * sql_lexer: splits MySQL/MariaDB SQL text into the tokens the classifier
 * needs. Comments and whitespace are skipped; a comment that is a sharding
 * hint (`/ * sharding_key=123 * /`, spaces optional) is reported to the
 * caller. Executable comments (`/ *! ... * /`, `/ *M! ... * /`) are code: their
 * content is lexed like the rest. MariaDB reads 5 or 6 digits after the
 * marker as a version and skips the content as a comment when the version
 * is above its own (or, for 5 digits, 50700 or more); a version that no
 * MariaDB 10 is sure to run makes the statement `ambiguous`: the content
 * may run or not, and either reading may hide the other's text. `?` outside strings and comments is a
 * placeholder and is numbered in order.
 *
 * A byte 0xA0 that does not continue a UTF-8 character is whitespace: it is
 * latin1's no-break space, which MariaDB's lexer skips like a space on a
 * latin1 connection (`INSERT<A0>INTO` is INSERT INTO there, not one word).
 *
 * The lexer never allocates; tokens point into the text.
 */
#ifndef UR_SQL_LEXER_H
#define UR_SQL_LEXER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
    uint16_t    nparams;    /* placeholders seen so far */
    int         nhints;     /* sharding hints seen */
    uint64_t    hint;       /* the first hint's key */
    bool        hint_conflict; /* a later hint named another key */
    bool        hint_bad;   /* a hint whose value is not a number */
    bool        no_backslash_escapes; /* sql_mode NO_BACKSLASH_ESCAPES */
};

/* no_backslash_escapes: the session's sql_mode has NO_BACKSLASH_ESCAPES
 * (the server says so in its status flags): a backslash is an ordinary
 * character in strings. */
void sql_lexer_init(struct sql_lexer *lx, const char *sql, size_t len,
                    bool no_backslash_escapes);

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
