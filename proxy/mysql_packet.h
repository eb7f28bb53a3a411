/*
 * mysql_packet: a pure codec for the MySQL client/server protocol, the parts
 * the proxy needs to look at. No I/O, no allocation, no logging: every
 * function works on a caller's buffer and reports faults by return value.
 *
 *   packet   = 3-byte little-endian payload length | 1-byte sequence id | payload
 *   payload >= 0xffffff bytes is split: each full 0xffffff chunk is followed by
 *   another packet; the last one is shorter (possibly empty).
 *
 * Status convention: functions returning int answer 0 on success and -1 on
 * malformed or truncated input (the outputs are then unspecified), unless
 * their comment says otherwise.
 */
#ifndef UR_MYSQL_PACKET_H
#define UR_MYSQL_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MYSQL_HEADER_LEN        4
#define MYSQL_PAYLOAD_MAX       0xffffffu   /* a packet this long continues */

/* capability flags (the ones the proxy reads or masks) */
#define MYSQL_CLIENT_MYSQL              0x00000001u /* MariaDB: unset = extended caps */
#define MYSQL_CLIENT_CONNECT_WITH_DB    0x00000008u
#define MYSQL_CLIENT_COMPRESS           0x00000020u
#define MYSQL_CLIENT_LOCAL_FILES        0x00000080u
#define MYSQL_CLIENT_PROTOCOL_41        0x00000200u
#define MYSQL_CLIENT_SSL                0x00000800u
#define MYSQL_CLIENT_TRANSACTIONS       0x00002000u
#define MYSQL_CLIENT_SECURE_CONNECTION  0x00008000u
#define MYSQL_CLIENT_MULTI_STATEMENTS   0x00010000u
#define MYSQL_CLIENT_MULTI_RESULTS      0x00020000u
#define MYSQL_CLIENT_PLUGIN_AUTH        0x00080000u
#define MYSQL_CLIENT_CONNECT_ATTRS      0x00100000u
#define MYSQL_CLIENT_PLUGIN_AUTH_LENENC 0x00200000u
#define MYSQL_CLIENT_SESSION_TRACK      0x00800000u
#define MYSQL_CLIENT_DEPRECATE_EOF      0x01000000u
#define MYSQL_CLIENT_OPTIONAL_METADATA  0x02000000u /* MySQL 8: optional column defs */
#define MYSQL_CLIENT_ZSTD               0x04000000u /* MySQL 8 zstd compression */
#define MYSQL_CLIENT_QUERY_ATTRIBUTES   0x08000000u /* MySQL 8: commands carry attributes */

/*
 * What the proxy cannot inspect: compressed or encrypted streams, and the
 * MySQL 8 extensions that change the command and result formats it parses
 * (query attributes put a parameter block before COM_QUERY's statement text,
 * so the text would not be found; optional metadata drops the column
 * definitions the result tracking counts).
 */
#define MYSQL_CAPS_MASKED (MYSQL_CLIENT_COMPRESS | MYSQL_CLIENT_SSL | MYSQL_CLIENT_ZSTD | \
                           MYSQL_CLIENT_QUERY_ATTRIBUTES | MYSQL_CLIENT_OPTIONAL_METADATA)

/* server status flags (OK and EOF packets) */
#define MYSQL_STATUS_IN_TRANS           0x0001u
#define MYSQL_STATUS_AUTOCOMMIT         0x0002u
#define MYSQL_STATUS_MORE_RESULTS       0x0008u
#define MYSQL_STATUS_CURSOR_EXISTS      0x0040u
#define MYSQL_STATUS_NO_BACKSLASH_ESCAPES 0x0200u
#define MYSQL_STATUS_IN_TRANS_READONLY  0x2000u

/* command bytes */
enum mysql_command {
    MYSQL_COM_SLEEP = 0x00,
    MYSQL_COM_QUIT = 0x01,
    MYSQL_COM_INIT_DB = 0x02,
    MYSQL_COM_QUERY = 0x03,
    MYSQL_COM_FIELD_LIST = 0x04,
    MYSQL_COM_CREATE_DB = 0x05,
    MYSQL_COM_DROP_DB = 0x06,
    MYSQL_COM_REFRESH = 0x07,
    MYSQL_COM_SHUTDOWN = 0x08,
    MYSQL_COM_STATISTICS = 0x09,
    MYSQL_COM_PROCESS_INFO = 0x0a,
    MYSQL_COM_CONNECT = 0x0b,
    MYSQL_COM_PROCESS_KILL = 0x0c,
    MYSQL_COM_DEBUG = 0x0d,
    MYSQL_COM_PING = 0x0e,
    MYSQL_COM_TIME = 0x0f,
    MYSQL_COM_DELAYED_INSERT = 0x10,
    MYSQL_COM_CHANGE_USER = 0x11,
    MYSQL_COM_BINLOG_DUMP = 0x12,
    MYSQL_COM_TABLE_DUMP = 0x13,
    MYSQL_COM_CONNECT_OUT = 0x14,
    MYSQL_COM_REGISTER_SLAVE = 0x15,
    MYSQL_COM_STMT_PREPARE = 0x16,
    MYSQL_COM_STMT_EXECUTE = 0x17,
    MYSQL_COM_STMT_SEND_LONG_DATA = 0x18,
    MYSQL_COM_STMT_CLOSE = 0x19,
    MYSQL_COM_STMT_RESET = 0x1a,
    MYSQL_COM_SET_OPTION = 0x1b,
    MYSQL_COM_STMT_FETCH = 0x1c,
    MYSQL_COM_DAEMON = 0x1d,
    MYSQL_COM_BINLOG_DUMP_GTID = 0x1e,
    MYSQL_COM_RESET_CONNECTION = 0x1f,
    MYSQL_COM_STMT_BULK_EXECUTE = 0xfa,  /* MariaDB */
};

