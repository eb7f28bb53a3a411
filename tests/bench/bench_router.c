/*
 * bench_router: cost of the rule lookups on the hot path.
 *
 *   build: 10000 buckets (random ranges over 4 units), 1000 overrides,
 *          bucket and buyer bans, parsed from text like a real push
 *   ids:   10M random buyerIds, generated before any timing (1% of them
 *          override buyers, the rest uniform over 63 bits)
 *   time:  rules_unit_for_buyer, rules_is_write_banned, and both together
 *          (what a gateway or proxy does per request), 7 runs each; report
 *          the median ns per lookup
 *   check: a checksum of every result (so the loop cannot be dropped), equal
 *          across runs and to a naive reference; zero allocations inside the
 *          timed loops, counted by interposing malloc/calloc/realloc and
 *          cross-checked with mallinfo2()
 *
 * Exit status 1 if a check fails (wrong results or an allocation); missing
 * the 10 ns target is reported but is not a failure.
 *
 * usage: bench_router [lookups [runs]]
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "router/rules.h"

#define BENCH_BUCKETS   10000u
#define BENCH_OVERRIDES 1000u
#define BENCH_LOOKUPS   10000000u
#define BENCH_RUNS      7
#define BENCH_TARGET_NS 10.0
#define BENCH_CHECKED   1000000u   /* ids checked against the naive reference */

static const char *const BENCH_UNITS[] = { "dc-a", "dc-b", "dc-c", "dc-d" };

/* ---- counting allocations ------------------------------------------------- */

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BENCH_COUNT_ALLOCS 0    /* the sanitizers own malloc */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define BENCH_COUNT_ALLOCS 0
#endif
#endif
#ifndef BENCH_COUNT_ALLOCS
#define BENCH_COUNT_ALLOCS 1
#endif

static unsigned long bench_allocs;  /* malloc + calloc + realloc calls */

#if BENCH_COUNT_ALLOCS
/* glibc's own entry points: every allocation of the process passes here. */
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);

void *malloc(size_t n)
{
    bench_allocs++;
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    bench_allocs++;
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    bench_allocs++;
    return __libc_realloc(p, n);
}
#endif

/* Bytes the allocator has handed out (heap and mmap'd chunks). */
static size_t bench_heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();

    return mi.uordblks + mi.hblkhd;
}

/* ---- set-up ------------------------------------------------------------------ */

static uint64_t bench_rng = 0x5eed2026;

