/*
 * admin_http: the admin listener every gateway and proxy runs (libmicrohttpd,
 * one thread per connection: it is low-traffic and a push may block while the
 * proxy drains).
 *
 *   PUT /v1/rules   body = rule document, header X-Unitroute-Signature = hex
 *                   HMAC-SHA256 of the body. Answers JSON
 *                   {"status": "applied"|"unchanged"|..., "version": N,
 *                    "error": "..."} with 200, 400 (invalid), 401 (bad
 *                   signature), 409 (stale / conflict), 413 (too large),
 *                   500 (could not persist), 503 (after_accept failed).
 *   GET /v1/rules   the current document, exact bytes; headers
 *                   X-Unitroute-Signature and X-Unitroute-Version. 404 if none.
 *   GET /v1/status  JSON: component, unit, rule_version, and the component's
 *                   own fields (hooks.status_json).
 *   GET /metrics    Prometheus text: unitroute_rule_version, push counters,
 *                   and the component's own (hooks.metrics).
 *   GET /healthz    200 "ok" with rules, 503 "no rules" without.
 */
#ifndef UR_ADMIN_HTTP_H
#define UR_ADMIN_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "rules_keeper.h"
#include "strbuf.h"

struct admin_http_hooks {
    void *ctx;
    /*
     * Called after a push was accepted (applied or unchanged), before the
     * answer. The proxy drains transactions here: the 200 is the ack. Return
     * 0 to answer 200, or -1 to answer 503 with err. May be NULL.
     */
    int (*after_accept)(void *ctx, uint64_t version, char *err, size_t errlen);
    /* Append `,"key": value` members to the status object. May be NULL. */
    void (*status_json)(void *ctx, struct strbuf *out);
    /* Append Prometheus text lines. May be NULL. */
    void (*metrics)(void *ctx, struct strbuf *out);
};

struct admin_http_config {
    const char *listen;     /* "host:port" (IPv4 literal or localhost) */
    const char *component;  /* "gateway", "proxy", ... for status/metrics */
    const char *unit;       /* the unit this component runs in */
};

struct admin_http;

/*
 * Start listening. k and hooks are borrowed and must outlive the listener.
 * Returns NULL with the reason in err.
 */
struct admin_http *admin_http_start(const struct admin_http_config *cfg,
                                    struct rules_keeper *k,
                                    const struct admin_http_hooks *hooks,
                                    char *err, size_t errlen);

/* Stop listening, wait for in-flight requests, free. NULL is a no-op. */
void admin_http_stop(struct admin_http *a);

/*
 * Parse "host:port" into an IPv4 socket address ("localhost" and "*" are
 * accepted). Returns 0 or -1. Shared by every listener of the project.
 */
struct sockaddr_in;
int admin_http_parse_addr(const char *hostport, struct sockaddr_in *out);

#endif
