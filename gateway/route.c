#include "route.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int route_buyer_parse(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;

    if (len == 0 || len > 20)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Find name=value in s, items separated by sep, optional spaces before a name. */
static const char *route_find_pair(const char *s, char sep, const char *name, size_t *len)
{
    size_t nlen = strlen(name);

    if (s == NULL || nlen == 0)
        return NULL;
    while (*s != '\0') {
        while (*s == ' ')
            s++;
        const char *end = strchr(s, sep);
        size_t item = end ? (size_t)(end - s) : strlen(s);
        if (item > nlen && strncmp(s, name, nlen) == 0 && s[nlen] == '=') {
            *len = item - nlen - 1;
            return s + nlen + 1;
        }
        if (end == NULL)
            break;
        s = end + 1;
    }
    return NULL;
}

const char *route_query_param(const char *query, const char *name, size_t *len)
{
    return route_find_pair(query, '&', name, len);
}

const char *route_cookie_value(const char *cookie, const char *name, size_t *len)
{
    return route_find_pair(cookie, ';', name, len);
}

static const char *route_source_label(enum route_source_kind kind)
{
    switch (kind) {
    case ROUTE_SOURCE_HEADER: return "header";
    case ROUTE_SOURCE_QUERY: return "query parameter";
    case ROUTE_SOURCE_COOKIE: return "cookie";
    }
    return "?";
}

/* Raw value of one source, or NULL if the request does not carry it. */
static const char *route_source_value(const struct route_source *src,
                                      const struct route_request *req, size_t *len)
{
    const char *v;

    switch (src->kind) {
    case ROUTE_SOURCE_HEADER:
        v = req->header ? req->header(req->header_ctx, src->name) : NULL;
        if (v != NULL)
            *len = strlen(v);
        return v;
    case ROUTE_SOURCE_QUERY:
        return route_query_param(req->query, src->name, len);
    case ROUTE_SOURCE_COOKIE:
        v = req->header ? req->header(req->header_ctx, "Cookie") : NULL;
        return route_cookie_value(v, src->name, len);
    }
    return NULL;
}

enum route_buyer_status route_buyer_extract(const struct route_table *t,
                                            const struct route_request *req,
                                            uint64_t *buyer_id,
                                            char *reason, size_t reasonlen)
{
    for (size_t i = 0; i < t->nsources; i++) {
        const struct route_source *src = &t->sources[i];
        size_t len = 0;
        const char *v = route_source_value(src, req, &len);
        if (v == NULL)
            continue;
        if (route_buyer_parse(v, len, buyer_id) < 0) {
            snprintf(reason, reasonlen,
                     "invalid buyerId in %s %s: expected 1 to 20 decimal digits",
                     route_source_label(src->kind), src->name);
            return ROUTE_BUYER_INVALID;
        }
        return ROUTE_BUYER_FOUND;
    }
    int n = snprintf(reason, reasonlen, "missing buyerId: send it as");
    for (size_t i = 0; i < t->nsources && n >= 0 && (size_t)n < reasonlen; i++)
        n += snprintf(reason + n, reasonlen - (size_t)n, "%s %s %s",
                      i == 0 ? "" : (i + 1 == t->nsources ? " or" : ","),
                      route_source_label(t->sources[i].kind), t->sources[i].name);
    return ROUTE_BUYER_MISSING;
}

const struct route_entry *route_match(const struct route_table *t, const char *path)
{
    const struct route_entry *best = NULL;
    size_t best_len = 0;

    for (size_t i = 0; i < t->nentries; i++) {
        size_t len = strlen(t->entries[i].prefix);
        if (strncmp(path, t->entries[i].prefix, len) == 0 && (best == NULL || len > best_len)) {
            best = &t->entries[i];
            best_len = len;
        }
    }
    return best;
}

bool route_method_is_read(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ||
           strcmp(method, "OPTIONS") == 0;
}

/* Topology index of the home unit of buyer under r, or -1. */
static int route_home_of(const struct route_table *t, const struct rules *r, uint64_t buyer)
{
    return topology_unit_index(t->topo, rules_unit_name(r, rules_unit_for_buyer(r, buyer)));
}

