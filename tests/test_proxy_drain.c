/*
 * test_proxy_drain: the ban drain over worker connection lists, without
 * sockets: no blocking connection -> immediate ack; a transaction that ends
 * within ban_drain_ms -> ack once it ends; one that never ends -> flagged
 * for a kill, and no ack (-1) when its worker does not close it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "proxy/proxy.h"
#include "proxy/proxy_inspect.h"

static const char *const units[] = { "dc-a", "dc-b" };

struct fixture {
    struct proxy        px;
    struct rules_keeper keeper;
    struct proxy_worker w;
    struct proxy_conn   c;
    uint64_t            key;
};

static void set_rules(struct fixture *f, uint64_t version, const char *bans)
{
    char text[512], err[256];

    snprintf(text, sizeof(text),
             "version = %lluL; buckets = 100;\n"
             "ranges = ( { first = 0; last = 99; unit = \"dc-a\"; } );\n"
             "overrides = ( ); bans = ( %s );\n", (unsigned long long)version, bans);
    struct rules *r = rules_parse(text, strlen(text), units, 2, err, sizeof(err));
    if (r == NULL)
        fail_msg("%s", err);
    rules_store_swap(&f->keeper.store, r);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    rules_store_init(&f->keeper.store);
    f->px.keeper = &f->keeper;
    f->px.cfg.ban_drain_ms = 100;
    f->px.workers = &f->w;
    f->px.nworkers = 1;
    f->w.px = &f->px;
    f->w.evfd = eventfd(0, EFD_NONBLOCK);
    pthread_mutex_init(&f->w.lock, NULL);
    f->w.conns = &f->c;
    f->c.w = &f->w;
    f->key = 15;
    f->c.wkeys = &f->key;               /* the open transaction wrote 15 */
    f->c.nwkeys = 1;
    set_rules(f, 1, "");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    rules_store_deinit(&f->keeper.store);
    pthread_mutex_destroy(&f->w.lock);
    close(f->w.evfd);
    free(f);
    return 0;
}

static void test_nothing_to_drain(void **state)
{
    struct fixture *f = *state;
    char err[128];

    set_rules(f, 2, "{ first = 16; last = 20; }");   /* not bucket 15 */
    int64_t t0 = proxy_now_ms();
    assert_int_equal(proxy_drain(&f->px, err, sizeof(err)), 0);
    assert_true(proxy_now_ms() - t0 < 50);
    assert_false(atomic_load(&f->c.kill));
}

/* Plays the worker: the transaction commits after 30 ms. */
static void *commit_later(void *arg)
{
    struct fixture *f = arg;
    struct timespec ts = { 0, 30 * 1000000L };

    nanosleep(&ts, NULL);
    pthread_mutex_lock(&f->w.lock);
    f->c.nwkeys = 0;
    pthread_mutex_unlock(&f->w.lock);
    return NULL;
}

static void test_drained_when_the_transaction_ends(void **state)
{
    struct fixture *f = *state;
    pthread_t t;
    char err[128];

    set_rules(f, 2, "{ first = 15; last = 15; }");
    pthread_create(&t, NULL, commit_later, f);
    int64_t t0 = proxy_now_ms();
    assert_int_equal(proxy_drain(&f->px, err, sizeof(err)), 0);
    int64_t took = proxy_now_ms() - t0;
    pthread_join(t, NULL);
    assert_true(took >= 25 && took < 100);
    assert_false(atomic_load(&f->c.kill));
    assert_int_equal(atomic_load(&f->px.m.drains), 1);
}

static void test_not_closed_means_no_ack(void **state)
{
    struct fixture *f = *state;
    char err[128];
    uint64_t wakes = 0;

    set_rules(f, 2, "{ first = 10; last = 19; }");
    assert_int_equal(proxy_drain(&f->px, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "could not be closed"));
    assert_true(atomic_load(&f->c.kill));           /* the kill was asked */
    assert_int_equal(read(f->w.evfd, &wakes, sizeof(wakes)), sizeof(wakes));
    assert_true(wakes >= 1);                        /* and the worker woken */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nothing_to_drain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drained_when_the_transaction_ends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_closed_means_no_ack, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
