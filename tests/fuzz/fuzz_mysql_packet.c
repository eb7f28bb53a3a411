/*
 * fuzz_mysql_packet.c: every parser of the proxy's MySQL protocol codec
 * (proxy/mysql_packet.h) on bytes a client or server can send.
 *
 *   bytes 0-3: parameters (nparams, index, flags, a length); the rest is
 *   the payload every parser reads, copied to an exact-size buffer so
 *   AddressSanitizer sees any read past its end
 *
 * Properties: no read or write out of bounds; what a parser points at lies
 * inside the payload; headers and length-encoded integers decode to what
 * was encoded; masking a greeting or handshake response is idempotent,
 * changes only the capability fields, and leaves a parsable packet
 * parsable with the masked capabilities (and MariaDB's extended ones)
 * cleared; a built ERR packet parses back to its code, state and message.
 */
#include <string.h>

#include "proxy/mysql_packet.h"
#include "tests/fuzz/fuzz.h"

static bool inside(const void *p, size_t n, const uint8_t *buf, size_t len)
{
    const uint8_t *q = p;
    return q >= buf && q <= buf + len && n <= (size_t)(buf + len - q);
}

static void check_header(const uint8_t *p, size_t len)
{
    struct mysql_header h;
    uint8_t enc[MYSQL_HEADER_LEN];

    if (mysql_header_decode(p, len, &h) != 0) {
        FUZZ_CHECK(len < MYSQL_HEADER_LEN);
        return;
    }
    FUZZ_CHECK(h.len <= MYSQL_PAYLOAD_MAX);
    mysql_header_encode(enc, h.len, h.seq);
    FUZZ_CHECK(memcmp(enc, p, MYSQL_HEADER_LEN) == 0);
}

/* A complete logical packet joins to the payloads of its pieces. */
static void check_framing(const uint8_t *p, size_t len)
{
    size_t wire = 0, payload = 0, off = 0, o = 0;

    if (mysql_packet_complete(p, len, &wire, &payload) != 1)
        return;
    FUZZ_CHECK(wire <= len && payload <= wire);
    uint8_t *out = malloc(payload ? payload : 1);
    if (out == NULL)
        return;
    uint8_t seq = mysql_packet_join(p, wire, out);
    for (;;) {
        struct mysql_header h;
        FUZZ_CHECK(mysql_header_decode(p + off, wire - off, &h) == 0);
        FUZZ_CHECK(memcmp(out + o, p + off + MYSQL_HEADER_LEN, h.len) == 0);
        o += h.len;
        off += MYSQL_HEADER_LEN + h.len;
        if (h.len < MYSQL_PAYLOAD_MAX) {
            FUZZ_CHECK(h.seq == seq);
            break;
        }
    }
    FUZZ_CHECK(off == wire && o == payload);
    free(out);
}

static void check_lenenc(const uint8_t *p, size_t len)
{
    for (size_t pos = 0; pos < len && pos < 16; pos++) {
        size_t at = pos;
        uint64_t v;
        bool is_null;
        uint8_t enc[9];
        if (mysql_lenenc_int_read(p, len, &at, &v, &is_null) == 0) {
            FUZZ_CHECK(at > pos && at <= len);
            size_t n = mysql_lenenc_int_write(enc, v);
            size_t back = 0;
            uint64_t again;
            FUZZ_CHECK(n == mysql_lenenc_int_size(v) && n <= sizeof(enc));
            FUZZ_CHECK(mysql_lenenc_int_read(enc, n, &back, &again, NULL) == 0);
            FUZZ_CHECK(back == n && again == v);
        }
        at = pos;
        const uint8_t *s;
        uint64_t slen;
        if (mysql_lenenc_str_read(p, len, &at, &s, &slen) == 0) {
            FUZZ_CHECK(inside(s, (size_t)slen, p, len));
            FUZZ_CHECK(at == (size_t)(s - p) + slen);
        }
    }
}

