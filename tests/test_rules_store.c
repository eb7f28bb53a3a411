/*
 * Unit tests for router/rules_store: the lock-free current rule set.
 *
 * The concurrency test runs reader threads that loop get / look up / put
 * while a writer swaps in many versions. Every version v has a pattern that
 * follows from v alone (each bucket's unit, the banned block, one override),
 * so a reader that ever saw a half-built, mixed or freed set would find a
 * bucket that disagrees with its set's version. Run it under ASan (make test
 * does) to catch use-after-free, and under TSan for data races.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <cmocka.h>

#include "router/rules_store.h"

static const char *const UNITS[] = { "dc-a", "dc-b", "dc-c" };

#define BUCKETS      1000
#define BLOCK        100        /* buckets per range */
#define READERS      4
#define MAX_VERSIONS 20000
#define RUN_NS       1500000000ll
#define OVR_BASE     7000000ull /* override buyer of version v: OVR_BASE + v */

/* The pattern of version v. */
static int pat_unit(uint64_t v, uint32_t bucket)
{
    return (int)((v + bucket / BLOCK) % 3);
}

static uint32_t pat_banned_block(uint64_t v)
{
    return (uint32_t)(v % (BUCKETS / BLOCK));
}

static int pat_ovr_unit(uint64_t v)
{
    return (int)((v + 1) % 3);
}

/* Build the rule set of version v (through the parser, as in production). */
static struct rules *pat_build(uint64_t v)
{
    char text[4096], err[256];
    int n = snprintf(text, sizeof(text), "version = %lluL;\nbuckets = %d;\nranges = (",
                     (unsigned long long)v, BUCKETS);

    for (uint32_t b = 0; b < BUCKETS; b += BLOCK)
        n += snprintf(text + n, sizeof(text) - (size_t)n, "%s{ first = %u; last = %u; unit = \"%s\"; }",
                      b ? ", " : "", b, b + BLOCK - 1, UNITS[pat_unit(v, b)]);
    n += snprintf(text + n, sizeof(text) - (size_t)n,
                  ");\noverrides = ( { buyer = %lluL; unit = \"%s\"; } );\n"
                  "bans = ( { first = %u; last = %u; } );\n",
                  (unsigned long long)(OVR_BASE + v), UNITS[pat_ovr_unit(v)],
                  pat_banned_block(v) * BLOCK, pat_banned_block(v) * BLOCK + BLOCK - 1);
    struct rules *r = rules_parse(text, (size_t)n, UNITS, 3, err, sizeof(err));
    if (r == NULL)
        print_error("pattern v%llu: %s\n", (unsigned long long)v, err);
    return r;
}

/* 0 if r is exactly version r->version's pattern. */
static int pat_check(const struct rules *r)
{
    uint64_t v = r->version;

    if (r->buckets != BUCKETS || r->source == NULL ||
        strncmp(r->source, "version = ", 10) != 0 ||
        strtoull(r->source + 10, NULL, 10) != v)
        return -1;
    for (uint32_t b = 0; b < BUCKETS; b++) {
        if (rules_unit_for_buyer(r, b) != pat_unit(v, b))
            return -1;
        if (rules_is_write_banned(r, b + BUCKETS) != (b / BLOCK == pat_banned_block(v)))
            return -1;
    }
    uint64_t ovr = OVR_BASE + v;
    if (rules_unit_for_buyer(r, ovr) != pat_ovr_unit(v) || rules_is_write_banned(r, ovr))
        return -1;
    /* the previous version's override buyer is an ordinary buyer here */
    if (rules_unit_for_buyer(r, ovr - 1) != pat_unit(v, (uint32_t)((ovr - 1) % BUCKETS)))
        return -1;
    return 0;
}

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

struct shared {
    struct rules_store store;
    atomic_int         stop;
};

struct reader {
    struct shared *sh;
    int            id;
    long           reads;
    long           nulls;
    long           distinct;   /* version changes seen */
    long           bad;        /* inconsistent sets */
    long           backwards;  /* a version lower than one seen before */
    uint64_t       last;
};

static void *reader_main(void *arg)
{
    struct reader *rd = arg;
    struct rules_store *s = &rd->sh->store;

    while (!atomic_load(&rd->sh->stop)) {
        struct rules_guard g, g2;
        const struct rules *r = rules_store_get(s, &g);
        if (r == NULL) {
            rd->nulls++;
            if (rd->last != 0)
                rd->backwards++;   /* had rules, now none */
            rules_store_put(s, &g);
            continue;
        }
        if (r->version < rd->last)
            rd->backwards++;
        if (r->version != rd->last)
            rd->distinct++;
        rd->last = r->version;
        if (pat_check(r) != 0)
            rd->bad++;
        /* now and then hold two guards at once: a nested get is newer or equal */
        if (rd->reads % 16 == (long)rd->id) {
            const struct rules *r2 = rules_store_get(s, &g2);
            if (r2 == NULL || r2->version < r->version || pat_check(r2) != 0)
                rd->bad++;
            if (pat_check(r) != 0)   /* the first is still intact */
                rd->bad++;
            rules_store_put(s, &g2);
        }
        rules_store_put(s, &g);
        rd->reads++;
    }
    return NULL;
}

