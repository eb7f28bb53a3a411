/*
 * test_proxy_session: the per-connection protocol state machine, fed bytes
 * from both sides without sockets: greeting masking, auth relay, refusals
 * that never reach the backend, result-set tracking (classic EOF and
 * DEPRECATE_EOF), transaction status and the write set, pipelined commands,
 * multi-packet rows streamed in small pieces, malformed backend answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/mysql_packet.h"
#include "proxy/proxy.h"
#include "proxy/proxy_inspect.h"

static const struct sql_table_rule table_rules[] = {
    { .schema = "", .name = "orders", .cls = SQL_TABLE_UNIT, .column = "buyer_id" },
    { .schema = "shop2", .name = "payments", .cls = SQL_TABLE_UNIT, .column = "buyer_id" },
};
static const char *const units[] = { "dc-a", "dc-b" };

struct fixture {
    struct proxy        px;
    struct rules_keeper keeper;
    struct proxy_worker w;
    struct proxy_conn   c;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    rules_store_init(&f->keeper.store);
    f->px.keeper = &f->keeper;
    snprintf(f->px.cfg.unit, sizeof(f->px.cfg.unit), "dc-a");
    f->px.cfg.max_statement_bytes = 1 << 20;
    f->px.is_center = true;
    f->px.tables.v = table_rules;
    f->px.tables.n = 2;
    f->w.px = &f->px;
    pthread_mutex_init(&f->w.lock, NULL);
    f->c.w = &f->w;
    f->c.cfd = f->c.bfd = -1;
    session_start(&f->c);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    inspect_release(&f->c);
    pbuf_free(&f->c.cin);
    pbuf_free(&f->c.bin);
    pbuf_free(&f->c.bout);
    rules_store_deinit(&f->keeper.store);
    pthread_mutex_destroy(&f->w.lock);
    free(f);
    return 0;
}

static void set_rules(struct fixture *f, uint64_t version, const char *bans)
{
    char text[512], err[256];

    snprintf(text, sizeof(text),
             "version = %lluL; buckets = 100;\n"
             "ranges = ( { first = 0; last = 49; unit = \"dc-a\"; },\n"
             "           { first = 50; last = 99; unit = \"dc-b\"; } );\n"
             "overrides = ( ); bans = ( %s );\n", (unsigned long long)version, bans);
    struct rules *r = rules_parse(text, strlen(text), units, 2, err, sizeof(err));
    if (r == NULL)
        fail_msg("%s", err);
    rules_store_swap(&f->keeper.store, r);
}

/* Bytes the backend sends; returns the session's status. */
static int from_backend(struct fixture *f, const void *p, size_t n)
{
    assert_int_equal(pbuf_append(&f->c.bin, p, n), 0);
    return session_on_backend_data(&f->c);
}

static int from_client(struct fixture *f, const void *p, size_t n)
{
    assert_int_equal(pbuf_append(&f->c.cin, p, n), 0);
    return session_on_client_data(&f->c);
}

/* What the client has been sent so far (taken out of the buffer). */
static size_t to_client(struct fixture *f, uint8_t *out, size_t cap)
{
    size_t n = f->c.bready;

    assert_true(n <= cap);
    memcpy(out, f->c.bin.data + f->c.bin.start, n);
    pbuf_consume(&f->c.bin, n);
    f->c.bready = 0;
    return n;
}

static size_t to_backend(struct fixture *f, uint8_t *out, size_t cap)
{
    size_t n = pbuf_len(&f->c.bout);

    assert_true(n <= cap);
    memcpy(out, f->c.bout.data + f->c.bout.start, n);
    pbuf_consume(&f->c.bout, n);
    return n;
}

static size_t packet(uint8_t *out, uint8_t seq, const void *payload, size_t n)
{
    mysql_header_encode(out, (uint32_t)n, seq);
    memcpy(out + 4, payload, n);
    return n + 4;
}

static size_t ok_packet(uint8_t *out, uint8_t seq, uint16_t status)
{
    const uint8_t ok[] = { 0x00, 0, 0, (uint8_t)status, (uint8_t)(status >> 8), 0, 0 };
    return packet(out, seq, ok, sizeof(ok));
}

