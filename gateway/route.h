/*
 * route: the gateway's routing decision, as a pure function of the request,
 * the route table and the current rules. No I/O, no logging, no allocation;
 * the server (gw_server.c) acts on the decision.
 *
 *   path --(longest prefix)--> route entry: unit | center | local
 *     unit:   buyerId (header, query, cookie: configured order)
 *             --(rules)--> home unit, write ban?
 *     center: the topology's center unit
 *     local:  this unit
 *   target == this unit          -> LOCAL (forward to the entry's upstream)
 *   target elsewhere, hop header -> MISDIRECTED (421, never bounced), unless
 *     unit route and the sender's signed rule version is newer than ours:
 *     LOCAL (hop_trusted: the sender's newer rules make this unit the home),
 *     or older than ours and a read: LOCAL (hop_trusted, not bounced back)
 *   target elsewhere             -> FORWARD (mode forward) | REDIRECT (307)
 *   write + banned bucket        -> HOLD (policy hold) | REJECT (503)
 *   no / bad buyerId             -> BAD_REQUEST (400)
 *   no rules yet (unit route)    -> NO_RULES (503)
 *   no matching prefix           -> NOT_FOUND (404)
 */
#ifndef UR_GW_ROUTE_H
#define UR_GW_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "router/rules.h"
#include "router/topology.h"

#define ROUTE_PREFIX_MAX   128
#define ROUTE_NAME_MAX     64      /* header, query and cookie names */
#define ROUTE_ENTRIES_MAX  64
#define ROUTE_SOURCES_MAX  3
#define ROUTE_REASON_MAX   192
#define ROUTE_HOP_SIG_LEN  64      /* hex HMAC-SHA256, as rules_sign */
#define ROUTE_HOP_MAX      (RULES_UNIT_NAME_MAX + 40 + ROUTE_HOP_SIG_LEN) /* "unit; v=N; sig=H" */

enum route_type {
    ROUTE_TYPE_UNIT,
    ROUTE_TYPE_CENTER,
    ROUTE_TYPE_LOCAL,
    ROUTE_TYPE_COUNT
};

enum route_mode {
    ROUTE_MODE_FORWARD,     /* proxy to the home unit's gateway */
    ROUTE_MODE_REDIRECT,    /* 307 to the home unit's public URL */
};

enum route_ban_policy {
    ROUTE_BAN_HOLD,         /* park the write until the ban lifts */
    ROUTE_BAN_REJECT,       /* 503 + Retry-After at once */
};

enum route_source_kind {
    ROUTE_SOURCE_HEADER,
    ROUTE_SOURCE_QUERY,
    ROUTE_SOURCE_COOKIE,
};

struct route_source {
    enum route_source_kind kind;
    char name[ROUTE_NAME_MAX];  /* header, query parameter or cookie name */
};

struct route_entry {
    char            prefix[ROUTE_PREFIX_MAX];  /* matched against the path */
    enum route_type type;
    char            upstream[TOPOLOGY_URL_MAX]; /* local upstream base URL */
};

struct route_table {
    struct route_entry   entries[ROUTE_ENTRIES_MAX];
    size_t               nentries;
    struct route_source  sources[ROUTE_SOURCES_MAX];
    size_t               nsources;
    enum route_mode      mode;
    enum route_ban_policy ban_policy;
    const struct topology *topo;    /* borrowed */
    int                  self;      /* this unit, index into topo->units */
};

enum route_action {
    ROUTE_ACTION_LOCAL,         /* forward to entry->upstream */
    ROUTE_ACTION_FORWARD,       /* forward to target's gateway_url */
    ROUTE_ACTION_REDIRECT,      /* 307 to target's public_url */
    ROUTE_ACTION_HOLD,          /* park, decide again later */
    ROUTE_ACTION_REJECT,        /* 503 + Retry-After: write ban */
    ROUTE_ACTION_NO_RULES,      /* 503: no rules yet */
    ROUTE_ACTION_BAD_REQUEST,   /* 400: missing or invalid buyerId */
    ROUTE_ACTION_MISDIRECTED,   /* 421: hop header and would leave again */
    ROUTE_ACTION_NOT_FOUND,     /* 404: no route for the path */
    ROUTE_ACTION_COUNT
};

