/*
 * mysql_packet: codec for the pieces of the MySQL protocol the proxy reads,
 * masks or writes. See mysql_packet.h. Every reader checks bounds against
 * the length it is given; nothing here trusts a length field.
 */
#include "proxy/mysql_packet.h"

#include <string.h>

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_u24(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
}

static uint32_t get_u32(const uint8_t *p)
{
    return get_u24(p) | ((uint32_t)p[3] << 24);
}

static uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) | ((uint64_t)get_u32(p + 4) << 32);
}

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    put_u16(p, (uint16_t)v);
    put_u16(p + 2, (uint16_t)(v >> 16));
}

/* ---- framing ----------------------------------------------------------- */

int mysql_header_decode(const uint8_t *p, size_t avail, struct mysql_header *h)
{
    if (avail < MYSQL_HEADER_LEN)
        return -1;
    h->len = get_u24(p);
    h->seq = p[3];
    return 0;
}

void mysql_header_encode(uint8_t *p, uint32_t len, uint8_t seq)
{
    p[0] = (uint8_t)len;
    p[1] = (uint8_t)(len >> 8);
    p[2] = (uint8_t)(len >> 16);
    p[3] = seq;
}

int mysql_packet_complete(const uint8_t *p, size_t avail, size_t *wire_len,
                          size_t *payload_len)
{
    size_t off = 0, payload = 0;
    int first = 1;
    uint8_t seq = 0;

    for (;;) {
        struct mysql_header h;
        if (mysql_header_decode(p + off, avail - off, &h) != 0)
            return 0;
        if (!first && h.seq != (uint8_t)(seq + 1))
            return -1;
        first = 0;
        seq = h.seq;
        if (avail - off - MYSQL_HEADER_LEN < h.len)
            return 0;
        off += MYSQL_HEADER_LEN + h.len;
        payload += h.len;
        if (h.len < MYSQL_PAYLOAD_MAX)
            break;
    }
    *wire_len = off;
    *payload_len = payload;
    return 1;
}

uint8_t mysql_packet_join(const uint8_t *p, size_t wire_len, uint8_t *out)
{
    size_t off = 0, o = 0;
    uint8_t seq = 0;

    while (off + MYSQL_HEADER_LEN <= wire_len) {
        uint32_t len = get_u24(p + off);
        seq = p[off + 3];
        memcpy(out + o, p + off + MYSQL_HEADER_LEN, len);
        o += len;
        off += MYSQL_HEADER_LEN + len;
        if (len < MYSQL_PAYLOAD_MAX)
            break;
    }
    return seq;
}

/* ---- length-encoded values ------------------------------------------- */

int mysql_lenenc_int_read(const uint8_t *buf, size_t len, size_t *pos,
                          uint64_t *out, bool *is_null)
{
    size_t i = *pos, need;

    if (is_null)
        *is_null = false;
    if (i >= len)
        return -1;
    uint8_t b = buf[i];
    if (b < 0xfb) {
        *out = b;
        *pos = i + 1;
        return 0;
    }
    switch (b) {
    case 0xfb:
        if (!is_null)
            return -1;
        *is_null = true;
        *out = 0;
        *pos = i + 1;
        return 0;
    case 0xfc: need = 2; break;
    case 0xfd: need = 3; break;
    case 0xfe: need = 8; break;
    default: return -1;
    }
    if (len - i - 1 < need)
        return -1;
    if (need == 2)
        *out = get_u16(buf + i + 1);
    else if (need == 3)
        *out = get_u24(buf + i + 1);
    else
        *out = get_u64(buf + i + 1);
    *pos = i + 1 + need;
    return 0;
}

size_t mysql_lenenc_int_size(uint64_t v)
{
    if (v < 0xfb)
        return 1;
    if (v <= 0xffff)
        return 3;
    if (v <= 0xffffff)
        return 4;
    return 9;
}

