/*
 * test_proxy_config: unitproxy's configuration reader: defaults, tables,
 * allow_ddl, procedures_pass and per-table upsert, path resolution, and every kind of error
 * with its file:line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "proxy/proxy_config.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_proxy_config.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char path[128];

    (void)state;
    snprintf(path, sizeof(path), "%s/p.conf", dir);
    unlink(path);
    rmdir(dir);
    return 0;
}

/* Write text to dir/p.conf and load it. */
static int load(const char *text, struct proxy_config *c, char *err)
{
    char path[128];

    snprintf(path, sizeof(path), "%s/p.conf", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return proxy_config_load(path, c, err, 512);
}

#define BASE "unit = \"dc-a\";\ntopology = \"topology.conf\";\nbackend = \"127.0.0.1:3307\";\n" \
             "admin = \"127.0.0.1:9091\";\nstate_file = \"state/p.rules\";\n"

static void test_defaults(void **state)
{
    struct proxy_config *c = malloc(sizeof(*c));
    char err[512], want[128];

    (void)state;
    assert_int_equal(load(BASE, c, err), 0);
    assert_string_equal(c->unit, "dc-a");
    assert_string_equal(c->listen, "127.0.0.1:3311");
    snprintf(want, sizeof(want), "%s/topology.conf", dir);
    assert_string_equal(c->topology, want);
    snprintf(want, sizeof(want), "%s/state/p.rules", dir);
    assert_string_equal(c->state_file, want);
    assert_int_equal(c->workers, 1);
    assert_int_equal(c->ban_drain_ms, 2000);
    assert_true(c->max_statement_bytes == 64LL << 20);
    assert_int_equal(c->keepalive.idle_s, 10);
    assert_int_equal(c->keepalive.interval_s, 3);
    assert_int_equal(c->keepalive.count, 3);
    assert_int_equal(c->keepalive.user_timeout_ms, 20000);
    assert_int_equal(c->ntables, 0);
    assert_false(c->policy.allow_ddl);
    assert_int_equal(c->policy.nprocs_pass, 0);
    free(c);
}

static void test_policy(void **state)
{
    struct proxy_config *c = malloc(sizeof(*c));
    char err[512], text[4096];
    size_t n;

    (void)state;
    assert_int_equal(load(BASE "allow_ddl = true;\n"
                          "procedures_pass = [ \"ping\", \"shop.audit_log\" ];\n", c, err), 0);
    assert_true(c->policy.allow_ddl);
    assert_int_equal(c->policy.nprocs_pass, 2);
    assert_string_equal(c->policy.procs_pass[0].schema, "");
    assert_string_equal(c->policy.procs_pass[0].name, "ping");
    assert_string_equal(c->policy.procs_pass[1].schema, "shop");
    assert_string_equal(c->policy.procs_pass[1].name, "audit_log");
    assert_int_equal(load(BASE "allow_ddl = false;\nprocedures_pass = ( \"p\" );\n", c, err), 0);
    assert_false(c->policy.allow_ddl);
    assert_int_equal(c->policy.nprocs_pass, 1);
    assert_int_equal(load(BASE "procedures_pass = [ ];\n", c, err), 0);
    assert_int_equal(c->policy.nprocs_pass, 0);
    /* the limit, and one more */
    n = (size_t)snprintf(text, sizeof(text), BASE "procedures_pass = [ \"p0\"");
    for (int i = 1; i < SQL_PROCS_PASS_MAX; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, ", \"p%d\"", i);
    snprintf(text + n, sizeof(text) - n, " ];\n");
    assert_int_equal(load(text, c, err), 0);
    assert_int_equal(c->policy.nprocs_pass, SQL_PROCS_PASS_MAX);
    snprintf(text + n, sizeof(text) - n, ", \"one_more\" ];\n");
    assert_int_equal(load(text, c, err), -1);
    assert_non_null(strstr(err, "p.conf:6: too many procedures in procedures_pass"));
    free(c);
}

static void test_tables_and_keepalive(void **state)
{
    struct proxy_config *c = malloc(sizeof(*c));
    char err[512];

    (void)state;
    assert_int_equal(load(BASE "keepalive = { idle_s = 4; count = 2; };\n"
                          "tables = ( { name = \"orders\"; class = \"unit\"; },\n"
                          "  { name = \"shop.carts\"; column = \"owner_id\"; },\n"
                          "  { name = \"sellers\"; class = \"center\"; } );\n"
                          "ban_drain_ms = 0;\nmax_statement_bytes = 5000000000L;\n", c, err), -1);
    assert_non_null(strstr(err, "p.conf:11: max_statement_bytes out of range"));
    assert_int_equal(load(BASE "keepalive = { idle_s = 4; count = 2; };\n"
                          "tables = ( { name = \"orders\"; class = \"unit\"; },\n"
                          "  { name = \"shop.carts\"; column = \"owner_id\"; },\n"
                          "  { name = \"sellers\"; class = \"center\"; } );\n"
                          "ban_drain_ms = 0;\n", c, err), 0);
    assert_int_equal(c->keepalive.idle_s, 4);
    assert_int_equal(c->keepalive.interval_s, 3);
    assert_int_equal(c->keepalive.count, 2);
    assert_int_equal(c->ban_drain_ms, 0);
    assert_int_equal(c->ntables, 3);
    assert_string_equal(c->tables[0].column, "buyer_id");
    assert_int_equal(c->tables[0].cls, SQL_TABLE_UNIT);
    assert_string_equal(c->tables[1].schema, "shop");
    assert_string_equal(c->tables[1].name, "carts");
    assert_string_equal(c->tables[1].column, "owner_id");
    assert_int_equal(c->tables[2].cls, SQL_TABLE_CENTER);
    assert_int_equal(c->policy.nupsert_tables, 0);
    free(c);
}

/* upsert = true: the unit table (as configured) joins the policy's upsert_tables. */
static void test_table_upsert(void **state)
{
    struct proxy_config *c = malloc(sizeof(*c));
    char err[512];

    (void)state;
    assert_int_equal(load(BASE "tables = ( { name = \"orders\"; upsert = true; },\n"
                          "  { name = \"carts\"; column = \"customer\"; upsert = false; },\n"
                          "  { name = \"shop.payments\"; class = \"unit\"; upsert = true; },\n"
                          "  { name = \"sellers\"; class = \"center\"; } );\n", c, err), 0);
    assert_int_equal(c->ntables, 4);
    assert_int_equal(c->policy.nupsert_tables, 2);
    assert_string_equal(c->policy.upsert_tables[0].schema, "");
    assert_string_equal(c->policy.upsert_tables[0].name, "orders");
    assert_string_equal(c->policy.upsert_tables[1].schema, "shop");
    assert_string_equal(c->policy.upsert_tables[1].name, "payments");
    free(c);
}

static void test_errors(void **state)
{
    static const struct { const char *text, *want; } bad[] = {
        { BASE "bogus = 1;\n", "p.conf:6: unknown key 'bogus'" },
        { BASE "workers = \"two\";\n", "p.conf:6: workers must be an integer" },
        { BASE "workers = 0;\n", "p.conf:6: workers out of range" },
        { BASE "listen = 5;\n", "p.conf:6: listen must be a string" },
        { BASE "keepalive = { idle = 1; };\n", "p.conf:6: unknown key 'idle'" },
        { BASE "keepalive = 3;\n", "keepalive must be a group" },
        { BASE "tables = ( { name = \"t\"; class = \"weird\"; } );\n", "class 'weird'" },
        { BASE "tables = ( { class = \"unit\"; } );\n", "a table needs a name" },
        { BASE "tables = ( { name = \"t\"; extra = \"x\"; } );\n", "unknown key 'extra' in a table" },
        { BASE "tables = ( { name = 1; } );\n", "name must be a string" },
        { BASE "tables = 5;\n", "tables must be a list" },
        { BASE "log_level = \"loud\";\n", "log_level 'loud'" },
        { "unit = \"dc-a\";\n", "missing required key 'topology'" },
        { BASE "workers = ;\n", "p.conf:6: syntax error" },
        { BASE "allow_ddl = 1;\n", "p.conf:6: allow_ddl must be true or false" },
        { BASE "allow_ddl = \"yes\";\n", "p.conf:6: allow_ddl must be true or false" },
        { BASE "procedures_pass = \"p\";\n", "p.conf:6: procedures_pass must be a list" },
        { BASE "procedures_pass = [ 1 ];\n", "p.conf:6: procedures_pass entries must be strings" },
        { BASE "procedures_pass = [ \"\" ];\n", "p.conf:6: bad procedure name ''" },
        { BASE "procedures_pass = [ \"a.b.c\" ];\n", "bad procedure name 'a.b.c'" },
        { BASE "procedures_pass = [ \".p\" ];\n", "bad procedure name '.p'" },
        { BASE "procedures_pass = [ \"s.\" ];\n", "bad procedure name 's.'" },
        { BASE "tables = ( { name = \"t\"; upsert = \"yes\"; } );\n", "p.conf:6: upsert must be true or false" },
        { BASE "tables = ( { name = \"t\"; upsert = 1; } );\n", "upsert must be true or false" },
        { BASE "tables = ( { name = \"s\"; class = \"center\"; upsert = true; } );\n",
          "p.conf:6: upsert is for unit tables, not class 'center'" },
    };
    struct proxy_config *c = malloc(sizeof(*c));
    char err[512];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(load(bad[i].text, c, err), -1);
        if (strstr(err, bad[i].want) == NULL)
            fail_msg("case %zu: [%s] lacks [%s]", i, err, bad[i].want);
    }
    assert_int_equal(proxy_config_load("/nonexistent/p.conf", c, err, sizeof(err)), -1);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_tables_and_keepalive),
        cmocka_unit_test(test_table_upsert),
        cmocka_unit_test(test_policy),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