static size_t query(uint8_t *out, const char *sql)
{
    uint8_t p[512];
    p[0] = MYSQL_COM_QUERY;
    memcpy(p + 1, sql, strlen(sql));
    return packet(out, 0, p, strlen(sql) + 1);
}

/* Greeting, handshake response (caps given), OK: the command phase. */
static void connect_session(struct fixture *f, uint32_t client_caps)
{
    uint8_t g[128], out[256];
    size_t i = 0;
    uint32_t caps = 0xfffff7fe | MYSQL_CLIENT_SSL | MYSQL_CLIENT_COMPRESS;

    g[i++] = 10;
    memcpy(g + i, "10.11.6-MariaDB", 16);
    i += 16;
    memset(g + i, 1, 4 + 8 + 1);
    i += 13;
    g[i++] = (uint8_t)caps; g[i++] = (uint8_t)(caps >> 8);
    g[i++] = 45; g[i++] = 2; g[i++] = 0;
    g[i++] = (uint8_t)(caps >> 16); g[i++] = (uint8_t)(caps >> 24);
    g[i++] = 21;
    memset(g + i, 0, 6);
    i += 6;
    g[i++] = 0x1d; g[i++] = 0; g[i++] = 0; g[i++] = 0;
    memcpy(g + i, "abcdefghijkl", 13);
    i += 13;
    size_t n = packet(out, 0, g, i);
    assert_int_equal(from_backend(f, out, n), 0);
    uint8_t seen[256];
    size_t m = to_client(f, seen, sizeof(seen));
    assert_int_equal(m, n);
    struct mysql_greeting pg;
    assert_int_equal(mysql_greeting_parse(seen + 4, m - 4, &pg), 0);
    assert_int_equal(pg.caps & MYSQL_CAPS_MASKED, 0);
    assert_int_equal(pg.mariadb_caps, 0);

    uint8_t a[64] = { 0 };
    a[0] = (uint8_t)client_caps; a[1] = (uint8_t)(client_caps >> 8);
    a[2] = (uint8_t)(client_caps >> 16); a[3] = (uint8_t)(client_caps >> 24);
    memcpy(a + 32, "app", 4);
    a[36] = 0;                          /* empty auth response */
    n = packet(out, 1, a, 37);
    assert_int_equal(from_client(f, out, n), 0);
    assert_int_equal(to_backend(f, seen, sizeof(seen)), n);
    assert_int_equal(seen[4] & MYSQL_CLIENT_COMPRESS, 0);
    n = ok_packet(out, 2, MYSQL_STATUS_AUTOCOMMIT);
    assert_int_equal(from_backend(f, out, n), 0);
    assert_int_equal(to_client(f, seen, sizeof(seen)), n);
    assert_int_equal(f->c.phase, PROXY_PHASE_COMMAND);
}

#define CAPS (MYSQL_CLIENT_PROTOCOL_41 | MYSQL_CLIENT_SECURE_CONNECTION | \
              MYSQL_CLIENT_COMPRESS | MYSQL_CLIENT_TRANSACTIONS)

static void test_refusal_never_reaches_backend(void **state)
{
    struct fixture *f = *state;
    uint8_t out[1024], seen[1024];
    struct mysql_err e;

    connect_session(f, CAPS);
    size_t n = query(out, "INSERT INTO orders (buyer_id) VALUES (1)");
    assert_int_equal(from_client(f, out, n), 0);
    assert_int_equal(pbuf_len(&f->c.bout), 0);
    n = to_client(f, seen, sizeof(seen));
    assert_int_equal(seen[3], 1);       /* sequence: the command's + 1 */
    assert_int_equal(mysql_err_parse(seen + 4, n - 4, &e), 0);
    assert_int_equal(e.code, 7407);     /* no rules yet */
    set_rules(f, 1, "");
    n = query(out, "INSERT INTO orders (buyer_id) VALUES (60)");
    assert_int_equal(from_client(f, out, n), 0);
    assert_int_equal(pbuf_len(&f->c.bout), 0);
    n = to_client(f, seen, sizeof(seen));
    assert_int_equal(mysql_err_parse(seen + 4, n - 4, &e), 0);
    assert_int_equal(e.code, 7402);
    assert_string_equal(e.sqlstate, "UR002");
    /* still usable: a read goes through */
    n = query(out, "SELECT 1");
    assert_int_equal(from_client(f, out, n), 0);
    assert_int_equal(to_backend(f, seen, sizeof(seen)), n);
    assert_int_equal(f->c.resp, PROXY_RESP_FIRST);
}

