/* Unit tests for gateway/gw_drain: in-flight writes per lane, the ban drain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "gateway/gw_drain.h"

static const char *const UNITS[] = { "dc-a", "dc-b" };

/* Buckets 0-4999 dc-a, 5000-9999 dc-b, buyer 42 overridden; bans as given. */
static struct rules *rules_with(uint64_t version, const char *bans)
{
    char text[1024], err[256];
    snprintf(text, sizeof(text),
             "version = %lluL; buckets = 10000;\n"
             "ranges = ( { first = 0; last = 4999; unit = \"dc-a\"; },\n"
             "           { first = 5000; last = 9999; unit = \"dc-b\"; } );\n"
             "overrides = ( { buyer = 42L; unit = \"dc-b\"; } );\n"
             "bans = ( %s );\n", (unsigned long long)version, bans);
    struct rules *r = rules_parse(text, strlen(text), UNITS, 2, err, sizeof(err));
    if (r == NULL)
        fail_msg("rules_parse: %s", err);
    return r;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void link_one(struct gw_drain_lane *l, struct gw_drain_entry *e, uint64_t buyer)
{
    gw_drain_lock(l);
    gw_drain_link(l, e, buyer);
    gw_drain_unlock(l);
}

static void test_link_unlink_count(void **state)
{
    (void)state;
    struct gw_drain_lane lanes[2];
    struct gw_drain_entry e[4];
    struct rules *none = rules_with(1, "");
    struct rules *ban7 = rules_with(2, "{ first = 7; last = 7; }");

    memset(e, 0, sizeof(e));
    gw_drain_lane_init(&lanes[0]);
    gw_drain_lane_init(&lanes[1]);
    link_one(&lanes[0], &e[0], 7);          /* bucket 7 */
    link_one(&lanes[0], &e[1], 10007);      /* bucket 7 */
    link_one(&lanes[1], &e[2], 8);          /* bucket 8: not banned */
    link_one(&lanes[1], &e[3], 20007);      /* bucket 7, other lane */
    assert_true(e[0].linked && e[3].linked);

    assert_int_equal(gw_drain_count(lanes, 2, NULL), 0);
    assert_int_equal(gw_drain_count(lanes, 2, none), 0);
    assert_int_equal(gw_drain_count(lanes, 2, ban7), 3);
    assert_int_equal(gw_drain_count(lanes, 1, ban7), 2);

    /* unlink from the middle, the head, the tail; twice is a no-op */
    gw_drain_unlink(&lanes[0], &e[0]);
    assert_false(e[0].linked);
    gw_drain_unlink(&lanes[0], &e[0]);
    assert_int_equal(gw_drain_count(lanes, 2, ban7), 2);
    gw_drain_unlink(&lanes[1], &e[3]);
    assert_int_equal(gw_drain_count(lanes, 2, ban7), 1);
    gw_drain_unlink(&lanes[0], &e[1]);
    gw_drain_unlink(&lanes[1], &e[2]);
    assert_null(lanes[0].head);
    assert_null(lanes[1].head);
    assert_int_equal(gw_drain_count(lanes, 2, ban7), 0);

    /* relink after unlink works (a kept-alive request slot is reused) */
    link_one(&lanes[1], &e[2], 30007);
    assert_int_equal(gw_drain_count(lanes, 2, ban7), 1);
    gw_drain_unlink(&lanes[1], &e[2]);

    gw_drain_lane_deinit(&lanes[0]);
    gw_drain_lane_deinit(&lanes[1]);
    rules_destroy(none);
    rules_destroy(ban7);
}

static void test_count_buyer_ban_and_override(void **state)
{
    (void)state;
    struct gw_drain_lane lane;
    struct gw_drain_entry a = { 0 }, b = { 0 };
    /* bucket 42 banned: buyer 42 is an override, its bucket's ban does not apply */
    struct rules *r = rules_with(3, "{ first = 42; last = 42; }");

    gw_drain_lane_init(&lane);
    link_one(&lane, &a, 42);
    link_one(&lane, &b, 10042);
    assert_int_equal(gw_drain_count(&lane, 1, r), 1);
    gw_drain_unlink(&lane, &a);
    gw_drain_unlink(&lane, &b);
    gw_drain_lane_deinit(&lane);
    rules_destroy(r);
}

static void test_wait_no_bans_or_nothing_in_flight(void **state)
{
    (void)state;
    struct gw_drain_lane lane;
    struct gw_drain_entry e = { 0 };
    struct rules_store store;
    uint64_t waited = 99;

    rules_store_init(&store);
    gw_drain_lane_init(&lane);
    /* no rules at all */
    assert_int_equal(gw_drain_wait(&lane, 1, &store, 1000, &waited), 0);
    assert_true(waited < 50);
    /* writes in flight, but the rules ban nothing: no wait */
    rules_store_swap(&store, rules_with(1, ""));
    link_one(&lane, &e, 7);
    assert_int_equal(gw_drain_wait(&lane, 1, &store, 1000, &waited), 0);
    assert_true(waited < 50);
    /* a ban, but on another bucket */
    rules_store_swap(&store, rules_with(2, "{ first = 8; last = 9; }"));
    assert_int_equal(gw_drain_wait(&lane, 1, &store, 1000, &waited), 0);
    assert_true(waited < 50);
    gw_drain_unlink(&lane, &e);
    gw_drain_lane_deinit(&lane);
    rules_store_deinit(&store);
}

static void test_wait_times_out(void **state)
{
    (void)state;
    struct gw_drain_lane lane;
    struct gw_drain_entry e = { 0 };
    struct rules_store store;
    uint64_t waited = 0;

    rules_store_init(&store);
    rules_store_swap(&store, rules_with(2, "{ first = 7; last = 7; }"));
    gw_drain_lane_init(&lane);
    link_one(&lane, &e, 7);
    uint64_t t0 = now_ms();
    assert_int_equal(gw_drain_wait(&lane, 1, &store, 150, &waited), 1);
    uint64_t took = now_ms() - t0;
    assert_true(waited >= 150 && took >= 150);
    assert_true(took < 1000);
    /* 0 = no wait: look once */
    t0 = now_ms();
    assert_int_equal(gw_drain_wait(&lane, 1, &store, 0, &waited), 1);
    assert_true(now_ms() - t0 < 50);
    assert_true(e.linked);     /* never aborted: the write stays in flight */
    gw_drain_unlink(&lane, &e);
    gw_drain_lane_deinit(&lane);
    rules_store_deinit(&store);
}

struct finisher {
    struct gw_drain_lane  *lane;
    struct gw_drain_entry *e;
    int                    after_ms;
    uint64_t               done_ms;    /* when it unlinked */
};

static void *finisher_main(void *arg)
{
    struct finisher *f = arg;
    struct timespec ts = { f->after_ms / 1000, (long)(f->after_ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
    f->done_ms = now_ms();
    gw_drain_unlink(f->lane, f->e);
    return NULL;
}

/* The wait ends when the worker's write is answered, not before, not at the timeout. */
static void test_wait_until_answered(void **state)
{
    (void)state;
    struct gw_drain_lane lanes[2];
    struct gw_drain_entry e1 = { 0 }, e2 = { 0 };
    struct rules_store store;
    uint64_t waited = 0;
    pthread_t t1, t2;

    rules_store_init(&store);
    gw_drain_lane_init(&lanes[0]);
    gw_drain_lane_init(&lanes[1]);
    link_one(&lanes[0], &e1, 5100);
    link_one(&lanes[1], &e2, 15100);
    /* the ban arrives after the writes were sent on */
    rules_store_swap(&store, rules_with(2, "{ first = 5100; last = 5100; }"));
    struct finisher f1 = { &lanes[0], &e1, 100, 0 }, f2 = { &lanes[1], &e2, 250, 0 };
    assert_int_equal(pthread_create(&t1, NULL, finisher_main, &f1), 0);
    assert_int_equal(pthread_create(&t2, NULL, finisher_main, &f2), 0);
    assert_int_equal(gw_drain_wait(lanes, 2, &store, 5000, &waited), 0);
    uint64_t end = now_ms();
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    assert_true(end >= f2.done_ms);        /* after the last write was answered */
    assert_true(waited >= 240 && waited < 2000);
    gw_drain_lane_deinit(&lanes[0]);
    gw_drain_lane_deinit(&lanes[1]);
    rules_store_deinit(&store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_link_unlink_count),
        cmocka_unit_test(test_count_buyer_ban_and_override),
        cmocka_unit_test(test_wait_no_bans_or_nothing_in_flight),
        cmocka_unit_test(test_wait_times_out),
        cmocka_unit_test(test_wait_until_answered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
