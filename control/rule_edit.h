/*
 * rule_edit: the rule sets a cutover pushes, derived from the rule set in
 * force when it starts (the base, version v):
 *
 *   ban      v+1  base + write ban on the selection
 *   switch   v+2  base with the selection routed to the target, no ban
 *   restore  v+2  base unchanged (the rollback), no ban
 *
 * Each is built as rule text and parsed with rules_parse, so what is pushed
 * is exactly what every component will validate; the result's source is the
 * canonical text (rules_print), byte-stable for a given base and selection,
 * which makes re-pushing after a restart idempotent.
 *
 * A selection is a bucket range (all in one unit) or one buyer id (an
 * override is created or changed by the switch). Errors go to the caller's
 * buffer; constructors return NULL on failure.
 */
#ifndef UR_RULE_EDIT_H
#define UR_RULE_EDIT_H

#include <stddef.h>
#include <stdint.h>

#include "router/rules.h"

struct rule_sel {
    int      is_buyer;  /* 1: one buyer; 0: bucket range */
    uint64_t buyer;     /* is_buyer */
    uint32_t first;     /* !is_buyer: first bucket, inclusive */
    uint32_t last;      /* !is_buyer: last bucket, inclusive */
};

/* "5000-5999" or "5000" into a bucket selection. Returns 0 or -1 (err). */
int rule_sel_parse_buckets(const char *text, struct rule_sel *s, char *err, size_t errlen);

/* "42" into a buyer selection. Returns 0 or -1 (err). */
int rule_sel_parse_buyer(const char *text, struct rule_sel *s, char *err, size_t errlen);

/* "buckets:5000-5999" or "buyer:42", the form kept in the journal. */
void rule_sel_format(const struct rule_sel *s, char *out, size_t outlen);
int rule_sel_parse(const char *text, struct rule_sel *s, char *err, size_t errlen);

/* Number of buckets (or 1 for a buyer) the selection moves. */
uint64_t rule_sel_size(const struct rule_sel *s);

/*
 * The unit the selection lives in under base, checking the selection can be
 * cut over: inside the bucket space, all in one unit, not already banned.
 * Returns the unit index, or -1 (err).
 */
int rule_edit_source(const struct rules *base, const struct rule_sel *s,
                     char *err, size_t errlen);

/* The three derived rule sets; owned by the caller (rules_destroy). */
struct rules *rule_edit_ban(const struct rules *base, const struct rule_sel *s,
                            char *err, size_t errlen);
struct rules *rule_edit_switch(const struct rules *base, const struct rule_sel *s,
                               int to_unit, char *err, size_t errlen);
struct rules *rule_edit_restore(const struct rules *base, char *err, size_t errlen);

/*
 * base with its version replaced (and nothing else changed): how a proposed
 * rule set gets the version the control center decides. Owned by the caller.
 */
struct rules *rule_edit_with_version(const struct rules *base, uint64_t version,
                                     char *err, size_t errlen);

#endif