static void test_transaction_write_set(void **state)
{
    struct fixture *f = *state;
    uint8_t out[1024], seen[1024];

    connect_session(f, CAPS);
    set_rules(f, 1, "");
    size_t n = query(out, "BEGIN");
    from_client(f, out, n);
    to_backend(f, seen, sizeof(seen));
    n = ok_packet(out, 1, MYSQL_STATUS_IN_TRANS);
    assert_int_equal(from_backend(f, out, n), 0);
    to_client(f, seen, sizeof(seen));
    n = query(out, "INSERT INTO orders (buyer_id) VALUES (7), (8)");
    from_client(f, out, n);
    assert_int_equal(to_backend(f, seen, sizeof(seen)), n);
    assert_int_equal(f->c.nwkeys, 2);   /* recorded before the answer */
    n = ok_packet(out, 1, MYSQL_STATUS_IN_TRANS);
    from_backend(f, out, n);
    to_client(f, seen, sizeof(seen));
    assert_int_equal(f->c.nwkeys, 2);   /* the transaction is open */
    assert_int_equal(atomic_load(&f->px.m.transactions), 1);

    set_rules(f, 2, "{ first = 8; last = 8; }");
    struct rules_guard g;
    assert_true(inspect_blocks_ban(&f->c, rules_store_get(&f->keeper.store, &g)));
    rules_store_put(&f->keeper.store, &g);
    /* the open transaction may not write further, only end */
    n = query(out, "UPDATE logs SET a = 1");
    from_client(f, out, n);
    n = to_client(f, seen, sizeof(seen));
    struct mysql_err e;
    assert_int_equal(mysql_err_parse(seen + 4, n - 4, &e), 0);
    assert_int_equal(e.code, 7408);
    n = query(out, "COMMIT");
    from_client(f, out, n);
    assert_int_equal(to_backend(f, seen, sizeof(seen)), n);
    n = ok_packet(out, 1, MYSQL_STATUS_AUTOCOMMIT);
    from_backend(f, out, n);
    assert_int_equal(f->c.nwkeys, 0);   /* committed: nothing to drain */
    assert_int_equal(atomic_load(&f->px.m.transactions), 0);
}

/* A result set: count, one column definition, [EOF], rows, EOF/OK. */
static size_t result_set(uint8_t *out, bool deprecate_eof, uint16_t status, int rows)
{
    size_t n = 0;
    uint8_t seq = 1;
    const uint8_t count[] = { 1 };
    const uint8_t coldef[] = { 3, 'd', 'e', 'f', 0, 0, 0, 1, 'a', 0, 0x0c };
    const uint8_t eof[] = { 0xfe, 0, 0, (uint8_t)status, (uint8_t)(status >> 8) };
    const uint8_t ok_eof[] = { 0xfe, 0, 0, (uint8_t)status, (uint8_t)(status >> 8), 0, 0 };
    const uint8_t row[] = { 2, '4', '2' };

    n += packet(out + n, seq++, count, sizeof(count));
    n += packet(out + n, seq++, coldef, sizeof(coldef));
    if (!deprecate_eof)
        n += packet(out + n, seq++, eof, sizeof(eof));
    for (int i = 0; i < rows; i++)
        n += packet(out + n, seq++, row, sizeof(row));
    if (deprecate_eof)
        n += packet(out + n, seq++, ok_eof, sizeof(ok_eof));
    else
        n += packet(out + n, seq++, eof, sizeof(eof));
    return n;
}

