/*
 * test_mysql_packet: framing, length-encoded values, handshake parsing and
 * masking, OK/ERR/EOF, prepared-statement parameters; malformed input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/mysql_packet.h"

static void test_header_roundtrip(void **state)
{
    uint8_t b[4];
    struct mysql_header h;

    (void)state;
    mysql_header_encode(b, 0x123456, 7);
    assert_int_equal(mysql_header_decode(b, 4, &h), 0);
    assert_int_equal(h.len, 0x123456);
    assert_int_equal(h.seq, 7);
    assert_int_equal(mysql_header_decode(b, 3, &h), -1);
}

static void test_complete_single_and_partial(void **state)
{
    uint8_t b[16] = { 3, 0, 0, 0, 'a', 'b', 'c', 9, 9 };
    size_t wire, payload;

    (void)state;
    assert_int_equal(mysql_packet_complete(b, 7, &wire, &payload), 1);
    assert_int_equal(wire, 7);
    assert_int_equal(payload, 3);
    assert_int_equal(mysql_packet_complete(b, 6, &wire, &payload), 0);
    assert_int_equal(mysql_packet_complete(b, 2, &wire, &payload), 0);
    assert_int_equal(mysql_packet_complete(b, 0, &wire, &payload), 0);
}

/* A payload of n bytes split into packets the protocol's way. */
static uint8_t *split(const uint8_t *payload, size_t n, size_t *wire, uint8_t seq0)
{
    size_t chunks = n / MYSQL_PAYLOAD_MAX + 1;
    uint8_t *out = malloc(n + chunks * MYSQL_HEADER_LEN);
    size_t o = 0, i = 0;
    uint8_t seq = seq0;

    for (;;) {
        size_t len = n - i < MYSQL_PAYLOAD_MAX ? n - i : MYSQL_PAYLOAD_MAX;
        mysql_header_encode(out + o, (uint32_t)len, seq++);
        memcpy(out + o + 4, payload + i, len);
        o += 4 + len;
        i += len;
        if (len < MYSQL_PAYLOAD_MAX)
            break;
    }
    *wire = o;
    return out;
}

static void test_multi_packet(void **state)
{
    size_t n = 2 * (size_t)MYSQL_PAYLOAD_MAX + 10, wire, w2, p2;
    uint8_t *payload = malloc(n), *joined = malloc(n);

    (void)state;
    for (size_t i = 0; i < n; i++)
        payload[i] = (uint8_t)(i * 7);
    uint8_t *pk = split(payload, n, &wire, 0);
    assert_int_equal(wire, n + 3 * 4);
    assert_int_equal(mysql_packet_complete(pk, wire, &w2, &p2), 1);
    assert_int_equal(w2, wire);
    assert_int_equal(p2, n);
    assert_int_equal(mysql_packet_complete(pk, wire - 1, &w2, &p2), 0);
    assert_int_equal(mysql_packet_complete(pk, MYSQL_PAYLOAD_MAX + 4, &w2, &p2), 0);
    assert_int_equal(mysql_packet_join(pk, wire, joined), 2);
    assert_memory_equal(joined, payload, n);
    /* a continuation with a wrong sequence id */
    pk[MYSQL_PAYLOAD_MAX + 4 + 3] = 9;
    assert_int_equal(mysql_packet_complete(pk, wire, &w2, &p2), -1);
    free(pk);
    /* exactly 0xffffff bytes: followed by an empty packet */
    pk = split(payload, MYSQL_PAYLOAD_MAX, &wire, 5);
    assert_int_equal(wire, MYSQL_PAYLOAD_MAX + 8);
    assert_int_equal(mysql_packet_complete(pk, wire, &w2, &p2), 1);
    assert_int_equal(p2, MYSQL_PAYLOAD_MAX);
    free(pk);
    free(payload);
    free(joined);
}

