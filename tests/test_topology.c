/*
 * Unit tests for router/topology: the example conf/topology.conf loads, and
 * every error names file:line and the fault.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "router/topology.h"

/* ---- the example -------------------------------------------------------------- */

static void test_example_loads(void **state)
{
    char err[512] = "";
    struct topology *t = topology_load("conf/topology.conf", err, sizeof(err));

    (void)state;
    if (t == NULL)
        fail_msg("conf/topology.conf (run from the top directory): %s", err);
    assert_int_equal(t->nunits, 2);
    assert_string_equal(t->units[0].name, "dc-a");
    assert_string_equal(t->units[1].name, "dc-b");
    assert_int_equal(t->center, 0);
    assert_string_equal(t->unit_names[0], "dc-a");
    assert_string_equal(t->unit_names[1], "dc-b");
    assert_int_equal(topology_unit_index(t, "dc-b"), 1);
    assert_int_equal(topology_unit_index(t, "dc-c"), -1);
    assert_string_equal(t->dir, "conf");
    assert_string_equal(t->secret_file, "conf/secret.key");
    const struct topology_unit *a = &t->units[0], *b = &t->units[1];
    assert_string_equal(a->public_url, "http://127.0.0.1:8081");
    assert_string_equal(b->gateway_url, "http://127.0.0.1:8082");
    assert_int_equal(a->ngateway_admin, 1);
    assert_string_equal(a->gateway_admin[0], "127.0.0.1:9081");
    assert_int_equal(b->nproxy_admin, 1);
    assert_string_equal(b->proxy_admin[0], "127.0.0.1:9092");
    assert_string_equal(a->db.host, "127.0.0.1");
    assert_int_equal(a->db.port, 3307);
    assert_int_equal(b->db.port, 3308);
    assert_string_equal(a->db.user, "unitroute");
    assert_string_equal(a->db.password_file, "conf/db-password");
    topology_destroy(t);
}

/* ---- a written topology: fixtures ------------------------------------------------ */

struct fx {
    char dir[64];
    char path[128];
};