static void run_result_set(struct fixture *f, bool deprecate_eof)
{
    uint8_t out[2048], seen[2048];

    /* two pipelined queries: the second waits for the first's answer */
    size_t n = query(out, "SELECT a FROM t");
    n += query(out + n, "SELECT 2");
    from_client(f, out, n);
    size_t first = to_backend(f, seen, sizeof(seen));
    assert_int_equal(first, 4 + 1 + strlen("SELECT a FROM t"));
    /* the answer arrives one byte at a time */
    n = result_set(out, deprecate_eof, MYSQL_STATUS_AUTOCOMMIT, 3);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(from_backend(f, out + i, 1), 0);
        if (i + 1 < n)
            assert_int_equal(pbuf_len(&f->c.bout), 0);
    }
    assert_int_equal(to_client(f, seen, sizeof(seen)), n);
    assert_memory_equal(seen, out, n);
    assert_int_equal(f->c.resp, PROXY_RESP_FIRST);  /* now the second */
    assert_int_equal(to_backend(f, seen, sizeof(seen)), 4 + 1 + strlen("SELECT 2"));
}

static void test_result_set_classic_eof(void **state)
{
    connect_session(*state, CAPS);
    run_result_set(*state, false);
}

static void test_result_set_deprecate_eof(void **state)
{
    connect_session(*state, CAPS | MYSQL_CLIENT_DEPRECATE_EOF);
    assert_true(((struct fixture *)*state)->c.deprecate_eof);
    run_result_set(*state, true);
}

static void test_multi_packet_row_streams(void **state)
{
    struct fixture *f = *state;
    size_t big = (size_t)MYSQL_PAYLOAD_MAX + 100, n = 0;
    uint8_t *out = malloc(big + 256), q[64];
    const uint8_t count[] = { 1 };
    const uint8_t coldef[] = { 3, 'd', 'e', 'f', 0, 0, 0, 1, 'a', 0, 0x0c };
    const uint8_t eof[] = { 0xfe, 0, 0, 2, 0 };

    connect_session(f, CAPS);
    n = query(q, "SELECT big");
    from_client(f, q, n);
    n = 0;
    n += packet(out + n, 1, count, 1);
    n += packet(out + n, 2, coldef, sizeof(coldef));
    n += packet(out + n, 3, eof, sizeof(eof));
    /* row: lenenc 0xfe + 8 bytes + data, split at 0xffffff */
    mysql_header_encode(out + n, MYSQL_PAYLOAD_MAX, 4);
    out[n + 4] = 0xfe;
    uint64_t len = big - 9;
    for (int i = 0; i < 8; i++)
        out[n + 5 + i] = (uint8_t)(len >> (8 * i));
    memset(out + n + 13, 0xfe, MYSQL_PAYLOAD_MAX - 9);  /* looks like EOFs */
    n += 4 + MYSQL_PAYLOAD_MAX;
    mysql_header_encode(out + n, 100, 5);
    memset(out + n + 4, 0xfe, 100);
    n += 104;
    n += packet(out + n, 6, eof, sizeof(eof));
    size_t sent = 0, got = 0;
    while (sent < n) {
        size_t k = n - sent < 60000 ? n - sent : 60000;
        assert_int_equal(from_backend(f, out + sent, k), 0);
        sent += k;
        size_t r = f->c.bready;
        assert_memory_equal(f->c.bin.data + f->c.bin.start, out + got, r);
        pbuf_consume(&f->c.bin, r);
        f->c.bready = 0;
        got += r;
        assert_true(f->c.bin.cap <= 256 * 1024);  /* never the whole row */
    }
    assert_int_equal(got, n);
    assert_int_equal(f->c.resp, PROXY_RESP_NONE);
    free(out);
}

static void test_malformed_backend(void **state)
{
    struct fixture *f = *state;
    uint8_t out[64];
    const uint8_t zero_columns[] = { 0x00 };

    connect_session(f, CAPS);
    size_t n = query(out, "SELECT 1");
    from_client(f, out, n);
    n = packet(out, 1, zero_columns, 1);   /* too short for an OK */
    assert_int_equal(from_backend(f, out, n), -1);
}