static void test_lenenc(void **state)
{
    static const uint64_t vals[] = { 0, 250, 251, 0xffff, 0x10000, 0xffffff,
                                     0x1000000, UINT64_MAX };
    uint8_t b[16];
    size_t pos;
    uint64_t v;
    bool is_null;

    (void)state;
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        size_t n = mysql_lenenc_int_write(b, vals[i]);
        assert_int_equal(n, mysql_lenenc_int_size(vals[i]));
        pos = 0;
        assert_int_equal(mysql_lenenc_int_read(b, n, &pos, &v, NULL), 0);
        assert_int_equal(pos, n);
        assert_true(v == vals[i]);
        pos = 0;    /* truncated */
        if (n > 1)
            assert_int_equal(mysql_lenenc_int_read(b, n - 1, &pos, &v, NULL), -1);
    }
    b[0] = 0xfb;
    pos = 0;
    assert_int_equal(mysql_lenenc_int_read(b, 1, &pos, &v, NULL), -1);
    assert_int_equal(mysql_lenenc_int_read(b, 1, &pos, &v, &is_null), 0);
    assert_true(is_null);
    b[0] = 0xff;
    pos = 0;
    assert_int_equal(mysql_lenenc_int_read(b, 1, &pos, &v, &is_null), -1);
    pos = 0;
    assert_int_equal(mysql_lenenc_int_read(b, 0, &pos, &v, &is_null), -1);

    const uint8_t s[] = { 3, 'a', 'b', 'c', 5, 'x' };
    const uint8_t *str;
    uint64_t slen;
    pos = 0;
    assert_int_equal(mysql_lenenc_str_read(s, sizeof(s), &pos, &str, &slen), 0);
    assert_int_equal(slen, 3);
    assert_memory_equal(str, "abc", 3);
    assert_int_equal(mysql_lenenc_str_read(s, sizeof(s), &pos, &str, &slen), -1);
}

/* A MariaDB 10.x style greeting. */
static size_t make_greeting(uint8_t *p, uint32_t caps, uint32_t mariadb_caps)
{
    size_t i = 0;

    p[i++] = 10;
    memcpy(p + i, "5.5.5-10.11.6-MariaDB", 22);
    i += 22;
    p[i++] = 1; p[i++] = 0; p[i++] = 0; p[i++] = 0;       /* thread id */
    memcpy(p + i, "12345678", 8);
    i += 8;
    p[i++] = 0;
    p[i++] = (uint8_t)caps; p[i++] = (uint8_t)(caps >> 8);
    p[i++] = 45;                                          /* charset */
    p[i++] = 2; p[i++] = 0;                               /* status */
    p[i++] = (uint8_t)(caps >> 16); p[i++] = (uint8_t)(caps >> 24);
    p[i++] = 21;                                          /* auth data len */
    memset(p + i, 0, 6);
    i += 6;
    for (int k = 0; k < 4; k++)
        p[i++] = (uint8_t)(mariadb_caps >> (8 * k));
    memcpy(p + i, "abcdefghijkl", 13);
    i += 13;
    memcpy(p + i, "mysql_native_password", 22);
    i += 22;
    return i;
}

static void test_greeting_parse_and_mask(void **state)
{
    uint8_t p[128];
    uint32_t caps = 0xfffff7fe | MYSQL_CLIENT_SSL | MYSQL_CLIENT_COMPRESS; /* no CLIENT_MYSQL */
    size_t n = make_greeting(p, caps, 0x1d);
    struct mysql_greeting g;

    (void)state;
    assert_int_equal(mysql_greeting_parse(p, n, &g), 0);
    assert_string_equal(g.server_version, "5.5.5-10.11.6-MariaDB");
    assert_int_equal(g.thread_id, 1);
    assert_int_equal(g.caps, caps);
    assert_int_equal(g.mariadb_caps, 0x1d);
    assert_int_equal(mysql_greeting_mask(p, n), 0);
    assert_int_equal(mysql_greeting_parse(p, n, &g), 0);
    assert_int_equal(g.caps & MYSQL_CAPS_MASKED, 0);
    assert_int_equal(g.caps & MYSQL_CLIENT_PROTOCOL_41, MYSQL_CLIENT_PROTOCOL_41);
    assert_int_equal(g.mariadb_caps, 0);
    /* malformed: every truncation fails or parses, never reads past */
    for (size_t k = 0; k < n; k++) {
        uint8_t *cut = malloc(k ? k : 1);
        memcpy(cut, p, k);
        int rc = mysql_greeting_parse(cut, k, &g);
        if (k < 38)      /* 38: the short pre-4.1 form */
            assert_int_equal(rc, -1);
        free(cut);
    }
    p[0] = 9;
    assert_int_equal(mysql_greeting_mask(p, n), -1);
}