static int fx_setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    if (fx == NULL)
        return -1;
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/ur-test-topo.XXXXXX");
    if (mkdtemp(fx->dir) == NULL)
        return -1;
    snprintf(fx->path, sizeof(fx->path), "%s/topology.conf", fx->dir);
    *state = fx;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *fx = *state;

    unlink(fx->path);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static void write_conf(struct fx *fx, const char *text)
{
    FILE *f = fopen(fx->path, "w");

    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static struct topology *load_ok(struct fx *fx, const char *text)
{
    char err[512] = "";
    struct topology *t;

    write_conf(fx, text);
    t = topology_load(fx->path, err, sizeof(err));
    if (t == NULL)
        fail_msg("unexpected error: %s", err);
    return t;
}

/* The error must start with "<path>:<line>: " and contain fault. */
static void load_fails(struct fx *fx, const char *text, int line, const char *fault)
{
    char err[512] = "", want[192];
    struct topology *t;

    write_conf(fx, text);
    t = topology_load(fx->path, err, sizeof(err));
    if (t != NULL) {
        topology_destroy(t);
        fail_msg("loaded, wanted line %d: %s\n%s", line, fault, text);
    }
    snprintf(want, sizeof(want), "%s:%d: ", fx->path, line);
    if (strncmp(err, want, strlen(want)) != 0 || strstr(err, fault) == NULL)
        fail_msg("error \"%s\"\n  wanted \"%s...%s\"", err, want, fault);
}

#define HEAD "secret_file = \"secret.key\";\ncenter = \"dc-a\";\n"
#define UNIT_A "{ name = \"dc-a\"; public_url = \"http://127.0.0.1:8081\"; }"
#define UNIT_B "{ name = \"dc-b\"; public_url = \"http://127.0.0.1:8082\"; }"

static void test_minimal(void **state)
{
    struct fx *fx = *state;
    struct topology *t = load_ok(fx, HEAD "units = (\n" UNIT_A ",\n" UNIT_B "\n);\n");
    char want[192];

    assert_int_equal(t->nunits, 2);
    /* gateway_url defaults to public_url; lists may be absent */
    assert_string_equal(t->units[1].gateway_url, "http://127.0.0.1:8082");
    assert_int_equal(t->units[0].ngateway_admin, 0);
    assert_int_equal(t->units[0].db.port, 0);
    assert_string_equal(t->units[0].db.password_file, "");
    snprintf(want, sizeof(want), "%s/secret.key", fx->dir);
    assert_string_equal(t->secret_file, want);
    topology_destroy(t);

    /* absolute paths stay as they are */
    t = load_ok(fx, "secret_file = \"/etc/unitroute/key\";\ncenter = \"dc-b\";\n"
                    "units = (\n" UNIT_A ",\n" UNIT_B "\n);\n");
    assert_string_equal(t->secret_file, "/etc/unitroute/key");
    assert_int_equal(t->center, 1);
    topology_destroy(t);
}

static void test_error_unknown_key(void **state)
{
    struct fx *fx = *state;

    load_fails(fx, HEAD "colour = 1;\nunits = (\n" UNIT_A "\n);\n", 3, "unknown key 'colour'");
    load_fails(fx, HEAD "units = (\n{ name = \"dc-a\";\n  public_url = \"http://x:1\";\n"
                        "  weight = 3; }\n);\n", 6, "unknown key 'weight'");
    load_fails(fx, HEAD "units = (\n{ name = \"dc-a\"; public_url = \"http://x:1\";\n"
                        "  db = { host = \"h\"; port = 1; user = \"u\";\n pass = \"p\"; }; }\n);\n",
               6, "unknown key 'pass'");
}

static void test_error_missing_name(void **state)
{
    struct fx *fx = *state;

    load_fails(fx, HEAD "units = (\n" UNIT_A ",\n{ public_url = \"http://127.0.0.1:8082\"; }\n);\n",
               5, "missing 'name'");
    load_fails(fx, HEAD "units = (\n{ name = \"dc-a\"; }\n);\n", 4, "missing 'public_url'");
    load_fails(fx, HEAD "units = (\n{ name = \"\"; public_url = \"u\"; }\n);\n", 4,
               "'name' must be a non-empty string");
    load_fails(fx, HEAD "units = (\n{ name = 5; public_url = \"u\"; }\n);\n", 4,
               "'name' must be a non-empty string");
    load_fails(fx, HEAD "units = (\n{ name = \"a-unit-name-that-is-thirty-two-ch\"; public_url = \"u\"; }\n);\n",
               4, "'name' is longer than 31 characters");
}

static void test_error_duplicate_unit(void **state)
{
    struct fx *fx = *state;

    load_fails(fx, HEAD "units = (\n" UNIT_A ",\n" UNIT_B ",\n" UNIT_A "\n);\n", 6,
               "unit \"dc-a\" is listed twice");
}

static void test_error_center_not_a_unit(void **state)
{
    struct fx *fx = *state;

    load_fails(fx, "secret_file = \"k\";\n\ncenter = \"dc-z\";\nunits = (\n" UNIT_A "\n);\n", 3,
               "center \"dc-z\" is not one of the units");
    load_fails(fx, "secret_file = \"k\";\nunits = (\n" UNIT_A "\n);\n", 0, "missing 'center'");
    load_fails(fx, "center = \"dc-a\";\nunits = (\n" UNIT_A "\n);\n", 0, "missing 'secret_file'");
}

static void test_error_bad_host_port(void **state)
{
    static const char *const bad[] = {
        "127.0.0.1", "127.0.0.1:", ":9081", "127.0.0.1:0", "127.0.0.1:99999",
        "127.0.0.1:65536", "127.0.0.1:80x", "127.0.0.1:-1", "127.0.0.1: 80",
    };
    struct fx *fx = *state;
    char text[512];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), HEAD "units = (\n{ name = \"dc-a\"; public_url = \"u\";\n"
                                          "  gateway_admin = [ \"127.0.0.1:1\",\n  \"%s\" ]; }\n);\n",
                 bad[i]);
        load_fails(fx, text, 5, "'gateway_admin'[1] must be \"host:port\"");
        snprintf(text, sizeof(text), HEAD "units = (\n{ name = \"dc-a\"; public_url = \"u\";\n"
                                          "  proxy_admin = [ \"%s\" ]; }\n);\n", bad[i]);
        load_fails(fx, text, 5, "'proxy_admin'[0] must be \"host:port\"");
    }
    load_fails(fx, HEAD "units = (\n{ name = \"dc-a\"; public_url = \"u\";\n"
                        "  proxy_admin = [ 9091 ]; }\n);\n", 5, "must be \"host:port\"");
    load_fails(fx, HEAD "units = (\n{ name = \"dc-a\"; public_url = \"u\";\n"
                        "  proxy_admin = \"127.0.0.1:9091\"; }\n);\n", 5, "must be an array");
    /* the edges that are fine */
    struct topology *t = load_ok(fx, HEAD "units = (\n{ name = \"dc-a\"; public_url = \"u\";\n"
                                          "  proxy_admin = [ \"127.0.0.1:1\", \"[::1]:65535\","
                                          " \"localhost:9091\" ]; }\n);\n");
    assert_int_equal(t->units[0].nproxy_admin, 3);
    assert_string_equal(t->units[0].proxy_admin[1], "[::1]:65535");
    topology_destroy(t);
}

