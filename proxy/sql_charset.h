/*
 * sql_charset: the client character sets of MariaDB 10.11 as the proxy's
 * lexer needs them: which ones it can read byte by byte, and which high
 * bytes the server skips as whitespace in each.
 *
 * Unsafe: big5, cp932, gbk and sjis, whose two-byte characters may end in
 * 0x5C `\` or 0x27 `'` (`0xBF 0x5C` is one gbk character): the server reads
 * such a pair as one character where a byte-wise reader sees an escape or a
 * quote, so the two readings of the rest of the text differ. Every other
 * client character set is single-byte or keeps all bytes of a multibyte
 * character >= 0x80 (utf8mb3/utf8mb4, ujis, eucjpms, euckr, gb2312).
 * ucs2, utf16, utf16le and utf32 cannot be client character sets: the
 * server answers a handshake that names one with its default.
 *
 * Whitespace: MariaDB's lexer skips every byte its character set classes as
 * a space. Measured on 10.11 (`SELECT<b>1` for every b >= 0x80): 0xA0 in
 * latin1, latin2, latin5, latin7, cp1250, dec8, greek, hebrew, armscii8,
 * geostd8; 0xFF in cp852, cp866 and keybcs2; no other byte >= 0x80 anywhere.
 * Below 0x80 the lexer skips what isspace() does in the C locale.
 *
 * Never allocates, never logs.
 */
#ifndef UR_SQL_CHARSET_H
#define UR_SQL_CHARSET_H

#include <stdbool.h>
#include <stddef.h>

#define SQL_CS_SPACE_A0 0x1u    /* 0xA0 is whitespace */
#define SQL_CS_SPACE_FF 0x2u    /* 0xFF is whitespace */
#define SQL_CS_SPACE_ALL (SQL_CS_SPACE_A0 | SQL_CS_SPACE_FF)

struct sql_charset {
    const char *name;           /* MariaDB's name, lower case */
    bool        unsafe;         /* a trailing byte may be `\` or `'` */
    unsigned    space;          /* SQL_CS_SPACE_* */
};

/* By name ("utf8" is utf8mb3, as in MariaDB 10.11), case-insensitive; NULL if unknown. */
const struct sql_charset *sql_charset_by_name(const char *name, size_t len);

/* By collation id (handshake byte, COM_CHANGE_USER, `= 8`); NULL if unknown. */
const struct sql_charset *sql_charset_by_collation(unsigned id);

#endif