/*
 * A MySQL 8 greeting (CLIENT_MYSQL set, plugin caching_sha2_password): TLS,
 * compression, zstd, query attributes and optional metadata are masked, the
 * rest (plugin auth, deprecate EOF, ...) and the nonce pass untouched.
 */
static void test_greeting_mysql8_mask(void **state)
{
    uint8_t p[128];
    size_t i = 0;
    uint32_t caps = 0x0fffffffu;       /* MySQL 8.0.3x advertises these */
    uint32_t keep = MYSQL_CLIENT_MYSQL | MYSQL_CLIENT_PROTOCOL_41 |
                    MYSQL_CLIENT_PLUGIN_AUTH | MYSQL_CLIENT_PLUGIN_AUTH_LENENC |
                    MYSQL_CLIENT_SECURE_CONNECTION | MYSQL_CLIENT_DEPRECATE_EOF |
                    MYSQL_CLIENT_SESSION_TRACK | MYSQL_CLIENT_MULTI_RESULTS;
    struct mysql_greeting g;

    (void)state;
    p[i++] = 10;
    memcpy(p + i, "8.0.36", 7);
    i += 7;
    p[i++] = 9; p[i++] = 0; p[i++] = 0; p[i++] = 0;       /* thread id */
    memcpy(p + i, "NONCE-01", 8);
    i += 8;
    p[i++] = 0;
    p[i++] = (uint8_t)caps; p[i++] = (uint8_t)(caps >> 8);
    p[i++] = 255;                                         /* utf8mb4_0900 */
    p[i++] = 2; p[i++] = 0;
    p[i++] = (uint8_t)(caps >> 16); p[i++] = (uint8_t)(caps >> 24);
    p[i++] = 21;
    memset(p + i, 0, 10);
    i += 10;
    memcpy(p + i, "NONCE-TWO-12", 13);
    i += 13;
    memcpy(p + i, "caching_sha2_password", 22);
    i += 22;
    uint8_t before[128];
    memcpy(before, p, i);
    assert_int_equal(mysql_greeting_mask(p, i), 0);
    assert_int_equal(mysql_greeting_parse(p, i, &g), 0);
    assert_int_equal(g.caps & (MYSQL_CLIENT_SSL | MYSQL_CLIENT_COMPRESS | MYSQL_CLIENT_ZSTD |
                               MYSQL_CLIENT_QUERY_ATTRIBUTES |
                               MYSQL_CLIENT_OPTIONAL_METADATA), 0);
    assert_int_equal(g.caps & keep, keep);
    assert_int_equal(g.caps, caps & ~MYSQL_CAPS_MASKED);
    /* only the two capability words changed: nonce and plugin name intact */
    for (size_t k = 0; k < i; k++)
        if (k != 21 && k != 22 && k != 26 && k != 27)
            assert_int_equal(p[k], before[k]);
    assert_int_equal(g.caps_low_off, 21);
    assert_int_equal(g.caps_high_off, 26);
    assert_memory_equal(p + i - 22, "caching_sha2_password", 22);
}

static size_t make_auth_response(uint8_t *p, uint32_t caps, const char *db)
{
    size_t i = 0;

    memset(p, 0, 32);
    p[0] = (uint8_t)caps; p[1] = (uint8_t)(caps >> 8);
    p[2] = (uint8_t)(caps >> 16); p[3] = (uint8_t)(caps >> 24);
    p[8] = 45;
    p[28] = 0x1d;
    i = 32;
    memcpy(p + i, "root", 5);
    i += 5;
    p[i++] = 20;
    memset(p + i, 'x', 20);
    i += 20;
    if (db) {
        memcpy(p + i, db, strlen(db) + 1);
        i += strlen(db) + 1;
    }
    return i;
}