size_t mysql_lenenc_int_write(uint8_t *p, uint64_t v)
{
    size_t n = mysql_lenenc_int_size(v);

    if (n == 1) {
        p[0] = (uint8_t)v;
        return 1;
    }
    p[0] = n == 3 ? 0xfc : n == 4 ? 0xfd : 0xfe;
    for (size_t i = 1; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (i - 1)));
    return n;
}

int mysql_lenenc_str_read(const uint8_t *buf, size_t len, size_t *pos,
                          const uint8_t **s, uint64_t *slen)
{
    size_t i = *pos;
    uint64_t n;

    if (mysql_lenenc_int_read(buf, len, &i, &n, NULL) != 0)
        return -1;
    if (n > len - i)
        return -1;
    *s = buf + i;
    *slen = n;
    *pos = i + (size_t)n;
    return 0;
}

/* ---- handshake ---------------------------------------------------------- */

int mysql_greeting_parse(const uint8_t *payload, size_t len, struct mysql_greeting *g)
{
    const uint8_t *nul;
    size_t i;

    memset(g, 0, sizeof(*g));
    if (len < 1 || payload[0] != 10)
        return -1;
    g->protocol = payload[0];
    nul = memchr(payload + 1, 0, len - 1);
    if (nul == NULL)
        return -1;
    g->server_version = (const char *)payload + 1;
    i = (size_t)(nul - payload) + 1;
    /* thread id (4), scramble part 1 (8), filler (1), caps low (2) */
    if (len - i < 15)
        return -1;
    g->thread_id = get_u32(payload + i);
    i += 4 + 8 + 1;
    g->caps_low_off = i;
    g->caps = get_u16(payload + i);
    i += 2;
    if (len - i < 16)       /* the short form stops here */
        return 0;
    g->charset = payload[i];
    g->status = get_u16(payload + i + 1);
    g->caps_high_off = i + 3;
    g->caps |= (uint32_t)get_u16(payload + i + 3) << 16;
    /* auth data length (1), reserved 6, MariaDB caps 4 (or reserved) */
    g->mariadb_caps_off = i + 5 + 1 + 6;
    if (!(g->caps & MYSQL_CLIENT_MYSQL))
        g->mariadb_caps = get_u32(payload + g->mariadb_caps_off);
    return 0;
}

int mysql_greeting_mask(uint8_t *payload, size_t len)
{
    struct mysql_greeting g;

    if (mysql_greeting_parse(payload, len, &g) != 0)
        return -1;
    uint32_t caps = g.caps & ~MYSQL_CAPS_MASKED;
    put_u16(payload + g.caps_low_off, (uint16_t)caps);
    if (g.caps_high_off != 0) {
        put_u16(payload + g.caps_high_off, (uint16_t)(caps >> 16));
        if (!(g.caps & MYSQL_CLIENT_MYSQL))
            put_u32(payload + g.mariadb_caps_off, 0);
    }
    return 0;
}

int mysql_auth_response_parse(const uint8_t *payload, size_t len,
                              struct mysql_auth_response *a)
{
    const uint8_t *nul;
    size_t i = 32;

    memset(a, 0, sizeof(*a));
    if (len < 4)
        return -1;
    a->caps = get_u32(payload);
    if (!(a->caps & MYSQL_CLIENT_PROTOCOL_41))
        return -1;          /* pre-4.1 clients are not supported */
    if (len < 32)
        return -1;
    a->max_packet = get_u32(payload + 4);
    a->charset = payload[8];
    if (len == 32) {
        a->ssl_request = (a->caps & MYSQL_CLIENT_SSL) != 0;
        return a->ssl_request ? 0 : -1;
    }
    nul = memchr(payload + i, 0, len - i);
    if (nul == NULL)
        return -1;
    a->user = (const char *)payload + i;
    i = (size_t)(nul - payload) + 1;
    /* auth response */
    if (a->caps & MYSQL_CLIENT_PLUGIN_AUTH_LENENC) {
        const uint8_t *s;
        uint64_t n;
        if (mysql_lenenc_str_read(payload, len, &i, &s, &n) != 0)
            return -1;
    } else if (a->caps & MYSQL_CLIENT_SECURE_CONNECTION) {
        if (i >= len || payload[i] > len - i - 1)
            return -1;
        i += 1 + payload[i];
    } else {
        nul = memchr(payload + i, 0, len - i);
        if (nul == NULL)
            return -1;
        i = (size_t)(nul - payload) + 1;
    }
    if (a->caps & MYSQL_CLIENT_CONNECT_WITH_DB) {
        if (i >= len)
            return -1;
        nul = memchr(payload + i, 0, len - i);
        a->database = payload + i;
        a->database_len = nul ? (size_t)(nul - (payload + i)) : len - i;
    }
    return 0;
}

