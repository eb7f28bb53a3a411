/* Unit tests for gateway/gw_config: defaults, every kind of key, errors with file:line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "gateway/gw_config.h"

static char dir[] = "/tmp/test_gw_config.XXXXXX";

static int setup(void **state)
{
    (void)state;
    if (mkdtemp(dir) == NULL)
        return -1;
    char path[256];
    snprintf(path, sizeof(path), "%s/topology.conf", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "secret_file = \"secret.key\";\ncenter = \"dc-a\";\nunits = (\n"
               " { name = \"dc-a\"; public_url = \"http://127.0.0.1:18081\"; },\n"
               " { name = \"dc-b\"; public_url = \"http://127.0.0.1:18082\"; } );\n");
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

#define BASE_HEAD \
    "unit = \"dc-b\";\n" \
    "topology = \"topology.conf\";\n" \
    "listen = \"127.0.0.1:18082\";\n" \
    "admin_listen = \"127.0.0.1:18182\";\n"

static const char *BASE = BASE_HEAD
    "routes = ( { prefix = \"/api/\"; type = \"unit\"; upstream = \"http://127.0.0.1:7082/\"; } );\n";
static const char *BASE_NO_ROUTES = BASE_HEAD;

/* Write BASE + extra to a file and load it. */
static struct gw_config *load(const char *base, const char *extra, char *err, size_t errlen)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/gw.conf", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "%s%s", base, extra);
    fclose(f);
    return gw_config_load(path, err, errlen);
}

static void test_defaults(void **state)
{
    (void)state;
    char err[512] = "";
    struct gw_config *c = load(BASE, "", err, sizeof(err));

    assert_non_null(c);
    assert_string_equal(c->unit, "dc-b");
    assert_int_equal(c->table.self, 1);
    assert_int_equal(c->mode, ROUTE_MODE_FORWARD);
    assert_int_equal(c->ban_policy, ROUTE_BAN_HOLD);
    assert_int_equal(c->ban_hold_ms, 5000);
    assert_int_equal(c->ban_drain_ms, 1000);
    assert_string_equal(c->hop_header, "X-Unitroute-Hop");
    assert_int_equal(c->table.nsources, 3);
    assert_int_equal(c->table.sources[0].kind, ROUTE_SOURCE_HEADER);
    assert_string_equal(c->table.sources[0].name, "X-Buyer-Id");
    assert_string_equal(c->table.sources[2].name, "buyer_id");
    assert_string_equal(c->table.entries[0].upstream, "http://127.0.0.1:7082"); /* slash dropped */
    assert_true(c->max_body_bytes == 1073741824LL);
    assert_false(c->log_requests);
    assert_string_equal(c->rules_file, "");
    /* the topology path resolved against the config's directory */
    assert_non_null(strstr(c->topology_path, dir));
    gw_config_destroy(c);
}

static void test_values(void **state)
{
    (void)state;
    char err[512] = "";
    struct gw_config *c = load(BASE,
        "mode = \"redirect\"; ban_policy = \"reject\"; ban_hold_ms = 10; ban_drain_ms = 0;\n"
        "state_dir = \"st\"; log_requests = true; max_body_bytes = 5000000000L;\n"
        "buyer_order = [ \"cookie\", \"header\" ]; buyer_header = \"\"; buyer_cookie = \"bid\";\n",
        err, sizeof(err));

    assert_non_null(c);
    assert_int_equal(c->mode, ROUTE_MODE_REDIRECT);
    assert_int_equal(c->table.mode, ROUTE_MODE_REDIRECT);
    assert_int_equal(c->table.ban_policy, ROUTE_BAN_REJECT);
    assert_int_equal(c->ban_hold_ms, 10);
    assert_int_equal(c->ban_drain_ms, 0);       /* 0: ack a ban at once */
    assert_true(c->log_requests);
    assert_true(c->max_body_bytes == 5000000000LL);
    /* header source disabled by its empty name: only the cookie is left */
    assert_int_equal(c->table.nsources, 1);
    assert_int_equal(c->table.sources[0].kind, ROUTE_SOURCE_COOKIE);
    assert_string_equal(c->table.sources[0].name, "bid");
    assert_non_null(strstr(c->rules_file, "/st/" GW_CONFIG_RULES_FILE));
    gw_config_destroy(c);
}