static void test_auth_response(void **state)
{
    uint8_t p[128];
    struct mysql_auth_response a;
    uint32_t caps = MYSQL_CLIENT_PROTOCOL_41 | MYSQL_CLIENT_SECURE_CONNECTION |
                    MYSQL_CLIENT_CONNECT_WITH_DB | MYSQL_CLIENT_COMPRESS |
                    MYSQL_CLIENT_QUERY_ATTRIBUTES | MYSQL_CLIENT_OPTIONAL_METADATA;
    size_t n = make_auth_response(p, caps, "shop");

    (void)state;
    assert_int_equal(mysql_auth_response_parse(p, n, &a), 0);
    assert_string_equal(a.user, "root");
    assert_int_equal(a.database_len, 4);
    assert_memory_equal(a.database, "shop", 4);
    assert_false(a.ssl_request);
    assert_int_equal(mysql_auth_response_mask(p, n), 0);
    assert_int_equal(mysql_auth_response_parse(p, n, &a), 0);
    assert_int_equal(a.caps & MYSQL_CLIENT_COMPRESS, 0);
    assert_int_equal(a.caps & (MYSQL_CLIENT_QUERY_ATTRIBUTES | MYSQL_CLIENT_OPTIONAL_METADATA), 0);
    assert_int_equal(a.caps & MYSQL_CLIENT_CONNECT_WITH_DB, MYSQL_CLIENT_CONNECT_WITH_DB);
    assert_int_equal(p[28], 0);
    /* an SSL request: 32 bytes */
    n = make_auth_response(p, MYSQL_CLIENT_PROTOCOL_41 | MYSQL_CLIENT_SSL, NULL);
    assert_int_equal(mysql_auth_response_parse(p, 32, &a), 0);
    assert_true(a.ssl_request);
    /* truncated auth data length */
    n = make_auth_response(p, caps, NULL);
    assert_int_equal(mysql_auth_response_parse(p, 38, &a), 0 - 1);
    /* no NUL after the user */
    memset(p + 32, 'u', 20);
    assert_int_equal(mysql_auth_response_parse(p, 52, &a), -1);
    /* pre-4.1 */
    p[1] = 0;
    assert_int_equal(mysql_auth_response_parse(p, n, &a), -1);
    assert_int_equal(mysql_auth_response_mask(p, 31), -1);
}

static void test_response_kinds(void **state)
{
    (void)state;
    assert_int_equal(mysql_response_kind(0x00, 7, false), MYSQL_RESP_OK);
    assert_int_equal(mysql_response_kind(0xff, 9, false), MYSQL_RESP_ERR);
    assert_int_equal(mysql_response_kind(0xfe, 5, false), MYSQL_RESP_EOF);
    assert_int_equal(mysql_response_kind(0xfe, 9, false), MYSQL_RESP_DATA);
    assert_int_equal(mysql_response_kind(0xfe, 7, true), MYSQL_RESP_OK);
    assert_int_equal(mysql_response_kind(0xfe, MYSQL_PAYLOAD_MAX, true), MYSQL_RESP_DATA);
    assert_int_equal(mysql_response_kind(0x03, 1, false), MYSQL_RESP_DATA);
    assert_int_equal(mysql_response_kind(0xfb, 5, false), MYSQL_RESP_LOCAL_INFILE);
    assert_int_equal(mysql_response_kind(0x00, 0, false), MYSQL_RESP_DATA);
}