int mysql_auth_response_mask(uint8_t *payload, size_t len)
{
    if (len < 32)
        return -1;
    uint32_t caps = get_u32(payload);
    put_u32(payload, caps & ~MYSQL_CAPS_MASKED);
    if (!(caps & MYSQL_CLIENT_MYSQL))
        put_u32(payload + 28, 0);   /* MariaDB extended client caps */
    return 0;
}

/* ---- responses ------------------------------------------------------------ */

enum mysql_response_kind mysql_response_kind(uint8_t first, size_t len,
                                             bool deprecate_eof)
{
    if (len == 0)
        return MYSQL_RESP_DATA;
    switch (first) {
    case 0x00:
        return len >= 7 ? MYSQL_RESP_OK : MYSQL_RESP_DATA;
    case 0xff:
        return MYSQL_RESP_ERR;
    case 0xfb:
        return len >= 1 ? MYSQL_RESP_LOCAL_INFILE : MYSQL_RESP_DATA;
    case 0xfe:
        if (deprecate_eof)
            return len < MYSQL_PAYLOAD_MAX ? MYSQL_RESP_OK : MYSQL_RESP_DATA;
        return len < 9 ? MYSQL_RESP_EOF : MYSQL_RESP_DATA;
    default:
        return MYSQL_RESP_DATA;
    }
}

int mysql_ok_parse(const uint8_t *payload, size_t len, struct mysql_ok *ok)
{
    size_t i = 1;

    memset(ok, 0, sizeof(*ok));
    if (len < 1 || (payload[0] != 0x00 && payload[0] != 0xfe))
        return -1;
    if (mysql_lenenc_int_read(payload, len, &i, &ok->affected_rows, NULL) != 0 ||
        mysql_lenenc_int_read(payload, len, &i, &ok->last_insert_id, NULL) != 0)
        return -1;
    if (len - i < 2)
        return -1;
    ok->status = get_u16(payload + i);
    if (len - i >= 4)
        ok->warnings = get_u16(payload + i + 2);
    return 0;
}

int mysql_eof_parse(const uint8_t *payload, size_t len, uint16_t *warnings,
                    uint16_t *status)
{
    if (len < 5 || len >= 9 || payload[0] != 0xfe)
        return -1;
    *warnings = get_u16(payload + 1);
    *status = get_u16(payload + 3);
    return 0;
}

int mysql_err_parse(const uint8_t *payload, size_t len, struct mysql_err *e)
{
    size_t i = 3;

    memset(e, 0, sizeof(*e));
    if (len < 3 || payload[0] != 0xff)
        return -1;
    e->code = get_u16(payload + 1);
    if (len - i >= 6 && payload[i] == '#') {
        memcpy(e->sqlstate, payload + i + 1, 5);
        e->sqlstate[5] = '\0';
        i += 6;
    }
    e->message = (const char *)payload + i;
    e->message_len = len - i;
    return 0;
}