static void test_unknown_command_and_too_large(void **state)
{
    struct fixture *f = *state;
    uint8_t out[64], seen[1024];
    struct mysql_err e;
    const uint8_t dump[] = { MYSQL_COM_BINLOG_DUMP, 0, 0, 0, 0 };

    connect_session(f, CAPS);
    size_t n = packet(out, 0, dump, sizeof(dump));
    from_client(f, out, n);
    assert_int_equal(pbuf_len(&f->c.bout), 0);
    n = to_client(f, seen, sizeof(seen));
    assert_int_equal(mysql_err_parse(seen + 4, n - 4, &e), 0);
    assert_int_equal(e.code, 7410);

    f->px.cfg.max_statement_bytes = 1024;
    size_t big = 4000;
    uint8_t *q = malloc(big + 4);
    q[4] = MYSQL_COM_QUERY;
    memset(q + 5, 'x', big - 1);
    mysql_header_encode(q, (uint32_t)big, 0);
    for (size_t i = 0; i < big + 4; i += 500)
        assert_int_equal(from_client(f, q + i, big + 4 - i < 500 ? big + 4 - i : 500), 0);
    assert_int_equal(pbuf_len(&f->c.bout), 0);
    n = to_client(f, seen, sizeof(seen));
    assert_int_equal(mysql_err_parse(seen + 4, n - 4, &e), 0);
    assert_int_equal(e.code, 7409);
    free(q);
    n = query(out, "SELECT 1");         /* the stream is back in step */
    from_client(f, out, n);
    assert_int_equal(pbuf_len(&f->c.bout), n);
}

/* Random bytes from either side, in random pieces: errors, never a crash. */
static void test_random_bytes(void **state)
{
    struct fixture *f = *state;
    uint8_t buf[4096];
    unsigned seed = 12345;

    set_rules(f, 1, "");
    for (int round = 0; round < 3000; round++) {
        inspect_release(&f->c);
        pbuf_free(&f->c.cin);
        pbuf_free(&f->c.bin);
        pbuf_free(&f->c.bout);
        memset(&f->c, 0, sizeof(f->c));
        f->c.w = &f->w;
        f->c.cfd = f->c.bfd = -1;
        session_start(&f->c);
        if (round % 2)
            connect_session(f, CAPS | (round % 4 == 1 ? MYSQL_CLIENT_DEPRECATE_EOF : 0));
        for (int step = 0; step < 20; step++) {
            size_t n = (size_t)(rand_r(&seed) % sizeof(buf));
            for (size_t i = 0; i < n; i++)
                buf[i] = (uint8_t)rand_r(&seed);
            if (step % 3 == 0 && n > 4) {   /* mostly well-framed packets */
                mysql_header_encode(buf, (uint32_t)(n - 4), (uint8_t)(step & 1));
                buf[4] = (uint8_t)(rand_r(&seed) % 0x20);
            }
            int rc = (rand_r(&seed) & 1) ? from_client(f, buf, n) : from_backend(f, buf, n);
            pbuf_consume(&f->c.bout, pbuf_len(&f->c.bout));
            pbuf_consume(&f->c.bin, f->c.bready);
            f->c.bready = 0;
            if (rc != 0 || f->c.phase == PROXY_PHASE_CLOSING)
                break;
        }
    }
}

/* ---- the session's schema follows the server's answers ------------------ */

static size_t err_packet(uint8_t *out, uint8_t seq, uint16_t code)
{
    uint8_t e[64];
    size_t n = mysql_err_build(e, sizeof(e), seq, code, "42000", "no");
    memcpy(out, e, n);
    return n;
}

/* Send a query, expect it forwarded, answer with resp (n bytes). */
static void query_answered(struct fixture *f, const char *sql, const uint8_t *resp, size_t n)
{
    uint8_t out[1024], seen[2048];
    size_t q = query(out, sql);

    assert_int_equal(from_client(f, out, q), 0);
    assert_int_equal(to_backend(f, seen, sizeof(seen)), q);
    assert_int_equal(from_backend(f, resp, n), 0);
    assert_int_equal(f->c.resp, PROXY_RESP_NONE);
    to_client(f, seen, sizeof(seen));
}