/* column / parameter types of the binary protocol */
enum mysql_type {
    MYSQL_TYPE_DECIMAL = 0, MYSQL_TYPE_TINY = 1, MYSQL_TYPE_SHORT = 2,
    MYSQL_TYPE_LONG = 3, MYSQL_TYPE_FLOAT = 4, MYSQL_TYPE_DOUBLE = 5,
    MYSQL_TYPE_NULL = 6, MYSQL_TYPE_TIMESTAMP = 7, MYSQL_TYPE_LONGLONG = 8,
    MYSQL_TYPE_INT24 = 9, MYSQL_TYPE_DATE = 10, MYSQL_TYPE_TIME = 11,
    MYSQL_TYPE_DATETIME = 12, MYSQL_TYPE_YEAR = 13, MYSQL_TYPE_NEWDATE = 14,
    MYSQL_TYPE_VARCHAR = 15, MYSQL_TYPE_BIT = 16,
    MYSQL_TYPE_NEWDECIMAL = 246, MYSQL_TYPE_ENUM = 247, MYSQL_TYPE_SET = 248,
    MYSQL_TYPE_TINY_BLOB = 249, MYSQL_TYPE_MEDIUM_BLOB = 250,
    MYSQL_TYPE_LONG_BLOB = 251, MYSQL_TYPE_BLOB = 252,
    MYSQL_TYPE_VAR_STRING = 253, MYSQL_TYPE_STRING = 254,
    MYSQL_TYPE_GEOMETRY = 255,
};

/* ---- framing ----------------------------------------------------------- */

struct mysql_header {
    uint32_t len;   /* payload length, 0..0xffffff */
    uint8_t  seq;
};

/* Decode a header from 4 bytes. Returns 0, or -1 if avail < 4. */
int mysql_header_decode(const uint8_t *p, size_t avail, struct mysql_header *h);

/* Encode a header into 4 bytes. len must be <= MYSQL_PAYLOAD_MAX. */
void mysql_header_encode(uint8_t *p, uint32_t len, uint8_t seq);

/*
 * Length of the complete logical packet (all continuation packets included)
 * that starts at p, counting headers: the number of wire bytes it spans.
 * Returns 1 and sets *wire_len and *payload_len when all of it is in the
 * avail bytes, 0 if more bytes are needed, -1 if the sequence ids of the
 * continuation packets do not follow on.
 */
int mysql_packet_complete(const uint8_t *p, size_t avail, size_t *wire_len,
                          size_t *payload_len);

/*
 * Copy the payload of the complete logical packet at p (see above) into out
 * (payload_len bytes), dropping the inner headers. Returns the last sequence
 * id used.
 */
uint8_t mysql_packet_join(const uint8_t *p, size_t wire_len, uint8_t *out);

/* ---- length-encoded values ------------------------------------------- */

/*
 * Read a length-encoded integer at *pos in buf[0..len). Advances *pos.
 * 0xfb (the NULL marker in rows) sets *is_null if is_null is not NULL and
 * answers 0; 0xff is invalid.
 */
int mysql_lenenc_int_read(const uint8_t *buf, size_t len, size_t *pos,
                          uint64_t *out, bool *is_null);

/* Bytes needed to encode v. */
size_t mysql_lenenc_int_size(uint64_t v);

/* Write v at p (mysql_lenenc_int_size(v) bytes). Returns the bytes written. */
size_t mysql_lenenc_int_write(uint8_t *p, uint64_t v);

/* Read a length-encoded string: *s points into buf, *slen its length. */
int mysql_lenenc_str_read(const uint8_t *buf, size_t len, size_t *pos,
                          const uint8_t **s, uint64_t *slen);

/* ---- handshake ---------------------------------------------------------- */

struct mysql_greeting {
    uint8_t  protocol;        /* 10 */
    const char *server_version; /* points into the payload, NUL-terminated */
    uint32_t thread_id;
    uint32_t caps;            /* lower and upper 16 bits */
    uint32_t mariadb_caps;    /* MariaDB extended caps (0 if not MariaDB) */
    uint8_t  charset;
    uint16_t status;
    size_t   caps_low_off;    /* payload offsets, for masking in place */
    size_t   caps_high_off;   /* 0 if the greeting is the short pre-4.1 form */
    size_t   mariadb_caps_off;
};

