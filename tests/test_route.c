/* Unit tests for gateway/route: buyerId extraction and route decisions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include "gateway/route.h"

/* ---- fixtures ---------------------------------------------------------- */

struct fx {
    struct topology    topo;
    struct route_table table;
    struct rules      *rules;       /* dc-a: buckets 0-4999, dc-b: 5000-9999 */
    struct rules      *banned;      /* same, bucket 7-7 banned, buyer 42 -> dc-b */
};

struct hdrs {
    const char *names[4];
    const char *values[4];
};

static const char *hdr_get(void *ctx, const char *name)
{
    struct hdrs *h = ctx;
    for (int i = 0; i < 4 && h->names[i] != NULL; i++)
        if (strcasecmp(h->names[i], name) == 0)
            return h->values[i];
    return NULL;
}

static const char *RULES_TEXT =
    "version = 3L; buckets = 10000;\n"
    "ranges = ( { first = 0; last = 4999; unit = \"dc-a\"; },\n"
    "           { first = 5000; last = 9999; unit = \"dc-b\"; } );\n"
    "overrides = ( { buyer = 42L; unit = \"dc-b\"; } );\n"
    "bans = ( );\n";

static const char *BANNED_TEXT =
    "version = 4L; buckets = 10000;\n"
    "ranges = ( { first = 0; last = 4999; unit = \"dc-a\"; },\n"
    "           { first = 5000; last = 9999; unit = \"dc-b\"; } );\n"
    "overrides = ( { buyer = 42L; unit = \"dc-b\"; } );\n"
    "bans = ( { first = 7; last = 7; } );\n";

static struct rules *parse(const struct topology *t, const char *text)
{
    char err[256];
    struct rules *r = rules_parse(text, strlen(text), t->unit_names, t->nunits, err, sizeof(err));
    if (r == NULL)
        fail_msg("rules_parse: %s", err);
    return r;
}

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    const char *names[] = { "dc-a", "dc-b" };

    for (int i = 0; i < 2; i++) {
        snprintf(f->topo.units[i].name, sizeof(f->topo.units[i].name), "%s", names[i]);
        snprintf(f->topo.units[i].public_url, TOPOLOGY_URL_MAX, "http://127.0.0.1:808%d", i + 1);
        snprintf(f->topo.units[i].gateway_url, TOPOLOGY_URL_MAX, "http://127.0.0.1:808%d", i + 1);
        f->topo.unit_names[i] = f->topo.units[i].name;
    }
    f->topo.nunits = 2;
    f->topo.center = 0;

    struct route_table *t = &f->table;
    t->topo = &f->topo;
    t->self = 0;
    t->mode = ROUTE_MODE_FORWARD;
    t->ban_policy = ROUTE_BAN_HOLD;
    struct route_entry e[] = {
        { "/api/", ROUTE_TYPE_UNIT, "http://127.0.0.1:7081" },
        { "/api/public/", ROUTE_TYPE_LOCAL, "http://127.0.0.1:7081" },
        { "/center/", ROUTE_TYPE_CENTER, "http://127.0.0.1:7081" },
    };
    memcpy(t->entries, e, sizeof(e));
    t->nentries = 3;
    t->sources[0] = (struct route_source){ ROUTE_SOURCE_HEADER, "X-Buyer-Id" };
    t->sources[1] = (struct route_source){ ROUTE_SOURCE_QUERY, "buyerId" };
    t->sources[2] = (struct route_source){ ROUTE_SOURCE_COOKIE, "buyer_id" };
    t->nsources = 3;

    f->rules = parse(&f->topo, RULES_TEXT);
    f->banned = parse(&f->topo, BANNED_TEXT);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    rules_destroy(f->rules);
    rules_destroy(f->banned);
    free(f);
    return 0;
}

static void req_init(struct route_request *req, struct hdrs *h, const char *method,
                     const char *path, const char *query)
{
    memset(req, 0, sizeof(*req));
    req->method = method;
    req->path = path;
    req->query = query;
    req->header = hdr_get;
    req->header_ctx = h;
}

/* ---- buyerId parsing and extraction ------------------------------------ */