size_t mysql_err_build(uint8_t *out, size_t cap, uint8_t seq, uint16_t code,
                       const char *sqlstate, const char *message)
{
    const size_t fixed = MYSQL_HEADER_LEN + 1 + 2 + 1 + 5;
    size_t mlen = strlen(message);

    if (cap < fixed || strlen(sqlstate) != 5)
        return 0;
    if (mlen > cap - fixed)
        mlen = cap - fixed;
    if (mlen > MYSQL_PAYLOAD_MAX - (fixed - MYSQL_HEADER_LEN))
        mlen = MYSQL_PAYLOAD_MAX - (fixed - MYSQL_HEADER_LEN);
    uint8_t *p = out + MYSQL_HEADER_LEN;
    p[0] = 0xff;
    put_u16(p + 1, code);
    p[3] = '#';
    memcpy(p + 4, sqlstate, 5);
    memcpy(p + 9, message, mlen);
    mysql_header_encode(out, (uint32_t)(9 + mlen), seq);
    return fixed + mlen;
}

int mysql_prepare_ok_parse(const uint8_t *payload, size_t len,
                           struct mysql_prepare_ok *p)
{
    if (len < 12 || payload[0] != 0x00)
        return -1;
    p->stmt_id = get_u32(payload + 1);
    p->columns = get_u16(payload + 5);
    p->params = get_u16(payload + 7);
    p->warnings = get_u16(payload + 10);
    return 0;
}

/* ---- prepared statement execution ---------------------------------------- */

int mysql_stmt_id(const uint8_t *payload, size_t len, uint32_t *id)
{
    if (len < 5)
        return -1;
    *id = get_u32(payload + 1);
    return 0;
}

/* Decimal digits as an integer (with an optional sign); false if not one. */
static bool parse_decimal(const uint8_t *s, size_t n, struct mysql_param_value *v)
{
    size_t i = 0;
    uint64_t u = 0;

    if (n > 0 && (s[0] == '-' || s[0] == '+')) {
        v->negative = s[0] == '-';
        i = 1;
    }
    if (i == n)
        return false;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (u > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
            return false;
        u = u * 10 + (uint64_t)(s[i] - '0');
    }
    v->u = u;
    v->is_int = true;
    return true;
}

/* Bytes taken by one bound value of type t at buf[*pos]; -1 if malformed. */
static int skip_value(const uint8_t *buf, size_t len, size_t *pos, uint8_t type)
{
    size_t need;

    switch (type) {
    case MYSQL_TYPE_NULL: need = 0; break;
    case MYSQL_TYPE_TINY: need = 1; break;
    case MYSQL_TYPE_SHORT: case MYSQL_TYPE_YEAR: need = 2; break;
    case MYSQL_TYPE_LONG: case MYSQL_TYPE_INT24: case MYSQL_TYPE_FLOAT: need = 4; break;
    case MYSQL_TYPE_LONGLONG: case MYSQL_TYPE_DOUBLE: need = 8; break;
    case MYSQL_TYPE_DATE: case MYSQL_TYPE_TIME: case MYSQL_TYPE_DATETIME:
    case MYSQL_TYPE_TIMESTAMP:
        if (*pos >= len)
            return -1;
        need = 1 + (size_t)buf[*pos];
        break;
    default: {
        const uint8_t *s;
        uint64_t n;
        return mysql_lenenc_str_read(buf, len, pos, &s, &n);
    }
    }
    if (len - *pos < need)
        return -1;
    *pos += need;
    return 0;
}

