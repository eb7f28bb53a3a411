#include "gw_hop.h"

#include <stdio.h>
#include <string.h>

/* The signed text: "unitroute-hop <sender> <version>". Returns its length. */
static int gw_hop_text(char *out, size_t outlen, const char *unit, uint64_t version)
{
    return snprintf(out, outlen, "unitroute-hop %s %llu", unit, (unsigned long long)version);
}

const char *gw_hop_value(struct gw_hop_cache *cache, const struct rules_secret *secret,
                         const char *unit, uint64_t version)
{
    char text[ROUTE_HOP_MAX], sig[RULES_SIGN_HEX_LEN + 1];

    if (cache->version == version && version != 0 && strcmp(cache->unit, unit) == 0)
        return cache->value;
    sig[0] = '\0';
    int n = gw_hop_text(text, sizeof(text), unit, version);
    if (version != 0 && n > 0 && (size_t)n < sizeof(text))
        rules_sign(secret, text, (size_t)n, sig);
    if (route_hop_format(cache->value, sizeof(cache->value), unit, version, sig) < 0)
        snprintf(cache->value, sizeof(cache->value), "%.*s", RULES_UNIT_NAME_MAX - 1, unit);
    snprintf(cache->unit, sizeof(cache->unit), "%s", unit);
    cache->version = version;
    return cache->value;
}

bool gw_hop_verify(const struct rules_secret *secret, const struct route_hop *hop)
{
    char text[ROUTE_HOP_MAX];

    if (hop->version == 0 || hop->sig[0] == '\0')
        return false;
    int n = gw_hop_text(text, sizeof(text), hop->sender, hop->version);
    if (n <= 0 || (size_t)n >= sizeof(text))
        return false;
    return rules_sign_verify(secret, text, (size_t)n, hop->sig);
}