/* The unkeyed write to payments: refused (7401) or forwarded. */
static bool payments_write_refused(struct fixture *f)
{
    uint8_t out[256], seen[1024], ok[16];
    size_t n = query(out, "UPDATE payments SET amount = -1");
    struct mysql_err e;

    assert_int_equal(from_client(f, out, n), 0);
    if (pbuf_len(&f->c.bout) > 0) {
        to_backend(f, seen, sizeof(seen));
        from_backend(f, ok, ok_packet(ok, 1, MYSQL_STATUS_AUTOCOMMIT));
        to_client(f, seen, sizeof(seen));
        return false;
    }
    n = to_client(f, seen, sizeof(seen));
    assert_int_equal(mysql_err_parse(seen + 4, n - 4, &e), 0);
    assert_int_equal(e.code, 7401);
    return true;
}

static void use_shop2(struct fixture *f)
{
    uint8_t r[64];

    set_rules(f, 1, "");
    query_answered(f, "USE shop2", r, ok_packet(r, 1, MYSQL_STATUS_AUTOCOMMIT));
    assert_string_equal(f->c.db, "shop2");
    assert_true(payments_write_refused(f));
}

static void test_failed_use_keeps_schema(void **state)
{
    struct fixture *f = *state;
    uint8_t r[64];

    connect_session(f, CAPS | MYSQL_CLIENT_MULTI_STATEMENTS);
    use_shop2(f);
    query_answered(f, "USE nosuch", r, err_packet(r, 1, 1049));
    assert_string_equal(f->c.db, "shop2");
    assert_false(f->c.db_unknown);
    assert_true(payments_write_refused(f));
    /* a later USE that succeeds moves it */
    query_answered(f, "USE unitroute", r, ok_packet(r, 1, MYSQL_STATUS_AUTOCOMMIT));
    assert_string_equal(f->c.db, "unitroute");
    assert_false(payments_write_refused(f));
}

static void test_failed_init_db_keeps_schema(void **state)
{
    struct fixture *f = *state;
    uint8_t out[64], seen[256], r[64];
    uint8_t init[16] = { MYSQL_COM_INIT_DB };

    connect_session(f, CAPS);
    use_shop2(f);
    memcpy(init + 1, "nosuch", 6);
    size_t n = packet(out, 0, init, 7);
    assert_int_equal(from_client(f, out, n), 0);
    assert_int_equal(to_backend(f, seen, sizeof(seen)), n);
    assert_string_equal(f->c.db, "shop2");      /* not before the answer */
    assert_int_equal(from_backend(f, r, err_packet(r, 1, 1049)), 0);
    to_client(f, seen, sizeof(seen));
    assert_string_equal(f->c.db, "shop2");
    assert_true(payments_write_refused(f));
    memcpy(init + 1, "unitroute", 9);
    n = packet(out, 0, init, 10);
    from_client(f, out, n);
    to_backend(f, seen, sizeof(seen));
    from_backend(f, r, ok_packet(r, 1, MYSQL_STATUS_AUTOCOMMIT));
    to_client(f, seen, sizeof(seen));
    assert_string_equal(f->c.db, "unitroute");
    assert_false(payments_write_refused(f));
}

static void test_multi_use_then_failed_use(void **state)
{
    struct fixture *f = *state;
    uint8_t r[64];
    size_t n;

    connect_session(f, CAPS | MYSQL_CLIENT_MULTI_STATEMENTS);
    set_rules(f, 1, "");
    /* USE shop2 succeeds (OK, more results), USE nosuch fails: shop2 holds */
    n = ok_packet(r, 1, MYSQL_STATUS_AUTOCOMMIT | MYSQL_STATUS_MORE_RESULTS);
    n += err_packet(r + n, 2, 1049);
    query_answered(f, "USE shop2; USE nosuch", r, n);
    assert_string_equal(f->c.db, "shop2");
    assert_false(f->c.db_unknown);
    assert_true(payments_write_refused(f));
    /* from shop2: USE unitroute fails first, nothing changes */
    query_answered(f, "USE nosuch; USE unitroute", r, err_packet(r, 1, 1049));
    assert_string_equal(f->c.db, "shop2");
    /* a write after the USE in the same query is read in the new schema */
    n = query(r, "USE unitroute; UPDATE payments SET amount = 1");
    from_client(f, r, n);
    assert_int_equal(pbuf_len(&f->c.bout), n);
}

