/*
 * rules: the rule model shared by every unitroute component.
 *
 *   buyerId --(override hash)--> unit            (gray tests, single buyers)
 *      |
 *      +-- % buckets --> bucket --(flat array)--> unit
 *
 * A rule set is immutable once built. Lookups are O(1), allocate nothing and
 * take no lock; the functions below are static inline so they cost a few
 * nanoseconds. Sharing a rule set between threads and replacing it is the job
 * of rules_store.h.
 *
 * Bans: a bucket range ban bans every buyer whose home is decided by that
 * bucket (buyers without an override). A buyer ban bans one buyer, which is
 * how an override is cut over. An override buyer is not affected by a ban on
 * its bucket: its home does not depend on the bucket.
 *
 * Errors are reported into the caller's buffer; this module never logs.
 */
#ifndef UR_RULES_H
#define UR_RULES_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define RULES_UNITS_MAX      62    /* unit index must fit 6 bits of a slot */
#define RULES_UNIT_NAME_MAX  32    /* including the NUL */
#define RULES_BUCKETS_MAX    1000000u
#define RULES_BUCKETS_DEFAULT 10000u
#define RULES_BODY_MAX       (4u * 1024 * 1024)
#define RULES_NO_UNIT        (-1)

/* bucket_slot and override slot encoding */
#define RULES_SLOT_UNIT_MASK 0x3fu /* unit index, RULES_SLOT_NO_UNIT if none */
#define RULES_SLOT_NO_UNIT   0x3fu
#define RULES_SLOT_BANNED    0x40u
#define RULES_SLOT_EMPTY     0xffu /* override hash: free slot */

struct rules_range {
    uint32_t first;         /* first bucket, inclusive */
    uint32_t last;          /* last bucket, inclusive */
    uint8_t  unit;          /* unit index (unused for bans) */
};

struct rules_override {
    uint64_t buyer_id;
    uint8_t  unit;          /* unit index */
};

struct rules {
    uint64_t version;       /* strictly increasing, never 0 */
    uint32_t buckets;       /* bucket = buyer_id % buckets */
    uint32_t nunits;
    char     unit_names[RULES_UNITS_MAX][RULES_UNIT_NAME_MAX];

    /* the hot path */
    unsigned __int128 bucket_magic; /* 2^128 / buckets + 1, see rules_bucket_of */
    uint8_t  *bucket_slot;  /* [buckets]: unit index | RULES_SLOT_BANNED */
    uint64_t *ovr_keys;     /* [ovr_mask + 1] buyer ids, open addressing */
    uint8_t  *ovr_slots;    /* [ovr_mask + 1] unit | banned, or EMPTY */
    uint32_t  ovr_mask;     /* table size - 1 (power of two) */
    uint32_t  ovr_shift;    /* 64 - log2(table size) */

    /* the normalized model, sorted, used for printing and comparing */
    struct rules_range    *ranges;      /* adjacent same-unit ranges merged */
    size_t                 nranges;
    struct rules_override *overrides;   /* sorted by buyer_id */
    size_t                 noverrides;
    struct rules_range    *bans;        /* bucket bans, sorted, merged */
    size_t                 nbans;
    uint64_t              *buyer_bans;  /* sorted buyer ids */
    size_t                 nbuyer_bans;

    /* where it came from (set by rules_keeper; never part of equality) */
    char    *source;        /* exact bytes parsed, NUL-terminated copy */
    size_t   source_len;
    char     signature[65]; /* hex HMAC of source, "" if unsigned */
};

/*
 * Parse and validate rule text (libconfig syntax, see conf/rules.conf).
 * The result keeps a copy of the text in r->source.
 * unit_names lists the units of the topology; a rule naming another unit is
 * invalid. Returns a new rule set owned by the caller (rules_destroy), or NULL
 * with a message naming the line and the fault in err.
 */
struct rules *rules_parse(const char *text, size_t len,
                          const char *const *unit_names, size_t nunits,
                          char *err, size_t errlen);