static void test_error_db(void **state)
{
    struct fx *fx = *state;

    load_fails(fx, HEAD "units = (\n{ name = \"dc-a\"; public_url = \"u\";\n"
                        "  db = { host = \"h\"; user = \"u\"; port = 70000; }; }\n);\n", 5,
               "'db.port' must be an integer in 1..65535");
    load_fails(fx, HEAD "units = (\n{ name = \"dc-a\"; public_url = \"u\";\n"
                        "  db = { host = \"h\"; port = 3306; }; }\n);\n", 5, "missing 'user'");
    load_fails(fx, HEAD "units = (\n{ name = \"dc-a\"; public_url = \"u\";\n"
                        "  db = \"mysql://h\"; }\n);\n", 5, "'db' must be a group");
}

static void test_error_units_list(void **state)
{
    struct fx *fx = *state;

    load_fails(fx, HEAD "units = ( );\n", 3, "'units' must be a non-empty list");
    load_fails(fx, HEAD "\nunits = 5;\n", 4, "'units' must be a non-empty list");
    load_fails(fx, HEAD, 0, "'units' must be a non-empty list");
    load_fails(fx, HEAD "units = (\n\"dc-a\" );\n", 4, "each unit must be a group");
}

static void test_error_syntax_and_missing_file(void **state)
{
    struct fx *fx = *state;
    char err[512] = "", missing[160];

    load_fails(fx, HEAD "units = (\n" UNIT_A "\n;\n", 5, "syntax error");
    snprintf(missing, sizeof(missing), "%s/none.conf", fx->dir);
    assert_null(topology_load(missing, err, sizeof(err)));
    assert_non_null(strstr(err, missing));
}

/* Found by fuzz_topology: libconfig 1.5 wraps an oversized integer silently. */
static void test_error_integer_too_large(void **state)
{
    struct fx *fx = *state;

    load_fails(fx, HEAD "units = (\n{ name = \"dc-a\"; public_url = \"http://x:1\";\n"
                        "  db = { host = \"h\"; port = 4294967297; user = \"u\"; }; }\n);\n",
               5, "integer 4294967297 does not fit 32 bits");
}

/* Found by fuzz_topology: libconfig 1.5 leaked this string token (ASan run). */
static void test_error_string_after_value(void **state)
{
    struct fx *fx = *state;

    load_fails(fx, HEAD "units = 1 \"dc-a\";\n", 3, "unexpected string");
    load_fails(fx, HEAD "units = (\n" UNIT_A "\n);\nx = \"a\" ]\n\"b\";\n", 7,
               "unexpected string");
}

static void test_resolve_path(void **state)
{
    char out[16];

    (void)state;
    assert_int_equal(topology_resolve_path("conf", "key", out, sizeof(out)), 0);
    assert_string_equal(out, "conf/key");
    assert_int_equal(topology_resolve_path("conf", "/abs", out, sizeof(out)), 0);
    assert_string_equal(out, "/abs");
    assert_int_equal(topology_resolve_path("", "key", out, sizeof(out)), 0);
    assert_string_equal(out, "key");
    assert_int_equal(topology_resolve_path(NULL, "key", out, sizeof(out)), 0);
    assert_string_equal(out, "key");
    assert_int_equal(topology_resolve_path("a-long-directory", "key", out, sizeof(out)), -1);
    assert_int_equal(topology_resolve_path("conf", "0123456789ab", out, sizeof(out)), -1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_loads),
        T(test_minimal),
        T(test_error_unknown_key),
        T(test_error_missing_name),
        T(test_error_duplicate_unit),
        T(test_error_center_not_a_unit),
        T(test_error_bad_host_port),
        T(test_error_db),
        T(test_error_units_list),
        T(test_error_syntax_and_missing_file),
        T(test_error_integer_too_large),
        T(test_error_string_after_value),
        cmocka_unit_test(test_resolve_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