static void test_use_then_failing_statement(void **state)
{
    struct fixture *f = *state;
    uint8_t r[64];
    size_t n;

    connect_session(f, CAPS | MYSQL_CLIENT_MULTI_STATEMENTS);
    set_rules(f, 1, "");
    n = ok_packet(r, 1, MYSQL_STATUS_AUTOCOMMIT | MYSQL_STATUS_MORE_RESULTS);
    n += err_packet(r + n, 2, 1054);
    query_answered(f, "USE shop2; SELECT nosuch_column", r, n);
    assert_string_equal(f->c.db, "shop2");      /* the USE ran */
    assert_false(f->c.db_unknown);
    assert_true(payments_write_refused(f));
}

static void test_result_set_before_use(void **state)
{
    struct fixture *f = *state;
    uint8_t r[256];
    size_t n;

    connect_session(f, CAPS | MYSQL_CLIENT_MULTI_STATEMENTS);
    set_rules(f, 1, "");
    /* SELECT 1 (a result set, more results), USE shop2 OK, USE nosuch ERR */
    n = result_set(r, false, MYSQL_STATUS_AUTOCOMMIT | MYSQL_STATUS_MORE_RESULTS, 1);
    n += ok_packet(r + n, 6, MYSQL_STATUS_AUTOCOMMIT | MYSQL_STATUS_MORE_RESULTS);
    n += err_packet(r + n, 7, 1049);
    query_answered(f, "SELECT 1; USE shop2; USE nosuch", r, n);
    assert_string_equal(f->c.db, "shop2");
    assert_true(payments_write_refused(f));
    /* the SELECT fails: neither USE ran */
    query_answered(f, "SELECT nosuch; USE unitroute", r, err_packet(r, 1, 1054));
    assert_string_equal(f->c.db, "shop2");
    /* the SELECT's result, then the USE fails */
    n = result_set(r, false, MYSQL_STATUS_AUTOCOMMIT | MYSQL_STATUS_MORE_RESULTS, 1);
    n += err_packet(r + n, 6, 1049);
    query_answered(f, "SELECT 1; USE unitroute", r, n);
    assert_string_equal(f->c.db, "shop2");
    /* all ran */
    n = result_set(r, false, MYSQL_STATUS_AUTOCOMMIT | MYSQL_STATUS_MORE_RESULTS, 1);
    n += ok_packet(r + n, 6, MYSQL_STATUS_AUTOCOMMIT);
    query_answered(f, "SELECT 1; USE unitroute", r, n);
    assert_string_equal(f->c.db, "unitroute");
}

/* CALL gives any number of results: a USE after it that may have run
 * leaves the schema unknown, and then payments matches shop2.payments. */
static void test_uncountable_response_unknown_schema(void **state)
{
    struct fixture *f = *state;
    uint8_t r[256];
    size_t n;

    connect_session(f, CAPS | MYSQL_CLIENT_MULTI_STATEMENTS);
    set_rules(f, 1, "");
    query_answered(f, "USE unitroute", r, ok_packet(r, 1, MYSQL_STATUS_AUTOCOMMIT));
    assert_false(payments_write_refused(f));
    n = ok_packet(r, 1, MYSQL_STATUS_AUTOCOMMIT | MYSQL_STATUS_MORE_RESULTS);
    n += ok_packet(r + n, 2, MYSQL_STATUS_AUTOCOMMIT | MYSQL_STATUS_MORE_RESULTS);
    n += err_packet(r + n, 3, 1049);
    /* CALL is a write to unknown keys: with the hint it is allowed */
    query_answered(f, "/* sharding_key=5 */ CALL p(); USE shop2; USE nosuch", r, n);
    assert_true(f->c.db_unknown);
    assert_string_equal(f->c.db, "");           /* no "schema.proc" matches */
    assert_true(payments_write_refused(f));    /* strictest: any schema */
    /* a USE that succeeds makes it known again */
    query_answered(f, "USE unitroute", r, ok_packet(r, 1, MYSQL_STATUS_AUTOCOMMIT));
    assert_false(f->c.db_unknown);
    assert_false(payments_write_refused(f));
    /* COM_RESET_CONNECTION keeps the schema (measured on MariaDB 10.11) */
    const uint8_t reset[] = { MYSQL_COM_RESET_CONNECTION };
    n = packet(r, 0, reset, 1);
    from_client(f, r, n);
    to_backend(f, r, sizeof(r));
    from_backend(f, r, ok_packet(r, 1, MYSQL_STATUS_AUTOCOMMIT));
    assert_string_equal(f->c.db, "unitroute");
}