/*
 * Check libconfig text before libconfig 1.5 reads it, as rules_parse does:
 * every integer literal fits its type (libconfig wraps silently: write large
 * values with an L suffix), and a string stands only where the grammar
 * takes one (libconfig leaks a string token at such a syntax error).
 * Shared with every config file reader (topology_read_config). Returns 0,
 * or -1 with the line in *line (0: none) and why in err.
 */
int rules_check_config_text(const char *text, size_t len, int *line, char *err, size_t errlen);

/*
 * Canonical text of r, NUL-terminated, malloc'd and owned by the caller.
 * Byte-stable: equal rule sets print the same bytes, and
 * rules_parse(rules_print(r)) equals r. *len (if not NULL) gets the length.
 */
char *rules_print(const struct rules *r, size_t *len);

/* Same version, buckets, units, routing, overrides and bans. */
bool rules_equal(const struct rules *a, const struct rules *b);

void rules_destroy(struct rules *r);

/* Index of a unit name in r, or RULES_NO_UNIT. */
int rules_unit_index(const struct rules *r, const char *name);

/* ---- the hot path ---------------------------------------------------- */

/* Slot of buyer_id in the override hash, or RULES_SLOT_EMPTY. */
static inline uint8_t rules_override_slot(const struct rules *r, uint64_t buyer_id)
{
    if (r->ovr_mask == 0)
        return RULES_SLOT_EMPTY;
    uint32_t i = (uint32_t)((buyer_id * 0x9E3779B97F4A7C15ull) >> r->ovr_shift);
    for (;;) {
        uint8_t s = r->ovr_slots[i];
        if (s == RULES_SLOT_EMPTY || r->ovr_keys[i] == buyer_id)
            return s;
        i = (i + 1) & r->ovr_mask;
    }
}

/*
 * buyer_id % buckets without a division (a 64-bit divide costs more than the
 * rest of the lookup): Lemire, Kaser, Kurz, "Faster Remainder by Direct
 * Computation" (2019), exact for every 64-bit buyer_id and 32-bit divisor.
 */
static inline uint32_t rules_bucket_of(const struct rules *r, uint64_t buyer_id)
{
    unsigned __int128 low = r->bucket_magic * buyer_id;  /* mod 2^128 */
    unsigned __int128 bottom = ((low & UINT64_MAX) * r->buckets) >> 64;
    unsigned __int128 top = (low >> 64) * r->buckets;
    return (uint32_t)((bottom + top) >> 64);
}

/* Home unit index of buyer_id (always a unit: coverage is complete). */
static inline int rules_unit_for_buyer(const struct rules *r, uint64_t buyer_id)
{
    uint8_t s = rules_override_slot(r, buyer_id);
    if (s != RULES_SLOT_EMPTY && (s & RULES_SLOT_UNIT_MASK) != RULES_SLOT_NO_UNIT)
        return s & RULES_SLOT_UNIT_MASK;
    return r->bucket_slot[rules_bucket_of(r, buyer_id)] & RULES_SLOT_UNIT_MASK;
}

/* True while writes for buyer_id are banned (a cutover is moving it). */
static inline bool rules_is_write_banned(const struct rules *r, uint64_t buyer_id)
{
    uint8_t s = rules_override_slot(r, buyer_id);
    if (s != RULES_SLOT_EMPTY) {
        if (s & RULES_SLOT_BANNED)
            return true;
        if ((s & RULES_SLOT_UNIT_MASK) != RULES_SLOT_NO_UNIT)
            return false;  /* an override: its bucket's ban does not apply */
    }
    return (r->bucket_slot[rules_bucket_of(r, buyer_id)] & RULES_SLOT_BANNED) != 0;
}

static inline const char *rules_unit_name(const struct rules *r, int unit)
{
    return (unit >= 0 && (uint32_t)unit < r->nunits) ? r->unit_names[unit] : "?";
}

#endif