static void test_concurrent_swaps(void **state)
{
    struct shared *sh = calloc(1, sizeof(*sh));
    struct reader rd[READERS];
    pthread_t t[READERS];
    uint64_t v = 0;

    (void)state;
    assert_non_null(sh);
    rules_store_init(&sh->store);
    atomic_init(&sh->stop, 0);
    for (int i = 0; i < READERS; i++) {
        rd[i] = (struct reader){ .sh = sh, .id = i };
        assert_int_equal(pthread_create(&t[i], NULL, reader_main, &rd[i]), 0);
    }
    int64_t start = now_ns();
    while (v < MAX_VERSIONS && now_ns() - start < RUN_NS) {
        struct rules *r = pat_build(++v);
        assert_non_null(r);
        rules_store_swap(&sh->store, r);
        assert_int_equal(rules_store_version(&sh->store), v);
    }
    atomic_store(&sh->stop, 1);
    long reads = 0, distinct = 0;
    for (int i = 0; i < READERS; i++) {
        pthread_join(t[i], NULL);
        reads += rd[i].reads;
        distinct += rd[i].distinct;
        if (rd[i].bad || rd[i].backwards) {
            print_error("reader %d: %ld inconsistent sets, %ld times backwards\n", i,
                        rd[i].bad, rd[i].backwards);
            fail();
        }
    }
    print_message("%llu versions swapped in, %ld reads, %ld version changes seen by readers\n",
                  (unsigned long long)v, reads, distinct);
    /* the readers really ran during the swaps */
    assert_true(v >= 50);
    assert_true(reads >= 1000);
    assert_true(distinct >= 2 * READERS);
    rules_store_deinit(&sh->store);
    free(sh);
}

static void test_empty_then_swap(void **state)
{
    struct rules_store s;
    struct rules_guard g;

    (void)state;
    rules_store_init(&s);
    assert_null(rules_store_get(&s, &g));
    rules_store_put(&s, &g);
    assert_int_equal(rules_store_version(&s), 0);
    rules_store_swap(&s, pat_build(5));
    const struct rules *r = rules_store_get(&s, &g);
    assert_non_null(r);
    assert_int_equal(r->version, 5);
    assert_int_equal(pat_check(r), 0);
    rules_store_put(&s, &g);
    /* swapping to NULL (no rules) is allowed and frees the old set */
    rules_store_swap(&s, NULL);
    assert_int_equal(rules_store_version(&s), 0);
    rules_store_swap(&s, pat_build(6));
    rules_store_swap(&s, pat_build(7));
    assert_int_equal(rules_store_version(&s), 7);
    rules_store_deinit(&s);   /* ASan's leak check: every set was freed */
}

/* Many guards held at once by one thread: all valid, all released. */
static void test_many_guards(void **state)
{
    enum { HELD = RULES_STORE_SLOTS - 1 };
    struct rules_store s;
    struct rules_guard g[HELD];

    (void)state;
    rules_store_init(&s);
    rules_store_swap(&s, pat_build(1));
    for (int i = 0; i < HELD; i++) {
        const struct rules *r = rules_store_get(&s, &g[i]);
        assert_non_null(r);
        for (int j = 0; j < i; j++)
            assert_int_not_equal(g[i].slot, g[j].slot);
    }
    for (int i = 0; i < HELD; i++)
        rules_store_put(&s, &g[i]);
    /* every slot is free again: a swap does not wait */
    rules_store_swap(&s, pat_build(2));
    assert_int_equal(rules_store_version(&s), 2);
    rules_store_deinit(&s);
}

struct holder {
    struct rules_store *s;
    atomic_int          holding;
    atomic_int          release;
    atomic_int          swapped;   /* the swapper's rules_store_swap returned */
    uint64_t            seen;
    int                 intact;
};

static void *holder_main(void *arg)
{
    struct holder *h = arg;
    struct rules_guard g;
    const struct rules *r = rules_store_get(h->s, &g);

    h->seen = r->version;
    atomic_store(&h->holding, 1);
    while (!atomic_load(&h->release))
        sched_yield();
    h->intact = pat_check(r) == 0;   /* still readable while the swap waits */
    rules_store_put(h->s, &g);
    return NULL;
}

static void *swapper_main(void *arg)
{
    struct holder *h = arg;

    rules_store_swap(h->s, pat_build(2));
    atomic_store(&h->swapped, 1);
    return NULL;
}

/* A swap waits for the reader that holds the old set, then frees it. */
static void test_swap_waits_for_reader(void **state)
{
    struct rules_store s;
    struct holder h = { .s = &s };
    struct timespec pause = { 0, 50 * 1000 * 1000 };
    pthread_t th, ts;

    (void)state;
    rules_store_init(&s);
    rules_store_swap(&s, pat_build(1));
    atomic_init(&h.holding, 0);
    atomic_init(&h.release, 0);
    atomic_init(&h.swapped, 0);
    assert_int_equal(pthread_create(&th, NULL, holder_main, &h), 0);
    while (!atomic_load(&h.holding))
        sched_yield();
    assert_int_equal(pthread_create(&ts, NULL, swapper_main, &h), 0);
    nanosleep(&pause, NULL);
    /* new readers already get version 2; the swap still waits for the holder */
    assert_int_equal(rules_store_version(&s), 2);
    assert_int_equal(atomic_load(&h.swapped), 0);
    atomic_store(&h.release, 1);
    pthread_join(th, NULL);
    pthread_join(ts, NULL);
    assert_int_equal(atomic_load(&h.swapped), 1);
    assert_int_equal(h.seen, 1);
    assert_true(h.intact);
    rules_store_deinit(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_then_swap),
        cmocka_unit_test(test_many_guards),
        cmocka_unit_test(test_swap_waits_for_reader),
        cmocka_unit_test(test_concurrent_swaps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
