/*
 * fuzz_rules_parse.c: the rule document parser (router/rules.h), which reads
 * pushed documents (signed, but the parser runs on what the signer wrote)
 * and persisted files from disk.
 *
 * Properties, for any bytes:
 *  - rules_parse never crashes or leaks, and a refusal says why in err;
 *  - an accepted document prints canonically: rules_print, parsed again,
 *    gives rules_equal rules, and printing those gives the same bytes;
 *  - every lookup stays in range: rules_bucket_of is buyer % buckets,
 *    rules_unit_for_buyer a unit of the topology, for fixed buyers and for
 *    every override, banned buyer and range and ban edge;
 *  - the lookup tables agree with the model: an override routes its buyer
 *    to its unit, a banned buyer is banned, a buyer in a banned bucket
 *    range is banned unless it has an override of its own.
 */
#include <string.h>

#include "router/rules.h"
#include "tests/fuzz/fuzz.h"

static const char *const fuzz_units[] = { "dc-a", "dc-b", "dc-c" };
#define FUZZ_NUNITS (sizeof(fuzz_units) / sizeof(fuzz_units[0]))

/* Override unit of buyer in the model, or RULES_NO_UNIT. */
static int fuzz_override_of(const struct rules *r, uint64_t buyer)
{
    for (size_t i = 0; i < r->noverrides; i++)
        if (r->overrides[i].buyer_id == buyer)
            return r->overrides[i].unit;
    return RULES_NO_UNIT;
}

static bool fuzz_buyer_banned(const struct rules *r, uint64_t buyer)
{
    for (size_t i = 0; i < r->nbuyer_bans; i++)
        if (r->buyer_bans[i] == buyer)
            return true;
    return false;
}

/* Unit of bucket b in the model's ranges, or RULES_NO_UNIT. */
static int fuzz_range_unit(const struct rules *r, uint32_t b)
{
    for (size_t i = 0; i < r->nranges; i++)
        if (r->ranges[i].first <= b && b <= r->ranges[i].last)
            return r->ranges[i].unit;
    return RULES_NO_UNIT;
}

static bool fuzz_bucket_banned(const struct rules *r, uint32_t b)
{
    for (size_t i = 0; i < r->nbans; i++)
        if (r->bans[i].first <= b && b <= r->bans[i].last)
            return true;
    return false;
}

/* The lookups for buyer agree with the normalized model. */
static void fuzz_check_buyer(const struct rules *r, uint64_t buyer)
{
    uint32_t bucket = rules_bucket_of(r, buyer);
    int unit = rules_unit_for_buyer(r, buyer);
    int ovr = fuzz_override_of(r, buyer);

    FUZZ_CHECK(bucket == buyer % r->buckets);
    FUZZ_CHECK(unit >= 0 && (uint32_t)unit < r->nunits);
    FUZZ_CHECK(unit == (ovr != RULES_NO_UNIT ? ovr : fuzz_range_unit(r, bucket)));
    bool banned = fuzz_buyer_banned(r, buyer) ||
                  (ovr == RULES_NO_UNIT && fuzz_bucket_banned(r, bucket));
    FUZZ_CHECK(rules_is_write_banned(r, buyer) == banned);
}

static void fuzz_check_lookups(const struct rules *r)
{
    static const uint64_t fixed[] = { 0, 1, 42, 9999, 10000, 4294967296ull,
                                      INT64_MAX, UINT64_MAX };

    FUZZ_CHECK(r->version >= 1);
    FUZZ_CHECK(r->buckets >= 1 && r->buckets <= RULES_BUCKETS_MAX);
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        fuzz_check_buyer(r, fixed[i]);
    for (size_t i = 0; i < r->noverrides; i++)
        fuzz_check_buyer(r, r->overrides[i].buyer_id);
    for (size_t i = 0; i < r->nbuyer_bans; i++)
        fuzz_check_buyer(r, r->buyer_bans[i]);
    for (size_t i = 0; i < r->nranges; i++) {
        FUZZ_CHECK(r->ranges[i].first <= r->ranges[i].last);
        FUZZ_CHECK(r->ranges[i].last < r->buckets);
        fuzz_check_buyer(r, r->ranges[i].first);
        fuzz_check_buyer(r, r->ranges[i].last);
    }
    for (size_t i = 0; i < r->nbans; i++) {
        FUZZ_CHECK(r->bans[i].first <= r->bans[i].last && r->bans[i].last < r->buckets);
        fuzz_check_buyer(r, r->bans[i].first);
        fuzz_check_buyer(r, r->bans[i].last);
    }
}

/* print -> parse -> equal, and print again -> the same bytes. */
static void fuzz_check_round_trip(const struct rules *r)
{
    char err[256];
    size_t len, len2;
    char *text = rules_print(r, &len);

    FUZZ_CHECK(text != NULL && strlen(text) == len);
    err[0] = '\0';
    struct rules *again = rules_parse(text, len, fuzz_units, FUZZ_NUNITS, err, sizeof(err));
    if (again == NULL)
        fprintf(stderr, "printed rules refused: %s\n%s", err, text);
    FUZZ_CHECK(again != NULL);
    FUZZ_CHECK(rules_equal(r, again) && rules_equal(again, r));
    char *text2 = rules_print(again, &len2);
    FUZZ_CHECK(text2 != NULL && len2 == len && memcmp(text, text2, len) == 0);
    free(text2);
    rules_destroy(again);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];

    err[0] = '\0';
    struct rules *r = rules_parse((const char *)data, size, fuzz_units, FUZZ_NUNITS,
                                  err, sizeof(err));
    if (r == NULL) {
        FUZZ_CHECK(err[0] != '\0');
        return 0;
    }
    FUZZ_CHECK(r->source_len == size && memcmp(r->source, data, size) == 0);
    fuzz_check_lookups(r);
    fuzz_check_round_trip(r);
    rules_destroy(r);
    return 0;
}
