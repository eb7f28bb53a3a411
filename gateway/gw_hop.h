/*
 * gw_hop: the signed hop header. A gateway that forwards a request to another
 * unit's gateway says which unit it is and the rule version it routed by
 * (route.h, struct route_hop); a receiver whose rules are older serves such a
 * hop instead of answering 421. Any client can write that header, so the
 * version counts only when it is signed: HMAC-SHA256 (rules_sign) with the
 * topology's secret, which every gateway already holds, over
 * "unitroute-hop <sender> <version>". A forged or unsigned version is
 * treated like no version (421 if the request would leave again).
 *
 * The signature is the same for every request at one version, so each worker
 * keeps the value it last formatted (struct gw_hop_cache, owned by the
 * worker's lane, used only on its thread) and signs again only when the rule
 * version changes. A receiver checks a signature only in the rare case where
 * it would trust the version.
 */
#ifndef UR_GW_HOP_H
#define UR_GW_HOP_H

#include <stdbool.h>
#include <stdint.h>

#include "gateway/route.h"
#include "router/rules_sign.h"

struct gw_hop_cache {
    uint64_t version;               /* value is for this version; 0 = none yet */
    char     unit[RULES_UNIT_NAME_MAX];
    char     value[ROUTE_HOP_MAX];
};

/*
 * The hop value unit sends at rule version, signed with secret; formatted
 * into cache when the version or unit changed. Returns cache->value.
 */
const char *gw_hop_value(struct gw_hop_cache *cache, const struct rules_secret *secret,
                         const char *unit, uint64_t version);

/* Is hop's version signed with secret (constant-time compare)? */
bool gw_hop_verify(const struct rules_secret *secret, const struct route_hop *hop);

#endif