static void test_ok_eof_err(void **state)
{
    const uint8_t ok[] = { 0x00, 0xfc, 0x10, 0x27, 0x05,
                           MYSQL_STATUS_IN_TRANS | MYSQL_STATUS_MORE_RESULTS, 0, 2, 0 };
    const uint8_t eof[] = { 0xfe, 1, 0, MYSQL_STATUS_IN_TRANS, 0 };
    struct mysql_ok o;
    uint16_t w, st;

    (void)state;
    assert_int_equal(mysql_ok_parse(ok, sizeof(ok), &o), 0);
    assert_int_equal(o.affected_rows, 10000);
    assert_int_equal(o.last_insert_id, 5);
    assert_true(o.status & MYSQL_STATUS_IN_TRANS);
    assert_true(o.status & MYSQL_STATUS_MORE_RESULTS);
    assert_int_equal(o.warnings, 2);
    assert_int_equal(mysql_ok_parse(ok, 5, &o), -1);
    assert_int_equal(mysql_ok_parse(ok, 2, &o), -1);
    assert_int_equal(mysql_eof_parse(eof, sizeof(eof), &w, &st), 0);
    assert_int_equal(w, 1);
    assert_int_equal(st, MYSQL_STATUS_IN_TRANS);
    assert_int_equal(mysql_eof_parse(eof, 4, &w, &st), -1);

    uint8_t buf[64];
    struct mysql_err e;
    size_t n = mysql_err_build(buf, sizeof(buf), 1, 7403, "UR003", "banned bucket");
    assert_int_equal(n, 4 + 9 + 13);
    assert_int_equal(buf[3], 1);
    assert_int_equal(mysql_err_parse(buf + 4, n - 4, &e), 0);
    assert_int_equal(e.code, 7403);
    assert_string_equal(e.sqlstate, "UR003");
    assert_int_equal(e.message_len, 13);
    assert_memory_equal(e.message, "banned bucket", 13);
    /* cut to fit */
    n = mysql_err_build(buf, 20, 1, 1, "HY000", "a long message that does not fit");
    assert_int_equal(n, 20);
    assert_int_equal(buf[0], 16);
    assert_int_equal(mysql_err_build(buf, 8, 1, 1, "HY000", "x"), 0);
    assert_int_equal(mysql_err_build(buf, 64, 1, 1, "HY0", "x"), 0);
    assert_int_equal(mysql_err_parse(buf, 2, &e), -1);
    const uint8_t old_err[] = { 0xff, 0x10, 0x04, 'h', 'i' };
    assert_int_equal(mysql_err_parse(old_err, sizeof(old_err), &e), 0);
    assert_string_equal(e.sqlstate, "");
}

static void test_prepare_ok(void **state)
{
    const uint8_t p[] = { 0, 7, 0, 0, 0, 2, 0, 3, 0, 0, 1, 0 };
    struct mysql_prepare_ok o;

    (void)state;
    assert_int_equal(mysql_prepare_ok_parse(p, sizeof(p), &o), 0);
    assert_int_equal(o.stmt_id, 7);
    assert_int_equal(o.columns, 2);
    assert_int_equal(o.params, 3);
    assert_int_equal(o.warnings, 1);
    assert_int_equal(mysql_prepare_ok_parse(p, 11, &o), -1);
}

/* EXECUTE of a 3-parameter statement: (string 'ab', longlong key, NULL). */
static size_t make_execute(uint8_t *p, bool rebind, uint64_t key)
{
    size_t i = 0;

    p[i++] = MYSQL_COM_STMT_EXECUTE;
    p[i++] = 7; p[i++] = 0; p[i++] = 0; p[i++] = 0;
    p[i++] = 0;
    p[i++] = 1; p[i++] = 0; p[i++] = 0; p[i++] = 0;
    p[i++] = 0x04;                  /* null bitmap: parameter 2 */
    p[i++] = rebind ? 1 : 0;
    if (rebind) {
        p[i++] = MYSQL_TYPE_VAR_STRING; p[i++] = 0;
        p[i++] = MYSQL_TYPE_LONGLONG; p[i++] = 0x80;
        p[i++] = MYSQL_TYPE_LONG; p[i++] = 0;
    }
    p[i++] = 2; p[i++] = 'a'; p[i++] = 'b';
    for (int k = 0; k < 8; k++)
        p[i++] = (uint8_t)(key >> (8 * k));
    return i;
}