/* Bytes of a and b differ only in the n fields at off[k], width[k] long. */
static bool same_but(const uint8_t *a, const uint8_t *b, size_t len, const size_t *off,
                     const size_t *width, size_t n)
{
    for (size_t i = 0; i < len; i++) {
        bool field = false;
        for (size_t k = 0; k < n; k++)
            field |= i >= off[k] && i < off[k] + width[k];
        if (!field && a[i] != b[i])
            return false;
    }
    return true;
}

static void check_greeting(const uint8_t *p, size_t len)
{
    struct mysql_greeting g, m;
    uint8_t *copy = malloc(len ? len : 1);

    if (copy == NULL)
        return;
    memcpy(copy, p, len);
    bool parsed = mysql_greeting_parse(p, len, &g) == 0;
    FUZZ_CHECK((mysql_greeting_mask(copy, len) == 0) == parsed);
    if (!parsed) {
        FUZZ_CHECK(memcmp(copy, p, len) == 0);
        free(copy);
        return;
    }
    FUZZ_CHECK(inside(g.server_version, strlen(g.server_version) + 1, p, len));
    FUZZ_CHECK(g.caps_low_off + 2 <= len);
    FUZZ_CHECK(g.caps_high_off == 0 || g.mariadb_caps_off + 4 <= len);
    size_t off[3] = { g.caps_low_off, g.caps_high_off, g.mariadb_caps_off };
    size_t width[3] = { 2, 2, 4 };
    FUZZ_CHECK(same_but(p, copy, len, off, width, g.caps_high_off ? 3 : 1));
    FUZZ_CHECK(mysql_greeting_parse(copy, len, &m) == 0);
    FUZZ_CHECK((m.caps & MYSQL_CAPS_MASKED) == 0 && m.mariadb_caps == 0);
    FUZZ_CHECK((m.caps | MYSQL_CAPS_MASKED) == (g.caps | MYSQL_CAPS_MASKED));
    FUZZ_CHECK(m.thread_id == g.thread_id && m.status == g.status);
    uint8_t *twice = malloc(len);
    if (twice != NULL) {
        memcpy(twice, copy, len);
        FUZZ_CHECK(mysql_greeting_mask(twice, len) == 0 && memcmp(twice, copy, len) == 0);
        free(twice);
    }
    free(copy);
}

static void check_auth_parsed(const struct mysql_auth_response *a, const uint8_t *p,
                              size_t len)
{
    if (a->user != NULL)
        FUZZ_CHECK(inside(a->user, strlen(a->user) + 1, p, len));
    if (a->database != NULL)
        FUZZ_CHECK(inside(a->database, a->database_len, p, len));
}

static void check_auth(const uint8_t *p, size_t len)
{
    struct mysql_auth_response a, m;
    uint8_t *copy = malloc(len ? len : 1);

    if (copy == NULL)
        return;
    memcpy(copy, p, len);
    bool parsed = mysql_auth_response_parse(p, len, &a) == 0;
    if (parsed)
        check_auth_parsed(&a, p, len);
    if (mysql_auth_response_mask(copy, len) != 0) {
        FUZZ_CHECK(len < 32 && memcmp(copy, p, len) == 0);
        free(copy);
        return;
    }
    size_t off[2] = { 0, 28 }, width[2] = { 4, 4 };
    FUZZ_CHECK(same_but(p, copy, len, off, width, 2));
    uint8_t *twice = malloc(len);
    if (twice != NULL) {
        memcpy(twice, copy, len);
        FUZZ_CHECK(mysql_auth_response_mask(twice, len) == 0 && memcmp(twice, copy, len) == 0);
        free(twice);
    }
    if (parsed && !a.ssl_request) {
        FUZZ_CHECK(mysql_auth_response_parse(copy, len, &m) == 0);
        FUZZ_CHECK((m.caps & MYSQL_CAPS_MASKED) == 0);
        FUZZ_CHECK((m.caps | MYSQL_CAPS_MASKED) == (a.caps | MYSQL_CAPS_MASKED));
        FUZZ_CHECK(strcmp(m.user, a.user) == 0 && m.database_len == a.database_len);
    }
    free(copy);
}