/* Decode the value of type t (flags f) at buf[pos]. */
static int read_value(const uint8_t *buf, size_t len, size_t pos, uint8_t t,
                      uint8_t f, struct mysql_param_value *v)
{
    bool is_unsigned = (f & 0x80) != 0;
    size_t p = pos;
    int64_t sv;

    if (skip_value(buf, len, &p, t) != 0)
        return -1;
    switch (t) {
    case MYSQL_TYPE_TINY:
        sv = is_unsigned ? (int64_t)buf[pos] : (int64_t)(int8_t)buf[pos];
        break;
    case MYSQL_TYPE_SHORT: case MYSQL_TYPE_YEAR:
        sv = is_unsigned ? (int64_t)get_u16(buf + pos) : (int64_t)(int16_t)get_u16(buf + pos);
        break;
    case MYSQL_TYPE_LONG: case MYSQL_TYPE_INT24:
        sv = is_unsigned ? (int64_t)get_u32(buf + pos) : (int64_t)(int32_t)get_u32(buf + pos);
        break;
    case MYSQL_TYPE_LONGLONG:
        v->is_int = true;
        v->u = get_u64(buf + pos);
        v->negative = !is_unsigned && (int64_t)v->u < 0;
        return 0;
    case MYSQL_TYPE_NULL:
        v->is_null = true;
        return 0;
    case MYSQL_TYPE_DECIMAL: case MYSQL_TYPE_NEWDECIMAL: case MYSQL_TYPE_VARCHAR:
    case MYSQL_TYPE_VAR_STRING: case MYSQL_TYPE_STRING: {
        const uint8_t *s;
        uint64_t n;
        size_t q = pos;
        if (mysql_lenenc_str_read(buf, len, &q, &s, &n) != 0)
            return -1;
        parse_decimal(s, (size_t)n, v);
        return 0;
    }
    default:
        return 0;   /* a float, a date, a blob: not a key */
    }
    v->is_int = true;
    v->negative = sv < 0;
    v->u = (uint64_t)sv;
    return 0;
}

int mysql_execute_param(const uint8_t *payload, size_t len, uint16_t nparams,
                        uint8_t *types, bool *types_known,
                        const uint8_t *long_data, uint16_t index,
                        struct mysql_param_value *out)
{
    size_t i = 1 + 4 + 1 + 4, bitmap = ((size_t)nparams + 7) / 8;

    memset(out, 0, sizeof(*out));
    if (index >= nparams || len < i + bitmap + 1)
        return -1;
    const uint8_t *nulls = payload + i;
    i += bitmap;
    uint8_t rebound = payload[i++];
    if (rebound == 1) {
        if (len - i < 2u * nparams)
            return -1;
        memcpy(types, payload + i, 2u * nparams);
        *types_known = true;
        i += 2u * nparams;
    } else if (rebound != 0 || !*types_known) {
        return -1;
    }
    for (uint16_t k = 0; k < nparams; k++) {
        bool is_null = (nulls[k / 8] >> (k % 8)) & 1;
        bool is_long = long_data && ((long_data[k / 8] >> (k % 8)) & 1);
        if (is_long && !is_null) {
            if (k == index)
                return 0;
            continue;
        }
        if (k == index) {
            if (is_null) {
                out->is_null = true;
                return 0;
            }
            return read_value(payload, len, i, types[2 * k], types[2 * k + 1], out);
        }
        if (!is_null && skip_value(payload, len, &i, types[2 * k]) != 0)
            return -1;
    }
    return -1;
}

/* A decimal number of 1 to 3 digits at *s, advanced; -1 if none. */
static long version_part(const char **s)
{
    long v = 0;
    int n = 0;

    while (n < 3 && **s >= '0' && **s <= '9') {
        v = v * 10 + (**s - '0');
        (*s)++;
        n++;
    }
    return n == 0 || (**s >= '0' && **s <= '9') ? -1 : v;
}

unsigned long mysql_mariadb_version(const char *server_version)
{
    const char *s = server_version;
    long major, minor, patch;

    if (strstr(s, "MariaDB") == NULL)
        return 0;
    if (strncmp(s, "5.5.5-", 6) == 0)   /* the replication-compatible prefix */
        s += 6;
    if ((major = version_part(&s)) < 0 || *s++ != '.' ||
        (minor = version_part(&s)) < 0 || *s++ != '.' ||
        (patch = version_part(&s)) < 0)
        return 0;
    if (major < 10 || major > 99 || minor > 99 || patch > 99)
        return 0;
    return (unsigned long)(major * 10000 + minor * 100 + patch);
}