static void test_execute_params(void **state)
{
    uint8_t p[64], types[6];
    bool known = false;
    struct mysql_param_value v;
    uint32_t id;

    (void)state;
    size_t n = make_execute(p, false, 5);
    assert_int_equal(mysql_execute_param(p, n, 3, types, &known, NULL, 1, &v), -1);
    n = make_execute(p, true, 1234567890123ull);
    assert_int_equal(mysql_stmt_id(p, n, &id), 0);
    assert_int_equal(id, 7);
    assert_int_equal(mysql_execute_param(p, n, 3, types, &known, NULL, 1, &v), 0);
    assert_true(known);
    assert_true(v.is_int);
    assert_true(v.u == 1234567890123ull);
    assert_int_equal(mysql_execute_param(p, n, 3, types, &known, NULL, 2, &v), 0);
    assert_true(v.is_null);
    assert_int_equal(mysql_execute_param(p, n, 3, types, &known, NULL, 0, &v), 0);
    assert_false(v.is_int);
    assert_int_equal(mysql_execute_param(p, n, 3, types, &known, NULL, 3, &v), -1);
    /* a later execute reuses the types */
    n = make_execute(p, false, 99);
    assert_int_equal(mysql_execute_param(p, n, 3, types, &known, NULL, 1, &v), 0);
    assert_true(v.u == 99);
    /* parameter 0 went as long data: its bytes are absent */
    uint8_t ld = 0x01;
    uint8_t q[64];
    memcpy(q, p, 12);
    memcpy(q + 12, p + 15, 8);
    assert_int_equal(mysql_execute_param(q, 20, 3, types, &known, &ld, 1, &v), 0);
    assert_true(v.u == 99);
    assert_int_equal(mysql_execute_param(q, 20, 3, types, &known, &ld, 0, &v), 0);
    assert_false(v.is_int);
    /* truncations never read past the end */
    n = make_execute(p, true, 5);
    for (size_t k = 0; k < n; k++) {
        uint8_t *cut = malloc(k ? k : 1);
        memcpy(cut, p, k);
        known = false;
        assert_int_equal(mysql_execute_param(cut, k, 3, types, &known, NULL, 1, &v), -1);
        free(cut);
    }
    /* a decimal string key */
    uint8_t s[32] = { MYSQL_COM_STMT_EXECUTE, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1,
                      MYSQL_TYPE_VAR_STRING, 0, 3, '4', '2', '1' };
    known = false;
    assert_int_equal(mysql_execute_param(s, 18, 1, types, &known, NULL, 0, &v), 0);
    assert_true(v.is_int);
    assert_true(v.u == 421);
    s[16] = 'x';
    assert_int_equal(mysql_execute_param(s, 18, 1, types, &known, NULL, 0, &v), 0);
    assert_false(v.is_int);
}

/* The version id versioned comments compare with, from the greeting. */
static void test_mariadb_version(void **state)
{
    (void)state;
    assert_int_equal(mysql_mariadb_version("5.5.5-10.11.19-MariaDB-0+deb12u1-log"), 101119);
    assert_int_equal(mysql_mariadb_version("10.6.16-MariaDB"), 100616);
    assert_int_equal(mysql_mariadb_version("11.4.2-MariaDB-log"), 110402);
    assert_int_equal(mysql_mariadb_version("8.0.36"), 0);               /* MySQL */
    assert_int_equal(mysql_mariadb_version("5.5.68-MariaDB"), 0);       /* before 10 */
    assert_int_equal(mysql_mariadb_version("10.100.1-MariaDB"), 0);
    assert_int_equal(mysql_mariadb_version("10.11-MariaDB"), 0);
    assert_int_equal(mysql_mariadb_version("MariaDB"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_roundtrip),
        cmocka_unit_test(test_complete_single_and_partial),
        cmocka_unit_test(test_multi_packet),
        cmocka_unit_test(test_lenenc),
        cmocka_unit_test(test_greeting_parse_and_mask),
        cmocka_unit_test(test_greeting_mysql8_mask),
        cmocka_unit_test(test_auth_response),
        cmocka_unit_test(test_response_kinds),
        cmocka_unit_test(test_ok_eof_err),
        cmocka_unit_test(test_prepare_ok),
        cmocka_unit_test(test_execute_params),
        cmocka_unit_test(test_mariadb_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