static void route_set(struct route_decision *d, enum route_action action, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void route_set(struct route_decision *d, enum route_action action, const char *fmt, ...)
{
    va_list ap;

    d->action = action;
    va_start(ap, fmt);
    vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
    va_end(ap);
}

/* The unit route part: buyer required, rules required, bans apply. */
static int route_decide_unit(const struct route_table *t, const struct rules *r,
                             const struct route_request *req, struct route_decision *d,
                             enum route_buyer_status bs)
{
    if (bs != ROUTE_BUYER_FOUND) {
        d->action = ROUTE_ACTION_BAD_REQUEST;
        return -1;
    }
    if (r == NULL) {
        route_set(d, ROUTE_ACTION_NO_RULES,
                  "no routing rules yet: this gateway cannot route buyers until rules are pushed");
        return -1;
    }
    if (d->home < 0) {
        route_set(d, ROUTE_ACTION_NO_RULES, "the rules name a unit missing from the topology");
        return -1;
    }
    if (!route_method_is_read(req->method) && rules_is_write_banned(r, d->buyer_id)) {
        route_set(d, t->ban_policy == ROUTE_BAN_HOLD ? ROUTE_ACTION_HOLD : ROUTE_ACTION_REJECT,
                  "writes for buyer %llu (bucket %u) are banned while it moves between units",
                  (unsigned long long)d->buyer_id, (unsigned)rules_bucket_of(r, d->buyer_id));
        return -1;
    }
    d->target = d->home;
    return 0;
}

/*
 * A hopped unit-route request that would leave again, while a rule change
 * reaches the gateways one by one (signed versions only, see gw_hop.h):
 * - the sender routed by rules newer than ours: its word wins, it is served
 *   here (the proxies enforce the real rules for writes);
 * - the sender's rules are older than ours (it sent a read here before it
 *   learnt the buyer moved to it): a read is served here rather than bounced
 *   back (reads flow anywhere during a change); a write is 421 (a sender
 *   holds writes of moving buckets, so this is no cutover).
 * Equal versions, or none, mean a loop or a misconfiguration: 421. Center
 * and local targets do not come from the rules.
 */
static bool route_hop_trusted(const struct route_decision *d, const struct rules *r,
                              const struct route_request *req)
{
    if (d->entry->type != ROUTE_TYPE_UNIT || r == NULL || req->hop_forged ||
        req->hop_version == 0)
        return false;
    return req->hop_version > r->version ||
           (req->hop_version < r->version && route_method_is_read(req->method));
}

void route_decide(const struct route_table *t, const struct rules *r,
                  const struct route_request *req, struct route_decision *d)
{
    memset(d, 0, sizeof(*d));
    d->target = -1;
    d->home = -1;
    d->entry = route_match(t, req->path);
    if (d->entry == NULL) {
        route_set(d, ROUTE_ACTION_NOT_FOUND, "no route for path %.100s", req->path);
        return;
    }
    enum route_buyer_status bs = route_buyer_extract(t, req, &d->buyer_id, d->reason,
                                                     sizeof(d->reason));
    d->has_buyer = bs == ROUTE_BUYER_FOUND;
    if (d->has_buyer && r != NULL)
        d->home = route_home_of(t, r, d->buyer_id);

    switch (d->entry->type) {
    case ROUTE_TYPE_UNIT:
        if (route_decide_unit(t, r, req, d, bs) < 0)
            return;
        break;
    case ROUTE_TYPE_CENTER:
        d->target = t->topo->center;
        break;
    case ROUTE_TYPE_LOCAL:
    default:
        d->target = t->self;
        break;
    }
    d->reason[0] = '\0';
    if (d->target == t->self) {
        d->action = ROUTE_ACTION_LOCAL;
    } else if (req->hopped && route_hop_trusted(d, r, req)) {
        d->action = ROUTE_ACTION_LOCAL;
        d->target = t->self;
        if (req->hop_version > r->version)
            d->home = t->self;  /* the sender's newer rules make this unit the home */
        d->hop_trusted = true;
    } else if (req->hopped) {
        route_set(d, ROUTE_ACTION_MISDIRECTED,
                  "request already forwarded once (sender rule version %llu%s); %s at rule "
                  "version %llu would send it on to %s",
                  (unsigned long long)req->hop_version,
                  req->hop_forged ? ", not signed with our secret" : "",
                  t->topo->units[t->self].name,
                  (unsigned long long)(r ? r->version : 0), t->topo->units[d->target].name);
    } else {
        d->action = t->mode == ROUTE_MODE_FORWARD ? ROUTE_ACTION_FORWARD : ROUTE_ACTION_REDIRECT;
    }
}

int route_hop_format(char *out, size_t outlen, const char *unit, uint64_t version,
                     const char *sig)
{
    int n;

    if (version == 0)
        n = snprintf(out, outlen, "%s", unit);
    else if (sig == NULL || sig[0] == '\0')
        n = snprintf(out, outlen, "%s; v=%llu", unit, (unsigned long long)version);
    else
        n = snprintf(out, outlen, "%s; v=%llu; sig=%s", unit, (unsigned long long)version, sig);
    return n >= 0 && (size_t)n < outlen ? n : -1;
}

static bool route_is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* One "name=value" parameter of a hop value, [p, end) with spaces around. */
static void route_hop_param(const char *p, const char *end, struct route_hop *out)
{
    while (p < end && route_is_space(*p))
        p++;
    while (end > p && route_is_space(end[-1]))
        end--;
    if (end - p == 4 + ROUTE_HOP_SIG_LEN && strncasecmp(p, "sig=", 4) == 0 && !out->sig[0]) {
        memcpy(out->sig, p + 4, ROUTE_HOP_SIG_LEN);
        out->sig[ROUTE_HOP_SIG_LEN] = '\0';
        return;
    }
    if (end - p < 2 || (p[0] != 'v' && p[0] != 'V') || p[1] != '=' || out->version != 0)
        return;
    uint64_t v;
    if (route_buyer_parse(p + 2, (size_t)(end - p - 2), &v) == 0)
        out->version = v;
}

void route_hop_parse(const char *value, struct route_hop *out)
{
    memset(out, 0, sizeof(*out));
    if (value == NULL)
        return;
    while (route_is_space(*value))
        value++;
    size_t len = strcspn(value, ";");
    size_t name = len;
    while (name > 0 && route_is_space(value[name - 1]))
        name--;
    if (name >= sizeof(out->sender))
        name = sizeof(out->sender) - 1;
    memcpy(out->sender, value, name);
    out->sender[name] = '\0';
    for (const char *p = value + len; *p == ';'; ) {
        const char *end = p + 1 + strcspn(p + 1, ";");
        route_hop_param(p + 1, end, out);
        p = end;
    }
}

const char *route_type_name(enum route_type type)
{
    switch (type) {
    case ROUTE_TYPE_UNIT: return "unit";
    case ROUTE_TYPE_CENTER: return "center";
    case ROUTE_TYPE_LOCAL: return "local";
    default: return "?";
    }
}

int route_type_parse(const char *name)
{
    for (int i = 0; i < ROUTE_TYPE_COUNT; i++)
        if (strcmp(name, route_type_name((enum route_type)i)) == 0)
            return i;
    return -1;
}

const char *route_action_name(enum route_action action)
{
    static const char *const names[ROUTE_ACTION_COUNT] = {
        [ROUTE_ACTION_LOCAL] = "local",
        [ROUTE_ACTION_FORWARD] = "forward",
        [ROUTE_ACTION_REDIRECT] = "redirect",
        [ROUTE_ACTION_HOLD] = "hold",
        [ROUTE_ACTION_REJECT] = "reject",
        [ROUTE_ACTION_NO_RULES] = "no_rules",
        [ROUTE_ACTION_BAD_REQUEST] = "bad_request",
        [ROUTE_ACTION_MISDIRECTED] = "misdirected",
        [ROUTE_ACTION_NOT_FOUND] = "not_found",
    };
    return (unsigned)action < ROUTE_ACTION_COUNT ? names[action] : "?";
}