/* Parse an initial handshake (v10) payload. */
int mysql_greeting_parse(const uint8_t *payload, size_t len, struct mysql_greeting *g);

/*
 * MariaDB's version id (major * 10000 + minor * 100 + patch, 10.11.19 =
 * 101119, what its versioned comments compare with) from a greeting's
 * version string ("5.5.5-10.11.19-MariaDB-..." or "10.11.19-MariaDB..."),
 * or 0 when the string is not a MariaDB 10+ version.
 */
unsigned long mysql_mariadb_version(const char *server_version);

/*
 * Clear the masked capabilities (MYSQL_CAPS_MASKED) and every MariaDB
 * extended capability in a greeting payload, in place. Returns 0, or -1 if
 * the payload is not a parsable greeting (nothing is changed).
 */
int mysql_greeting_mask(uint8_t *payload, size_t len);

struct mysql_auth_response {
    uint32_t caps;
    uint32_t max_packet;
    uint8_t  charset;
    const char *user;         /* points into the payload */
    const uint8_t *database;  /* NULL without CLIENT_CONNECT_WITH_DB */
    size_t   database_len;
    bool     ssl_request;     /* the short SSL-request form: TLS would start */
};

/* Parse a HandshakeResponse41 payload (or an SSL request). */
int mysql_auth_response_parse(const uint8_t *payload, size_t len,
                              struct mysql_auth_response *a);

/*
 * Clear the masked capabilities and MariaDB extended capabilities a client
 * claims in its handshake response, in place. Returns 0 or -1.
 */
int mysql_auth_response_mask(uint8_t *payload, size_t len);

/* ---- responses ------------------------------------------------------------ */

enum mysql_response_kind {
    MYSQL_RESP_OK,
    MYSQL_RESP_ERR,
    MYSQL_RESP_EOF,
    MYSQL_RESP_LOCAL_INFILE,  /* 0xfb: the server asks for a file */
    MYSQL_RESP_DATA,          /* anything else: column count, row, ... */
};

/*
 * Kind of a response payload. Deprecate_eof: the client asked for
 * CLIENT_DEPRECATE_EOF, so 0xfe with a short payload is an OK packet.
 * first is the payload's first byte, len the payload length.
 */
enum mysql_response_kind mysql_response_kind(uint8_t first, size_t len,
                                             bool deprecate_eof);

struct mysql_ok {
    uint64_t affected_rows;
    uint64_t last_insert_id;
    uint16_t status;
    uint16_t warnings;
};

/* Parse an OK packet (0x00 or 0xfe header); needs only its first 21 bytes. */
int mysql_ok_parse(const uint8_t *payload, size_t len, struct mysql_ok *ok);

/* Parse a classic EOF packet (0xfe, len < 9): warnings and status. */
int mysql_eof_parse(const uint8_t *payload, size_t len, uint16_t *warnings,
                    uint16_t *status);

struct mysql_err {
    uint16_t code;
    char     sqlstate[6];     /* "" if the packet has none */
    const char *message;      /* points into the payload, not NUL-terminated */
    size_t   message_len;
};

int mysql_err_parse(const uint8_t *payload, size_t len, struct mysql_err *e);

/*
 * Build an ERR packet, header included, into out (cap bytes). The message is
 * cut to fit. sqlstate must be 5 characters. Returns the wire length, or 0 if
 * cap is too small for the fixed part.
 */
size_t mysql_err_build(uint8_t *out, size_t cap, uint8_t seq, uint16_t code,
                       const char *sqlstate, const char *message);

struct mysql_prepare_ok {
    uint32_t stmt_id;
    uint16_t columns;
    uint16_t params;
    uint16_t warnings;
};

/* Parse a COM_STMT_PREPARE OK payload (0x00 header, 12 bytes). */
int mysql_prepare_ok_parse(const uint8_t *payload, size_t len,
                           struct mysql_prepare_ok *p);

/* ---- prepared statement execution ---------------------------------------- */

struct mysql_param_value {
    bool     is_null;
    bool     is_int;          /* an integer value in u (or a decimal string) */
    bool     negative;
    uint64_t u;
};

/*
 * Read parameter `index` of a COM_STMT_EXECUTE payload (command byte
 * included) of a statement with nparams parameters. types holds 2 bytes per
 * parameter from an earlier EXECUTE of the same statement (used when this one
 * does not rebind types) and is updated when it does; it must have room for
 * 2 * nparams bytes, and *types_known says whether it holds types.
 * Integer types and decimal strings give is_int; other types give neither
 * is_null nor is_int. long_data (may be NULL) is a bitmap of the parameters
 * sent with COM_STMT_SEND_LONG_DATA since the last execute: their values are
 * not in the packet (and such a parameter gives neither is_null nor is_int).
 */
int mysql_execute_param(const uint8_t *payload, size_t len, uint16_t nparams,
                        uint8_t *types, bool *types_known,
                        const uint8_t *long_data, uint16_t index,
                        struct mysql_param_value *out);

/* Statement id of a COM_STMT_EXECUTE/CLOSE/RESET/FETCH payload. */
int mysql_stmt_id(const uint8_t *payload, size_t len, uint32_t *id);

#endif