static uint64_t bench_next(void)
{
    uint64_t z = (bench_rng += 0x9E3779B97F4A7C15ull);   /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

struct bench_model {
    uint8_t  unit_of[BENCH_BUCKETS];
    uint8_t  banned[BENCH_BUCKETS];
    uint64_t ovr_id[BENCH_OVERRIDES];     /* sorted */
    uint8_t  ovr_unit[BENCH_OVERRIDES];
    uint64_t buyer_ban[10];
};

static int bench_cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* Random model, and its rule text (malloc'd). */
static char *bench_model_make(struct bench_model *m, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);

    if (f == NULL)
        return NULL;
    fprintf(f, "version = 1L;\nbuckets = %u;\nranges = (\n", BENCH_BUCKETS);
    for (uint32_t first = 0; first < BENCH_BUCKETS; first += 100) {
        uint8_t unit = (uint8_t)(bench_next() % 4);
        memset(m->unit_of + first, unit, 100);
        fprintf(f, "%s  { first = %u; last = %u; unit = \"%s\"; }", first ? ",\n" : "",
                first, first + 99, BENCH_UNITS[unit]);
    }
    for (uint32_t i = 0; i < BENCH_OVERRIDES; i++) {
        uint64_t id;
        do
            id = bench_next() >> 1;
        while (i > 0 && bsearch(&id, m->ovr_id, i, sizeof(id), bench_cmp_u64) != NULL);
        m->ovr_id[i] = id;
        qsort(m->ovr_id, i + 1, sizeof(id), bench_cmp_u64);
    }
    fputs("\n);\noverrides = (\n", f);
    for (uint32_t i = 0; i < BENCH_OVERRIDES; i++) {
        m->ovr_unit[i] = (uint8_t)(bench_next() % 4);
        fprintf(f, "%s  { buyer = %lluL; unit = \"%s\"; }", i ? ",\n" : "",
                (unsigned long long)m->ovr_id[i], BENCH_UNITS[m->ovr_unit[i]]);
    }
    /* a cutover in progress: 2% of the buckets and 10 buyers banned */
    memset(m->banned + 300, 1, 200);
    fputs("\n);\nbans = (\n  { first = 300; last = 499; }", f);
    for (int i = 0; i < 10; i++) {
        m->buyer_ban[i] = m->ovr_id[i * 97];
        fprintf(f, ",\n  { buyer = %lluL; }", (unsigned long long)m->buyer_ban[i]);
    }
    fputs("\n);\n", f);
    fclose(f);
    return text;
}

static int bench_ref_unit(const struct bench_model *m, uint64_t id)
{
    const uint64_t *o = bsearch(&id, m->ovr_id, BENCH_OVERRIDES, sizeof(id), bench_cmp_u64);

    return o != NULL ? m->ovr_unit[o - m->ovr_id] : m->unit_of[id % BENCH_BUCKETS];
}

static int bench_ref_banned(const struct bench_model *m, uint64_t id)
{
    for (int i = 0; i < 10; i++)
        if (m->buyer_ban[i] == id)
            return 1;
    if (bsearch(&id, m->ovr_id, BENCH_OVERRIDES, sizeof(id), bench_cmp_u64) != NULL)
        return 0;
    return m->banned[id % BENCH_BUCKETS];
}

/* ---- the timed loops ------------------------------------------------------------- */

enum bench_kind { BENCH_UNIT, BENCH_BANNED, BENCH_BOTH, BENCH_BUCKET, BENCH_MODULO };

static const char *const bench_kind_name[] = {
    "rules_unit_for_buyer", "rules_is_write_banned", "unit + banned (per request)",
    "rules_bucket_of only", "plain buyer_id % buckets",
};

static int64_t bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/*
 * One timed pass over ids. noinline, and r laundered through an asm barrier,
 * so the compiler neither specializes for this rule set nor drops the loop.
 */
__attribute__((noinline))
static uint64_t bench_pass(const struct rules *r, const uint64_t *ids, size_t n,
                           enum bench_kind kind)
{
    uint64_t sum = 0;

    __asm__ volatile("" : "+r"(r));
    switch (kind) {
    case BENCH_UNIT:
        for (size_t i = 0; i < n; i++)
            sum += (uint64_t)rules_unit_for_buyer(r, ids[i]);
        break;
    case BENCH_BANNED:
        for (size_t i = 0; i < n; i++)
            sum += rules_is_write_banned(r, ids[i]);
        break;
    case BENCH_BOTH:
        for (size_t i = 0; i < n; i++)
            sum += (uint64_t)rules_unit_for_buyer(r, ids[i]) * 2 +
                   rules_is_write_banned(r, ids[i]);
        break;
    case BENCH_BUCKET:
        for (size_t i = 0; i < n; i++)
            sum += rules_bucket_of(r, ids[i]);
        break;
    case BENCH_MODULO:
        for (size_t i = 0; i < n; i++)
            sum += ids[i] % r->buckets;
        break;
    }
    return sum;
}

static int bench_cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

struct bench_result {
    double   median_ns, min_ns, max_ns;
    uint64_t checksum;
    int      consistent;     /* every run gave the same checksum */
    long     allocs;         /* allocation calls during the timed loops */
    long     heap_delta;     /* mallinfo2 bytes, after - before */
};

static struct bench_result bench_run(const struct rules *r, const uint64_t *ids, size_t n,
                                     int runs, enum bench_kind kind)
{
    struct bench_result res = { .consistent = 1 };
    double ns[64];

    for (int run = 0; run < runs; run++) {
        unsigned long allocs0 = bench_allocs;
        size_t heap0 = bench_heap_bytes();
        int64_t t0 = bench_now_ns();
        uint64_t sum = bench_pass(r, ids, n, kind);
        int64_t t1 = bench_now_ns();
        res.allocs += (long)(bench_allocs - allocs0);
        res.heap_delta += (long)bench_heap_bytes() - (long)heap0;
        ns[run] = (double)(t1 - t0) / (double)n;
        if (run == 0)
            res.checksum = sum;
        else if (sum != res.checksum)
            res.consistent = 0;
    }
    qsort(ns, (size_t)runs, sizeof(ns[0]), bench_cmp_double);
    res.median_ns = ns[runs / 2];
    res.min_ns = ns[0];
    res.max_ns = ns[runs - 1];
    return res;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : BENCH_LOOKUPS;
    int runs = argc > 2 ? atoi(argv[2]) : BENCH_RUNS;
    struct bench_model *m = calloc(1, sizeof(*m));
    char err[256];
    size_t len;
    int failed = 0;

    if (n == 0 || runs < 1 || runs > 64 || m == NULL) {
        fprintf(stderr, "usage: bench_router [lookups [runs (1-64)]]\n");
        return 2;
    }
    /* the counter sees allocations at all (else "0 allocations" proves nothing) */
    unsigned long before = bench_allocs;
    void *volatile probe = malloc(16);
    free(probe);
    if (BENCH_COUNT_ALLOCS && bench_allocs != before + 1) {
        fprintf(stderr, "bench_router: the malloc counter does not count\n");
        return 1;
    }
    char *text = bench_model_make(m, &len);
    struct rules *r = text ? rules_parse(text, len, BENCH_UNITS, 4, err, sizeof(err)) : NULL;
    uint64_t *ids = malloc(n * sizeof(*ids));
    if (r == NULL || ids == NULL) {
        fprintf(stderr, "bench_router: set-up failed: %s\n", r ? "out of memory" : err);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        ids[i] = bench_next() % 100 == 0 ? m->ovr_id[bench_next() % BENCH_OVERRIDES]
                                         : bench_next() >> 1;

    /* the lookups are right before they are fast */
    uint64_t ref[3] = { 0, 0, 0 };
    size_t checked = n < BENCH_CHECKED ? n : BENCH_CHECKED;
    for (size_t i = 0; i < checked; i++) {
        int u = bench_ref_unit(m, ids[i]), b = bench_ref_banned(m, ids[i]);
        if (u != rules_unit_for_buyer(r, ids[i]) || b != rules_is_write_banned(r, ids[i]) ||
            rules_bucket_of(r, ids[i]) != ids[i] % BENCH_BUCKETS) {
            fprintf(stderr, "bench_router: buyer %llu: lookup disagrees with the reference\n",
                    (unsigned long long)ids[i]);
            return 1;
        }
        ref[0] += (uint64_t)u;
        ref[1] += (uint64_t)b;
        ref[2] += (uint64_t)u * 2 + (uint64_t)b;
    }
    for (int k = BENCH_UNIT; k <= BENCH_BOTH; k++)
        if (bench_pass(r, ids, checked, (enum bench_kind)k) != ref[k]) {
            fprintf(stderr, "bench_router: %s checksum differs from the reference\n",
                    bench_kind_name[k]);
            return 1;
        }

    printf("bench_router: %zu lookups per run, %d runs, %u buckets, %u overrides, "
           "200 banned buckets, 10 banned buyers; %u of %zu ids checked against a reference\n",
           n, runs, BENCH_BUCKETS, BENCH_OVERRIDES, (unsigned)checked, n);
    printf("  allocation counting: %s\n", BENCH_COUNT_ALLOCS
           ? "malloc/calloc/realloc interposed + mallinfo2()" : "mallinfo2() only (sanitizer build)");
    struct bench_result res[5];
    for (int k = BENCH_UNIT; k <= BENCH_MODULO; k++) {
        res[k] = bench_run(r, ids, n, runs, (enum bench_kind)k);
        printf("  %-28s median %6.2f ns  (min %.2f, max %.2f)  allocs %ld  heap delta %ld B"
               "  checksum %llx%s\n", bench_kind_name[k], res[k].median_ns, res[k].min_ns,
               res[k].max_ns, res[k].allocs, res[k].heap_delta,
               (unsigned long long)res[k].checksum, res[k].consistent ? "" : "  INCONSISTENT");
        if (res[k].allocs != 0 || res[k].heap_delta != 0 || !res[k].consistent)
            failed = 1;
    }
    if (res[BENCH_BUCKET].checksum != res[BENCH_MODULO].checksum)
        failed = 1;   /* rules_bucket_of must equal % */

    double worst = res[BENCH_UNIT].median_ns > res[BENCH_BANNED].median_ns
                       ? res[BENCH_UNIT].median_ns : res[BENCH_BANNED].median_ns;
    printf("RESULT lookup: rules_unit_for_buyer %.2f ns, rules_is_write_banned %.2f ns "
           "(median of %d x %zu), %ld allocations in timed loops, target < %.0f ns: %s%s\n",
           res[BENCH_UNIT].median_ns, res[BENCH_BANNED].median_ns, runs, n,
           res[BENCH_UNIT].allocs + res[BENCH_BANNED].allocs + res[BENCH_BOTH].allocs,
           BENCH_TARGET_NS, worst < BENCH_TARGET_NS ? "met" : "MISSED",
           failed ? "; CHECK FAILED" : "");
    free(ids);
    rules_destroy(r);
    free(text);
    free(m);
    return failed;
}