/* What the decision needs from a request; all strings borrowed. */
struct route_request {
    const char *method;
    const char *path;           /* without the query */
    const char *query;          /* raw query without '?', or NULL */
    /* Value of a header (case-insensitive name), or NULL. */
    const char *(*header)(void *ctx, const char *name);
    void       *header_ctx;
    bool        hopped;         /* carries the hop header */
    uint64_t    hop_version;    /* the sender's rule version; 0 = not said */
    bool        hop_forged;     /* it said one, but not signed with our secret */
};

struct route_decision {
    enum route_action        action;
    const struct route_entry *entry;    /* matched entry, NULL if none */
    int      target;        /* topology unit that should serve, -1 if none */
    int      home;          /* buyer's home unit (topology index), -1 if none */
    bool     has_buyer;
    bool     hop_trusted;   /* LOCAL on a hop across versions (would be 421) */
    uint64_t buyer_id;
    char     reason[ROUTE_REASON_MAX]; /* why, for error bodies and logs */
};

/* Status of route_buyer_extract. */
enum route_buyer_status {
    ROUTE_BUYER_FOUND,
    ROUTE_BUYER_MISSING,
    ROUTE_BUYER_INVALID,
};

/*
 * Parse a buyerId: 1 to 20 decimal digits, no sign, no spaces, fits uint64.
 * Returns 0 and sets *out, or -1.
 */
int route_buyer_parse(const char *s, size_t len, uint64_t *out);

/*
 * buyerId from the table's sources in order. The first source that is
 * present decides: an invalid value there is INVALID (no fall-through).
 * reason names the source on MISSING and INVALID.
 */
enum route_buyer_status route_buyer_extract(const struct route_table *t,
                                            const struct route_request *req,
                                            uint64_t *buyer_id,
                                            char *reason, size_t reasonlen);

/*
 * Value of name in a query string ("a=1&b=2") or a Cookie header
 * ("a=1; b=2"): pointer into s and its length, or NULL if absent.
 */
const char *route_query_param(const char *query, const char *name, size_t *len);
const char *route_cookie_value(const char *cookie, const char *name, size_t *len);

/* Longest-prefix entry for path, or NULL. */
const struct route_entry *route_match(const struct route_table *t, const char *path);

/* True for methods that do not write: GET, HEAD, OPTIONS. */
bool route_method_is_read(const char *method);

/*
 * Decide what to do with req under rules r (NULL = no rules yet). Fills d;
 * never fails (every outcome is an action).
 */
void route_decide(const struct route_table *t, const struct rules *r,
                  const struct route_request *req, struct route_decision *d);

/*
 * The hop header's value: the sending gateway's unit, the version of the
 * rules it routed by and a signature of both with the topology's secret,
 * "dc-a; v=5; sig=<64 hex>" (see gw_hop.h: only a signed version is
 * trusted). A sender without a version (an older gateway) writes "dc-a".
 */
struct route_hop {
    char     sender[RULES_UNIT_NAME_MAX];  /* "" if the value names none */
    uint64_t version;                      /* 0: no (valid) version */
    char     sig[ROUTE_HOP_SIG_LEN + 1];   /* "" if none */
};

/*
 * Format the hop value for unit at rule version (0: no version, the old
 * form) with sig (NULL or "": none). Returns the length, or -1 if it does
 * not fit in outlen.
 */
int route_hop_format(char *out, size_t outlen, const char *unit, uint64_t version,
                     const char *sig);

/*
 * Parse a hop value (NULL: none). Never fails: a missing, malformed or zero
 * "v=" parameter leaves version 0 (treated like an old sender); a "sig="
 * that is not ROUTE_HOP_SIG_LEN characters leaves sig empty; other
 * parameters are ignored; a sender name too long is cut.
 */
void route_hop_parse(const char *value, struct route_hop *out);

/* Short names for logs and metrics labels. */
const char *route_type_name(enum route_type type);
const char *route_action_name(enum route_action action);

/* Parse "unit", "center", "local"; -1 if none of those. */
int route_type_parse(const char *name);

#endif
