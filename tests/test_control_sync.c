/* tests for control/sync: the command and manual checkers, gtid errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control/sync/sync.h"

static struct topology_db nodb;

static void ctx_init(struct sync_ctx *c, atomic_int *stop, atomic_int *confirmed)
{
    memset(c, 0, sizeof(*c));
    c->cutover_id = "c1";
    c->selection = "buckets:5000-5999";
    c->source_unit = "dc-b";
    c->target_unit = "dc-a";
    c->source_db = &nodb;
    c->target_db = &nodb;
    c->ban_time_ms = 1234;
    c->stop = stop;
    c->confirmed = confirmed;
}

static void test_find(void **state)
{
    (void)state;
    assert_ptr_equal(sync_checker_find("gtid"), &sync_checker_gtid);
    assert_ptr_equal(sync_checker_find("command"), &sync_checker_command);
    assert_ptr_equal(sync_checker_find("manual"), &sync_checker_manual);
    assert_null(sync_checker_find("otter"));
}

static void test_command_exit_codes(void **state)
{
    (void)state;
    struct sync_config cfg = { .method = "command" };
    struct sync_ctx c;
    atomic_int stop = 0;
    char err[256] = "", pos[64];

    ctx_init(&c, &stop, NULL);
    const struct sync_checker *k = &sync_checker_command;
    /* no command configured */
    assert_int_equal(k->preflight(&cfg, &c, err, sizeof(err)), SYNC_ERROR);
    assert_int_equal(k->wait(&cfg, &c, "", 1000, err, sizeof(err)), SYNC_ERROR);

    /* the environment carries the cutover */
    snprintf(cfg.command, sizeof(cfg.command),
             "test \"$UNITROUTE_SOURCE_UNIT\" = dc-b && test \"$UNITROUTE_TARGET_UNIT\" = dc-a "
             "&& test \"$UNITROUTE_BAN_TIME\" = 1234 && test \"$UNITROUTE_SOURCE_POS\" = 1-2-3 "
             "&& test \"$UNITROUTE_CUTOVER_ID\" = c1 "
             "&& test \"$UNITROUTE_SELECTION\" = buckets:5000-5999");
    assert_int_equal(k->preflight(&cfg, &c, err, sizeof(err)), SYNC_OK);
    assert_int_equal(k->wait(&cfg, &c, "1-2-3", 5000, err, sizeof(err)), SYNC_OK);
    assert_int_equal(k->wait(&cfg, &c, "9-9-9", 5000, err, sizeof(err)), SYNC_ERROR);
    assert_non_null(strstr(err, "exited with status 1"));

    snprintf(cfg.command, sizeof(cfg.command), "exit 7");
    assert_int_equal(k->wait(&cfg, &c, "", 5000, err, sizeof(err)), SYNC_ERROR);
    assert_non_null(strstr(err, "status 7"));

    /* ban point without a database: empty, not an error */
    assert_int_equal(k->ban_point(&cfg, &c, pos, sizeof(pos), err, sizeof(err)), SYNC_OK);
    assert_string_equal(pos, "");
}

static void test_command_timeout_kills(void **state)
{
    (void)state;
    struct sync_config cfg = { .method = "command" };
    struct sync_ctx c;
    atomic_int stop = 0;
    char err[256] = "";
    struct timespec t0, t1;

    ctx_init(&c, &stop, NULL);
    snprintf(cfg.command, sizeof(cfg.command), "sleep 30");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(sync_checker_command.wait(&cfg, &c, "", 300, err, sizeof(err)),
                     SYNC_TIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(t1.tv_sec - t0.tv_sec < 5);
    assert_non_null(strstr(err, "still running"));

    atomic_store(&stop, 1);
    assert_int_equal(sync_checker_command.wait(&cfg, &c, "", 5000, err, sizeof(err)),
                     SYNC_ABORTED);
}

static void *confirm_later(void *arg)
{
    struct timespec ts = { 0, 150 * 1000000L };
    nanosleep(&ts, NULL);
    atomic_store((atomic_int *)arg, 1);
    return NULL;
}

static void test_manual(void **state)
{
    (void)state;
    struct sync_config cfg = { .method = "manual" };
    struct sync_ctx c;
    atomic_int stop = 0, confirmed = 0;
    char err[256] = "", pos[64] = "x";
    pthread_t t;

    ctx_init(&c, &stop, &confirmed);
    const struct sync_checker *k = &sync_checker_manual;
    assert_int_equal(k->preflight(&cfg, &c, err, sizeof(err)), SYNC_OK);
    assert_int_equal(k->ban_point(&cfg, &c, pos, sizeof(pos), err, sizeof(err)), SYNC_OK);
    assert_string_equal(pos, "");
    assert_int_equal(k->wait(&cfg, &c, "", 200, err, sizeof(err)), SYNC_TIMEOUT);
    assert_non_null(strstr(err, "no confirm-sync c1"));
    pthread_create(&t, NULL, confirm_later, &confirmed);
    assert_int_equal(k->wait(&cfg, &c, "", 5000, err, sizeof(err)), SYNC_OK);
    pthread_join(t, NULL);
    atomic_store(&confirmed, 0);
    atomic_store(&stop, 1);
    assert_int_equal(k->wait(&cfg, &c, "", 5000, err, sizeof(err)), SYNC_ABORTED);
}

static void test_gtid_unreachable(void **state)
{
    (void)state;
    struct sync_config cfg = { .method = "gtid", .connect_timeout_s = 1 };
    struct topology_db db = { .host = "127.0.0.1", .port = 20419, .user = "u" };
    struct sync_ctx c;
    atomic_int stop = 0;
    char err[256] = "", pos[64];

    ctx_init(&c, &stop, NULL);
    c.source_db = &db;
    c.target_db = &db;
    assert_int_equal(sync_checker_gtid.preflight(&cfg, &c, err, sizeof(err)), SYNC_ERROR);
    assert_non_null(strstr(err, "127.0.0.1:20419"));
    assert_int_equal(sync_checker_gtid.ban_point(&cfg, &c, pos, sizeof(pos), err, sizeof(err)),
                     SYNC_ERROR);
    assert_int_equal(sync_checker_gtid.wait(&cfg, &c, "1-1-1", 500, err, sizeof(err)),
                     SYNC_ERROR);
    /* nothing to wait for */
    assert_int_equal(sync_checker_gtid.wait(&cfg, &c, "", 500, err, sizeof(err)), SYNC_OK);
    /* no database configured */
    c.source_db = &nodb;
    assert_int_equal(sync_checker_gtid.preflight(&cfg, &c, err, sizeof(err)), SYNC_ERROR);
    assert_non_null(strstr(err, "no database configured"));
    /* a missing password file is named */
    snprintf(db.password_file, sizeof(db.password_file), "/nonexistent/pw");
    c.source_db = &db;
    assert_int_equal(sync_checker_gtid.preflight(&cfg, &c, err, sizeof(err)), SYNC_ERROR);
    assert_non_null(strstr(err, "/nonexistent/pw"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_command_exit_codes),
        cmocka_unit_test(test_command_timeout_kills),
        cmocka_unit_test(test_manual),
        cmocka_unit_test(test_gtid_unreachable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
