/* tests for control/ctl_config (control.conf) and the CLI's duration parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/cli.h"
#include "control/ctl_config.h"

static char dir[64];
static char path[128];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_ctlconf.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/control.conf", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    rmdir(dir);
    return 0;
}

static void write_conf(const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_defaults_and_paths(void **state)
{
    (void)state;
    struct ctl_config cfg;
    char err[256], want[256];

    write_conf("listen = \"127.0.0.1:20999\";\nstate_dir = \"st\";\n"
               "token_file = \"/abs/token\";\ncutover_timeout_ms = 1500;\n");
    assert_int_equal(ctl_config_load(&cfg, path, err, sizeof(err)), 0);
    assert_string_equal(cfg.listen, "127.0.0.1:20999");
    snprintf(want, sizeof(want), "%s/st", dir);
    assert_string_equal(cfg.state_dir, want);
    assert_string_equal(cfg.token_file, "/abs/token");
    snprintf(want, sizeof(want), "%s/topology.conf", dir);
    assert_string_equal(cfg.topology, want);
    assert_int_equal(cfg.cutover_timeout_ms, 1500);
    assert_int_equal(cfg.push_timeout_ms, 3000);
    assert_int_equal(cfg.reconcile_interval_ms, 1000);
    assert_string_equal(cfg.sync_method, "gtid");

    struct sync_config sc;
    ctl_config_sync(&cfg, &sc);
    assert_string_equal(sc.method, "gtid");
    assert_int_equal(sc.max_lag_s, 5);
}

static void test_unknown_key(void **state)
{
    (void)state;
    struct ctl_config cfg;
    char err[256] = "";

    write_conf("listen = \"127.0.0.1:1\";\n\nlisten_port = 5;\n");
    assert_int_equal(ctl_config_load(&cfg, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ":3: unknown key 'listen_port'"));
}

static void test_bad_values(void **state)
{
    (void)state;
    struct ctl_config cfg;
    char err[256] = "";

    write_conf("push_timeout_ms = 1;\n");
    assert_int_equal(ctl_config_load(&cfg, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "out of range"));
    write_conf("push_timeout_ms = \"fast\";\n");
    assert_int_equal(ctl_config_load(&cfg, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "must be an integer"));
    write_conf("listen = 5;\n");
    assert_int_equal(ctl_config_load(&cfg, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "must be a string"));
    write_conf("sync_method = \"telepathy\";\n");
    assert_int_equal(ctl_config_load(&cfg, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "expected gtid, command or manual"));
    write_conf("listen = = 3;\n");  /* syntax error */
    assert_int_equal(ctl_config_load(&cfg, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, path));
}

static void test_missing_file(void **state)
{
    (void)state;
    struct ctl_config cfg;
    char err[256] = "";
    assert_int_equal(ctl_config_load(&cfg, "/nonexistent/control.conf", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent/control.conf"));
}

static void test_shipped_config_loads(void **state)
{
    (void)state;
    struct ctl_config cfg;
    char err[256] = "";
    assert_int_equal(ctl_config_load(&cfg, "conf/control.conf", err, sizeof(err)), 0);
    assert_string_equal(cfg.listen, "127.0.0.1:9000");
    assert_string_equal(cfg.sync_method, "gtid");
}

static void test_durations(void **state)
{
    (void)state;
    assert_int_equal(cli_parse_duration("30s"), 30000);
    assert_int_equal(cli_parse_duration("30"), 30000);
    assert_int_equal(cli_parse_duration("1.5s"), 1500);
    assert_int_equal(cli_parse_duration("250ms"), 250);
    assert_int_equal(cli_parse_duration("2m"), 120000);
    assert_int_equal(cli_parse_duration("abc"), -1);
    assert_int_equal(cli_parse_duration("5h"), -1);
    assert_int_equal(cli_parse_duration("-3s"), -1);
    assert_int_equal(cli_parse_duration(""), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults_and_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_values, setup, teardown),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_shipped_config_loads),
        cmocka_unit_test(test_durations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