static void check_responses(const uint8_t *p, size_t len, unsigned flags)
{
    struct mysql_ok ok;
    struct mysql_err e;
    struct mysql_prepare_ok po;
    uint16_t warnings, status;
    uint32_t id;

    if (len > 0)
        FUZZ_CHECK((unsigned)mysql_response_kind(p[0], len, flags & 1) <=
                   MYSQL_RESP_DATA);
    mysql_ok_parse(p, len, &ok);
    mysql_eof_parse(p, len, &warnings, &status);
    if (mysql_err_parse(p, len, &e) == 0) {
        FUZZ_CHECK(inside(e.message, e.message_len, p, len));
        FUZZ_CHECK(memchr(e.sqlstate, '\0', sizeof(e.sqlstate)) != NULL);
    }
    mysql_prepare_ok_parse(p, len, &po);
    FUZZ_CHECK((mysql_stmt_id(p, len, &id) == 0) == (len >= 5));
}

/* An ERR packet built from the input's text parses back to what went in. */
static void check_err_build(const uint8_t *p, size_t len, size_t cap)
{
    char *msg = malloc(len + 1);
    uint8_t *out = malloc(cap ? cap : 1);
    struct mysql_err e;

    if (msg == NULL || out == NULL)
        goto done;
    memcpy(msg, p, len);
    msg[len] = '\0';
    size_t n = mysql_err_build(out, cap, 3, 7401, "UR001", msg);
    if (n == 0) {
        FUZZ_CHECK(cap < MYSQL_HEADER_LEN + 9);
        goto done;
    }
    FUZZ_CHECK(n <= cap);
    struct mysql_header h;
    FUZZ_CHECK(mysql_header_decode(out, n, &h) == 0 && h.len == n - MYSQL_HEADER_LEN);
    FUZZ_CHECK(h.seq == 3);
    FUZZ_CHECK(mysql_err_parse(out + MYSQL_HEADER_LEN, h.len, &e) == 0);
    FUZZ_CHECK(e.code == 7401 && strcmp(e.sqlstate, "UR001") == 0);
    FUZZ_CHECK(e.message_len <= strlen(msg) && memcmp(e.message, msg, e.message_len) == 0);
done:
    free(msg);
    free(out);
}

/* One parameter of an EXECUTE, with types remembered or not. */
static void check_execute(const uint8_t *p, size_t len, uint16_t nparams, uint16_t index,
                          unsigned flags)
{
    uint8_t *types = calloc(nparams ? 2u * nparams : 1, 1);
    uint8_t *long_data = calloc((nparams + 7u) / 8 + 1, 1);
    bool known = (flags & 2) != 0;
    struct mysql_param_value v;

    if (types != NULL && long_data != NULL) {
        if (flags & 4)
            long_data[0] = (uint8_t)(flags >> 3);
        if (mysql_execute_param(p, len, nparams, types, &known,
                                (flags & 4) ? long_data : NULL, index, &v) == 0)
            FUZZ_CHECK(!(v.is_null && v.is_int));
    }
    free(types);
    free(long_data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    uint16_t nparams = data[0] % 40;
    uint16_t index = data[1] % 41;
    unsigned flags = data[2];
    size_t cap = data[3];
    size_t len = size - 4;
    uint8_t *p = malloc(len ? len : 1);

    if (p == NULL)
        return 0;
    memcpy(p, data + 4, len);
    check_header(p, len);
    check_framing(p, len);
    check_lenenc(p, len);
    check_greeting(p, len);
    check_auth(p, len);
    check_responses(p, len, flags);
    check_err_build(p, len, cap);
    check_execute(p, len, nparams, index, flags);
    free(p);
    return 0;
}