/* Each bad line must fail and name the file and that line. */
static void expect_error(const char *extra, const char *needle)
{
    char err[512] = "";
    struct gw_config *c = load(strstr(extra, "routes") ? BASE_NO_ROUTES : BASE, extra, err,
                               sizeof(err));
    if (c != NULL) {
        gw_config_destroy(c);
        fail_msg("accepted: %s", extra);
    }
    if (strstr(err, needle) == NULL)
        fail_msg("error [%s] lacks [%s]", err, needle);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("bogus = 1;\n", "gw.conf:6: unknown key 'bogus'");
    expect_error("mode = \"sideways\";\n", "gw.conf:6: 'mode' must be one of");
    expect_error("ban_hold_ms = -1;\n", "gw.conf:6: 'ban_hold_ms' must be in");
    expect_error("ban_drain_ms = 600001;\n", "gw.conf:6: 'ban_drain_ms' must be in");
    expect_error("workers = \"two\";\n", "gw.conf:6: 'workers' must be an integer");
    expect_error("log_requests = 1;\n", "'log_requests' must be true or false");
    expect_error("hop_header = \"bad header\";\n", "'hop_header' must be a name");
    expect_error("buyer_order = [ \"header\", \"header\" ];\n", "each at most once");
    expect_error("buyer_header = \"\"; buyer_query = \"\"; buyer_cookie = \"\";\n",
                 "no buyerId source left");
    expect_error("\nroutes = ( { prefix = \"api\"; type = \"unit\"; upstream = \"http://x\"; } );\n",
                 "gw.conf:6: route 'prefix' must be a path");
    expect_error("routes = ( { prefix = \"/a\"; type = \"remote\"; upstream = \"http://x\"; } );\n",
                 "'type' must be");
    expect_error("routes = ( { prefix = \"/a\"; type = \"unit\"; upstream = \"ftp://x\"; } );\n",
                 "'upstream' must be an http://");
    expect_error("routes = ( { prefix = \"/a\"; type = \"unit\"; upstream = \"http://x\"; up = 1; } );\n",
                 "unknown route key 'up'");
    expect_error("routes = ( { prefix = \"/a\"; type = \"unit\"; upstream = \"http://x\"; },\n"
                 "            { prefix = \"/a\"; type = \"local\"; upstream = \"http://x\"; } );\n",
                 "listed twice");
    expect_error("listen2 = 3;\n", "unknown key 'listen2'");
    expect_error("syntax error here\n", "gw.conf:6:");
}

static void test_missing_and_topology(void **state)
{
    (void)state;
    char err[512] = "";
    struct gw_config *c = load("unit = \"dc-a\";\n", "", err, sizeof(err));
    assert_null(c);
    assert_non_null(strstr(err, "missing required key 'topology'"));

    c = load("unit = \"dc-z\"; topology = \"topology.conf\"; listen = \"127.0.0.1:1\";\n"
             "admin_listen = \"127.0.0.1:2\";\n"
             "routes = ( { prefix = \"/\"; type = \"local\"; upstream = \"http://x\"; } );\n",
             "", err, sizeof(err));
    assert_null(c);
    assert_non_null(strstr(err, "unit \"dc-z\" is not in the topology"));

    c = load("unit = \"dc-a\"; topology = \"nope.conf\"; listen = \"127.0.0.1:1\";\n"
             "admin_listen = \"127.0.0.1:2\";\n"
             "routes = ( { prefix = \"/\"; type = \"local\"; upstream = \"http://x\"; } );\n",
             "", err, sizeof(err));
    assert_null(c);
    assert_non_null(strstr(err, "topology"));

    c = load("unit = \"dc-a\"; topology = \"topology.conf\"; listen = \"nohost\";\n", "", err,
             sizeof(err));
    assert_null(c);
    assert_non_null(strstr(err, "'listen' must be \"host:port\""));

    assert_null(gw_config_load("/nonexistent/gw.conf", err, sizeof(err)));
    assert_non_null(strstr(err, "cannot read"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_missing_and_topology),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