/* EXECUTE IMMEDIATE 'USE ...' sets the schema; EXECUTE of a prepared
 * statement may run a USE the proxy never saw: the schema is unknown. */
static void test_dynamic_use(void **state)
{
    struct fixture *f = *state;
    uint8_t r[256];
    size_t n;

    connect_session(f, CAPS | MYSQL_CLIENT_MULTI_STATEMENTS);
    set_rules(f, 1, "");
    query_answered(f, "USE unitroute", r, ok_packet(r, 1, MYSQL_STATUS_AUTOCOMMIT));
    query_answered(f, "EXECUTE IMMEDIATE 'USE shop2'", r,
                   ok_packet(r, 1, MYSQL_STATUS_AUTOCOMMIT));
    assert_string_equal(f->c.db, "shop2");
    assert_true(payments_write_refused(f));
    /* in the same query: the write after it is read in shop2 */
    query_answered(f, "USE unitroute", r, ok_packet(r, 1, MYSQL_STATUS_AUTOCOMMIT));
    n = query(r, "EXECUTE IMMEDIATE 'USE shop2'; UPDATE payments SET amount = 1");
    from_client(f, r, n);
    assert_int_equal(pbuf_len(&f->c.bout), 0);
    to_client(f, r, sizeof(r));
    /* EXECUTE s: unknown, whatever the answer */
    query_answered(f, "EXECUTE s", r, ok_packet(r, 1, MYSQL_STATUS_AUTOCOMMIT));
    assert_true(f->c.db_unknown);
    assert_true(payments_write_refused(f));
    query_answered(f, "USE unitroute", r, ok_packet(r, 1, MYSQL_STATUS_AUTOCOMMIT));
    assert_false(payments_write_refused(f));
}

/* SET NAMES latin1 ran, the next statement failed: latin1 holds (0xA0 is a
 * space there); before, the whole query was taken as failed. */
static void test_charset_change_then_failing_statement(void **state)
{
    struct fixture *f = *state;
    uint8_t r[64];
    size_t n;

    connect_session(f, CAPS | MYSQL_CLIENT_MULTI_STATEMENTS);
    unsigned before = f->c.cs_mode;
    n = ok_packet(r, 1, MYSQL_STATUS_AUTOCOMMIT | MYSQL_STATUS_MORE_RESULTS);
    n += err_packet(r + n, 2, 1054);
    query_answered(f, "SET NAMES latin1; SELECT nosuch_column", r, n);
    assert_true(f->c.cs_mode & SQL_MODE_SPACE_A0);
    assert_false(f->c.cs_mode & SQL_MODE_MAYBE_A0);
    /* failing first: the set before holds */
    query_answered(f, "SET NAMES utf8mb4; SELECT 1", r, err_packet(r, 1, 1115));
    assert_true(f->c.cs_mode & SQL_MODE_SPACE_A0);
    query_answered(f, "SET NAMES utf8mb4", r, ok_packet(r, 1, MYSQL_STATUS_AUTOCOMMIT));
    assert_int_equal(f->c.cs_mode & (SQL_MODE_SPACE_A0 | SQL_MODE_MAYBE_A0), 0);
    assert_int_not_equal(f->c.cs_mode, before);  /* the handshake's was unsure */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refusal_never_reaches_backend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transaction_write_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_set_classic_eof, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_set_deprecate_eof, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multi_packet_row_streams, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_backend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_command_and_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_use_keeps_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_init_db_keeps_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multi_use_then_failed_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_use_then_failing_statement, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_set_before_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uncountable_response_unknown_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_charset_change_then_failing_statement, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dynamic_use, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
