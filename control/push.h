/*
 * push: the control center's calls to the admin endpoint of every gateway and
 * proxy of the topology, all in parallel (libcurl multi), each with its own
 * timeout.
 *
 *   push_rules          PUT /v1/rules (signed) to every target -> answers
 *   push_until_acked    push_rules again to the ones that have not acked,
 *                       until all have or the deadline passes
 *   push_poll_versions  GET /v1/rules -> X-Unitroute-Version (404 = 0)
 *
 * An ack of version v is a 200 answer naming version v: the component has
 * persisted v and swapped it in (a proxy answers after its drain).
 * Library code: no logging; results go into the caller's arrays.
 * Call push_global_init() once from main before any thread uses this.
 */
#ifndef UR_PUSH_H
#define UR_PUSH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "router/topology.h"

#define PUSH_TARGETS_MAX (RULES_UNITS_MAX * 4)

struct push_target {
    char addr[TOPOLOGY_ADDR_MAX];   /* "host:port" of the admin listener */
    char unit[RULES_UNIT_NAME_MAX];
    char kind[16];                  /* "gateway" or "proxy" */
};

struct push_result {
    int      http_status;   /* 0: no answer (refused, timed out) */
    uint64_t version;       /* version the component reports */
    char     status[32];    /* its status word, or "unreachable" / "timeout" */
    char     error[256];    /* why, when not acked */
    uint64_t ms;            /* how long the call took */
    uint64_t acked_at;      /* push_now_ms() of the ack, 0 if none */
};

int push_global_init(void);

/* Monotonic clock in milliseconds. */
uint64_t push_now_ms(void);

/*
 * Every gateway and proxy admin endpoint of t, units in order, into out.
 * Returns how many (at most max).
 */
size_t push_targets_from_topology(const struct topology *t, struct push_target *out,
                                  size_t max);

/* PUT body to every target at once; res[i] gets target i's answer. */
void push_rules(const struct push_target *targets, size_t n, const char *body, size_t len,
                const char *sig_hex, long timeout_ms, struct push_result *res);

/* True when r is an ack of version. */
int push_result_acked(const struct push_result *r, uint64_t version);

/*
 * Push until every target has acked version or deadline (push_now_ms) has
 * passed, re-pushing to the others every retry_ms; stop (may be NULL) ends it
 * early when set. res[i].acked_at tells who acked when. Returns how many
 * acked.
 */
size_t push_until_acked(const struct push_target *targets, size_t n, const char *body,
                        size_t len, const char *sig_hex, uint64_t version,
                        uint64_t deadline, long call_timeout_ms, long retry_ms,
                        atomic_int *stop, struct push_result *res);

/* GET /v1/rules of every target: res[i].version (0 = no rules), status. */
void push_poll_versions(const struct push_target *targets, size_t n, long timeout_ms,
                        struct push_result *res);

#endif