static void test_buyer_parse(void **state)
{
    (void)state;
    uint64_t v = 0;

    assert_int_equal(route_buyer_parse("123", 3, &v), 0);
    assert_int_equal(v, 123);
    assert_int_equal(route_buyer_parse("0", 1, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(route_buyer_parse("18446744073709551615", 20, &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(route_buyer_parse("18446744073709551616", 20, &v), -1);
    assert_int_equal(route_buyer_parse("", 0, &v), -1);
    assert_int_equal(route_buyer_parse("-1", 2, &v), -1);
    assert_int_equal(route_buyer_parse("+1", 2, &v), -1);
    assert_int_equal(route_buyer_parse("12a", 3, &v), -1);
    assert_int_equal(route_buyer_parse(" 12", 3, &v), -1);
    assert_int_equal(route_buyer_parse("123456789012345678901", 21, &v), -1);
    /* length bounds the parse: "12&x" with len 2 is 12 */
    assert_int_equal(route_buyer_parse("12&x", 2, &v), 0);
    assert_int_equal(v, 12);
}

static void test_query_and_cookie(void **state)
{
    (void)state;
    size_t len = 0;
    const char *v;

    v = route_query_param("a=1&buyerId=77&c=3", "buyerId", &len);
    assert_non_null(v);
    assert_int_equal(len, 2);
    assert_memory_equal(v, "77", 2);
    v = route_query_param("xbuyerId=5&buyerId=6", "buyerId", &len);
    assert_non_null(v);
    assert_memory_equal(v, "6", 1);
    assert_null(route_query_param("buyerIdx=1", "buyerId", &len));
    assert_null(route_query_param(NULL, "buyerId", &len));
    v = route_query_param("buyerId=", "buyerId", &len);
    assert_non_null(v);
    assert_int_equal(len, 0);

    v = route_cookie_value("session=abc; buyer_id=9001; theme=dark", "buyer_id", &len);
    assert_non_null(v);
    assert_int_equal(len, 4);
    assert_memory_equal(v, "9001", 4);
    assert_null(route_cookie_value("session=abc", "buyer_id", &len));
}

static void test_extract_order(void **state)
{
    struct fx *f = *state;
    struct route_request req;
    uint64_t b = 0;
    char why[ROUTE_REASON_MAX];

    struct hdrs h = { { "X-Buyer-Id", "Cookie" }, { "11", "buyer_id=33" } };
    req_init(&req, &h, "GET", "/api/x", "buyerId=22");
    assert_int_equal(route_buyer_extract(&f->table, &req, &b, why, sizeof(why)), ROUTE_BUYER_FOUND);
    assert_int_equal(b, 11);

    struct hdrs h2 = { { "Cookie" }, { "buyer_id=33" } };
    req_init(&req, &h2, "GET", "/api/x", "buyerId=22");
    assert_int_equal(route_buyer_extract(&f->table, &req, &b, why, sizeof(why)), ROUTE_BUYER_FOUND);
    assert_int_equal(b, 22);

    req_init(&req, &h2, "GET", "/api/x", NULL);
    assert_int_equal(route_buyer_extract(&f->table, &req, &b, why, sizeof(why)), ROUTE_BUYER_FOUND);
    assert_int_equal(b, 33);

    /* the first source present decides, even when invalid */
    struct hdrs h3 = { { "x-buyer-id" }, { "abc" } };
    req_init(&req, &h3, "GET", "/api/x", "buyerId=22");
    assert_int_equal(route_buyer_extract(&f->table, &req, &b, why, sizeof(why)), ROUTE_BUYER_INVALID);
    assert_non_null(strstr(why, "X-Buyer-Id"));

    struct hdrs none = { { NULL }, { NULL } };
    req_init(&req, &none, "GET", "/api/x", "other=1");
    assert_int_equal(route_buyer_extract(&f->table, &req, &b, why, sizeof(why)), ROUTE_BUYER_MISSING);
    assert_non_null(strstr(why, "header X-Buyer-Id"));
    assert_non_null(strstr(why, "cookie buyer_id"));

    /* a different configured order: cookie first */
    f->table.sources[0] = (struct route_source){ ROUTE_SOURCE_COOKIE, "buyer_id" };
    f->table.nsources = 1;
    req_init(&req, &h, "GET", "/api/x", "buyerId=22");
    assert_int_equal(route_buyer_extract(&f->table, &req, &b, why, sizeof(why)), ROUTE_BUYER_FOUND);
    assert_int_equal(b, 33);
}

/* ---- route decisions ---------------------------------------------------- */

static void test_match_longest_prefix(void **state)
{
    struct fx *f = *state;

    assert_string_equal(route_match(&f->table, "/api/orders")->prefix, "/api/");
    assert_string_equal(route_match(&f->table, "/api/public/x")->prefix, "/api/public/");
    assert_null(route_match(&f->table, "/other"));
    assert_null(route_match(&f->table, "/ap"));
}

static void decide(struct fx *f, const struct rules *r, const char *method, const char *path,
                   const char *buyer, bool hopped, struct route_decision *d)
{
    struct hdrs h = { { buyer ? "X-Buyer-Id" : NULL }, { buyer } };
    struct route_request req;

    req_init(&req, &h, method, path, NULL);
    req.hopped = hopped;
    route_decide(&f->table, r, &req, d);
}

static void test_decide_unit(void **state)
{
    struct fx *f = *state;
    struct route_decision d;

    decide(f, f->rules, "GET", "/api/x", "1234", false, &d);   /* bucket 1234 -> dc-a */
    assert_int_equal(d.action, ROUTE_ACTION_LOCAL);
    assert_int_equal(d.target, 0);
    assert_int_equal(d.home, 0);
    assert_string_equal(d.entry->upstream, "http://127.0.0.1:7081");

    decide(f, f->rules, "GET", "/api/x", "5001", false, &d);   /* -> dc-b */
    assert_int_equal(d.action, ROUTE_ACTION_FORWARD);
    assert_int_equal(d.target, 1);
    assert_int_equal(d.home, 1);

    f->table.mode = ROUTE_MODE_REDIRECT;
    decide(f, f->rules, "POST", "/api/x", "5001", false, &d);
    assert_int_equal(d.action, ROUTE_ACTION_REDIRECT);
    assert_int_equal(d.target, 1);
}

static void test_decide_override(void **state)
{
    struct fx *f = *state;
    struct route_decision d;

    decide(f, f->rules, "GET", "/api/x", "42", false, &d);     /* bucket 42 is dc-a */
    assert_int_equal(d.action, ROUTE_ACTION_FORWARD);
    assert_int_equal(d.home, 1);
    decide(f, f->rules, "GET", "/api/x", "10042", false, &d);  /* same bucket, no override */
    assert_int_equal(d.action, ROUTE_ACTION_LOCAL);
}

static void test_decide_bad_buyer(void **state)
{
    struct fx *f = *state;
    struct route_decision d;

    decide(f, f->rules, "GET", "/api/x", NULL, false, &d);
    assert_int_equal(d.action, ROUTE_ACTION_BAD_REQUEST);
    assert_non_null(strstr(d.reason, "missing buyerId"));
    decide(f, f->rules, "GET", "/api/x", "12x", false, &d);
    assert_int_equal(d.action, ROUTE_ACTION_BAD_REQUEST);
    assert_non_null(strstr(d.reason, "invalid buyerId"));
    /* local and center routes do not need one */
    decide(f, f->rules, "GET", "/api/public/x", "bogus", false, &d);
    assert_int_equal(d.action, ROUTE_ACTION_LOCAL);
    assert_false(d.has_buyer);
}

static void test_decide_center_local(void **state)
{
    struct fx *f = *state;
    struct route_decision d;

    decide(f, NULL, "POST", "/center/x", NULL, false, &d);
    assert_int_equal(d.action, ROUTE_ACTION_LOCAL);     /* dc-a is the center */
    f->table.self = 1;                                  /* now act as dc-b */
    decide(f, NULL, "POST", "/center/x", NULL, false, &d);
    assert_int_equal(d.action, ROUTE_ACTION_FORWARD);
    assert_int_equal(d.target, 0);
    decide(f, f->rules, "POST", "/api/public/x", "1", false, &d);
    assert_int_equal(d.action, ROUTE_ACTION_LOCAL);
    assert_int_equal(d.target, 1);
    assert_int_equal(d.home, 0);                        /* buyer 1's home: dc-a */
    decide(f, f->rules, "GET", "/nothing", "1", false, &d);
    assert_int_equal(d.action, ROUTE_ACTION_NOT_FOUND);
    assert_null(d.entry);
}

static void test_decide_hop_loop(void **state)
{
    struct fx *f = *state;
    struct route_decision d;

    decide(f, f->rules, "GET", "/api/x", "5001", true, &d);
    assert_int_equal(d.action, ROUTE_ACTION_MISDIRECTED);
    assert_non_null(strstr(d.reason, "dc-b"));
    /* a hopped request that stays here is served */
    decide(f, f->rules, "GET", "/api/x", "1", true, &d);
    assert_int_equal(d.action, ROUTE_ACTION_LOCAL);
    f->table.mode = ROUTE_MODE_REDIRECT;
    decide(f, f->rules, "GET", "/api/x", "5001", true, &d);
    assert_int_equal(d.action, ROUTE_ACTION_MISDIRECTED);
}

/* ---- hop header: the sender's rule version ------------------------------ */

static void test_hop_format(void **state)
{
    (void)state;
    char buf[ROUTE_HOP_MAX];

    char sig[ROUTE_HOP_SIG_LEN + 1];

    memset(sig, 'a', ROUTE_HOP_SIG_LEN);
    sig[ROUTE_HOP_SIG_LEN] = '\0';
    assert_int_equal(route_hop_format(buf, sizeof(buf), "dc-a", 5, NULL), 9);
    assert_string_equal(buf, "dc-a; v=5");
    assert_int_equal(route_hop_format(buf, sizeof(buf), "dc-a", 0, sig), 4);
    assert_string_equal(buf, "dc-a");      /* no rules: the old form, nothing to sign */
    assert_true(route_hop_format(buf, sizeof(buf), "dc-b", UINT64_MAX, "") > 0);
    assert_string_equal(buf, "dc-b; v=18446744073709551615");
    assert_int_equal(route_hop_format(buf, 8, "dc-a", 5, NULL), -1);   /* does not fit */
    assert_int_equal(route_hop_format(buf, sizeof(buf), "dc-a", 5, sig),
                     (int)strlen("dc-a; v=5; sig=") + ROUTE_HOP_SIG_LEN);

    /* what we format, we parse; the longest value fits */
    struct route_hop h;
    route_hop_format(buf, sizeof(buf), "dc-b", 77, sig);
    route_hop_parse(buf, &h);
    assert_string_equal(h.sender, "dc-b");
    assert_true(h.version == 77);
    assert_string_equal(h.sig, sig);
    char name[RULES_UNIT_NAME_MAX];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    assert_true(route_hop_format(buf, sizeof(buf), name, UINT64_MAX, sig) > 0);
}

static void test_hop_parse(void **state)
{
    (void)state;
    struct route_hop h;

    route_hop_parse("dc-a; v=5", &h);
    assert_string_equal(h.sender, "dc-a");
    assert_true(h.version == 5);
    route_hop_parse("  dc-a ;v=12 ", &h);
    assert_string_equal(h.sender, "dc-a");
    assert_true(h.version == 12);
    route_hop_parse("dc-a; x=1; V=9; v=10", &h);      /* unknown ignored, first v wins */
    assert_true(h.version == 9);
    assert_string_equal(h.sig, "");
    /* a signature has exactly ROUTE_HOP_SIG_LEN characters, else none */
    route_hop_parse("dc-a; v=9; sig=abc", &h);
    assert_true(h.version == 9);
    assert_string_equal(h.sig, "");
    /* an older sender: no version */
    route_hop_parse("dc-b", &h);
    assert_string_equal(h.sender, "dc-b");
    assert_true(h.version == 0);
    route_hop_parse(NULL, &h);
    assert_string_equal(h.sender, "");
    assert_true(h.version == 0);
    route_hop_parse("", &h);
    assert_true(h.version == 0);
    /* malformed versions count as none */
    const char *bad[] = { "dc-a; v=", "dc-a; v=abc", "dc-a; v=-1", "dc-a; v=1 2",
                          "dc-a; v=18446744073709551616", "dc-a; v=0", "dc-a; version=5",
                          "dc-a v=5", "dc-a; =5" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        route_hop_parse(bad[i], &h);
        if (h.version != 0)
            fail_msg("\"%s\" parsed as version %llu", bad[i], (unsigned long long)h.version);
    }
    /* a sender name too long is cut, not overflowed */
    char longv[RULES_UNIT_NAME_MAX * 2 + 8];
    memset(longv, 'x', sizeof(longv) - 8);
    snprintf(longv + sizeof(longv) - 8, 8, "; v=3");
    route_hop_parse(longv, &h);
    assert_int_equal(strlen(h.sender), RULES_UNIT_NAME_MAX - 1);
    assert_true(h.version == 3);
}

static void decide_hop(struct fx *f, const struct rules *r, const char *method, const char *path,
                       const char *buyer, uint64_t hop_version, struct route_decision *d)
{
    struct hdrs h = { { buyer ? "X-Buyer-Id" : NULL }, { buyer } };
    struct route_request req;

    req_init(&req, &h, method, path, NULL);
    req.hopped = true;
    req.hop_version = hop_version;
    route_decide(&f->table, r, &req, d);
}

static void test_decide_hop_version(void **state)
{
    struct fx *f = *state;
    struct route_decision d;

    /* f->rules is version 3; buyer 5001's home under it is dc-b, we are dc-a */
    decide_hop(f, f->rules, "GET", "/api/x", "5001", 4, &d);   /* newer sender */
    assert_int_equal(d.action, ROUTE_ACTION_LOCAL);
    assert_true(d.hop_trusted);
    assert_int_equal(d.target, 0);
    assert_int_equal(d.home, 0);        /* X-Unit-Home: the sender's word */
    decide_hop(f, f->rules, "POST", "/api/x", "5001", 1000, &d);
    assert_int_equal(d.action, ROUTE_ACTION_LOCAL);
    assert_true(d.hop_trusted);

    /* equal: a real loop or a misconfiguration */
    decide_hop(f, f->rules, "GET", "/api/x", "5001", 3, &d);
    assert_int_equal(d.action, ROUTE_ACTION_MISDIRECTED);
    assert_false(d.hop_trusted);
    assert_non_null(strstr(d.reason, "sender rule version 3"));
    assert_non_null(strstr(d.reason, "dc-a at rule version 3"));
    /* older sender: a read is served here, not bounced; the home stays ours */
    decide_hop(f, f->rules, "GET", "/api/x", "5001", 2, &d);
    assert_int_equal(d.action, ROUTE_ACTION_LOCAL);
    assert_true(d.hop_trusted);
    assert_int_equal(d.target, 0);
    assert_int_equal(d.home, 1);        /* X-Unit-Home: dc-b, by our newer rules */
    decide_hop(f, f->rules, "HEAD", "/api/x", "5001", 2, &d);
    assert_int_equal(d.action, ROUTE_ACTION_LOCAL);
    /* ... a write is 421 */
    decide_hop(f, f->rules, "POST", "/api/x", "5001", 2, &d);
    assert_int_equal(d.action, ROUTE_ACTION_MISDIRECTED);
    assert_false(d.hop_trusted);
    /* no version (an older sender): as before */
    decide_hop(f, f->rules, "GET", "/api/x", "5001", 0, &d);
    assert_int_equal(d.action, ROUTE_ACTION_MISDIRECTED);
    /* a newer version without a valid signature (gw_hop_verify said no) */
    struct hdrs hh = { { "X-Buyer-Id" }, { "5001" } };
    struct route_request req;
    req_init(&req, &hh, "GET", "/api/x", NULL);
    req.hopped = true;
    req.hop_version = 4;
    req.hop_forged = true;
    route_decide(&f->table, f->rules, &req, &d);
    assert_int_equal(d.action, ROUTE_ACTION_MISDIRECTED);
    assert_false(d.hop_trusted);
    assert_non_null(strstr(d.reason, "not signed with our secret"));

    /* staying here anyway: served, not counted as trusted */
    decide_hop(f, f->rules, "GET", "/api/x", "1", 9, &d);
    assert_int_equal(d.action, ROUTE_ACTION_LOCAL);
    assert_false(d.hop_trusted);

    /* a banned write is still held, whatever the sender's version */
    decide_hop(f, f->banned, "POST", "/api/x", "10007", 9, &d);
    assert_int_equal(d.action, ROUTE_ACTION_HOLD);
    /* and with a newer sender, a read to a buyer homed elsewhere is served */
    decide_hop(f, f->banned, "GET", "/api/x", "5001", 5, &d);
    assert_int_equal(d.action, ROUTE_ACTION_LOCAL);
    assert_true(d.hop_trusted);

    /* the center route does not come from the rules: 421 whatever the version */
    f->table.self = 1;
    decide_hop(f, f->rules, "POST", "/center/x", NULL, 9, &d);
    assert_int_equal(d.action, ROUTE_ACTION_MISDIRECTED);
    /* no rules: the unit route cannot be decided at all */
    decide_hop(f, NULL, "GET", "/api/x", "1", 9, &d);
    assert_int_equal(d.action, ROUTE_ACTION_NO_RULES);
}

static void test_decide_no_rules(void **state)
{
    struct fx *f = *state;
    struct route_decision d;

    decide(f, NULL, "GET", "/api/x", "1", false, &d);
    assert_int_equal(d.action, ROUTE_ACTION_NO_RULES);
    assert_non_null(strstr(d.reason, "no routing rules"));
}

static void test_decide_bans(void **state)
{
    struct fx *f = *state;
    struct route_decision d;

    decide(f, f->banned, "POST", "/api/x", "10007", false, &d);   /* bucket 7 */
    assert_int_equal(d.action, ROUTE_ACTION_HOLD);
    assert_non_null(strstr(d.reason, "bucket 7"));
    decide(f, f->banned, "GET", "/api/x", "10007", false, &d);    /* reads flow */
    assert_int_equal(d.action, ROUTE_ACTION_LOCAL);
    decide(f, f->banned, "HEAD", "/api/x", "7", false, &d);
    assert_int_equal(d.action, ROUTE_ACTION_LOCAL);
    decide(f, f->banned, "OPTIONS", "/api/x", "7", false, &d);
    assert_int_equal(d.action, ROUTE_ACTION_LOCAL);
    decide(f, f->banned, "DELETE", "/api/x", "8", false, &d);     /* bucket 8: free */
    assert_int_equal(d.action, ROUTE_ACTION_LOCAL);
    f->table.ban_policy = ROUTE_BAN_REJECT;
    decide(f, f->banned, "PUT", "/api/x", "7", false, &d);
    assert_int_equal(d.action, ROUTE_ACTION_REJECT);
    /* a banned write on a hop is still held/rejected here, not bounced */
    decide(f, f->banned, "PATCH", "/api/x", "7", true, &d);
    assert_int_equal(d.action, ROUTE_ACTION_REJECT);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(route_type_name(ROUTE_TYPE_CENTER), "center");
    assert_int_equal(route_type_parse("local"), ROUTE_TYPE_LOCAL);
    assert_int_equal(route_type_parse("bogus"), -1);
    assert_string_equal(route_action_name(ROUTE_ACTION_MISDIRECTED), "misdirected");
    assert_string_equal(route_action_name(ROUTE_ACTION_COUNT), "?");
    assert_true(route_method_is_read("GET"));
    assert_false(route_method_is_read("POST"));
    assert_false(route_method_is_read("get"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buyer_parse),
        cmocka_unit_test(test_query_and_cookie),
        cmocka_unit_test_setup_teardown(test_extract_order, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_match_longest_prefix, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_decide_unit, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_decide_override, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_decide_bad_buyer, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_decide_center_local, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_decide_hop_loop, fx_setup, fx_teardown),
        cmocka_unit_test(test_hop_format),
        cmocka_unit_test(test_hop_parse),
        cmocka_unit_test_setup_teardown(test_decide_hop_version, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_decide_no_rules, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_decide_bans, fx_setup, fx_teardown),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
