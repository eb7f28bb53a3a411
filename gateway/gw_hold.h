/*
 * gw_hold: the parking lot for writes to banned buckets. A parked request's
 * client connection is suspended (libmicrohttpd), so it holds no worker
 * thread; one thread here resumes it when the rule version changes (the ban
 * may have lifted) or its deadline (ban_hold_ms) passes. The resumed request
 * decides again: route by the rules in force, park again, or answer 503.
 *
 *   handler: HOLD --gw_hold_park--> suspended
 *   rules pushed --gw_hold_notify--> hold thread --resume+wake--> handler decides
 *   deadline passed -------------->  hold thread --resume+wake--> handler: 503
 */
#ifndef UR_GW_HOLD_H
#define UR_GW_HOLD_H

#include <stdbool.h>
#include <stdint.h>

#include <microhttpd.h>

#include "router/rules_store.h"

/*
 * Embedded in the request; valid while parked. wake/wake_ctx are the
 * caller's, set before parking: the hold thread calls wake(wake_ctx) right
 * after resuming conn, so the loop polling conn's daemon runs it (an
 * externally polled libmicrohttpd daemon does not wake up by itself).
 */
struct gw_hold_entry {
    struct MHD_Connection *conn;
    void (*wake)(void *wake_ctx);
    void *wake_ctx;
    uint64_t deadline_us;       /* gw_now_us() clock */
    uint64_t version;           /* rule version when parked */
    bool     expired;           /* set when resumed by the deadline or a stop */
    bool     parked;
    struct gw_hold_entry *next, *prev;
};

struct gw_hold;

/* store is borrowed. NULL on failure. */
struct gw_hold *gw_hold_create(struct rules_store *store);

/* Resume every parked request as expired and stop the thread; later parks fail. */
void gw_hold_stop(struct gw_hold *h);

/* Stop if needed and free. NULL is a no-op. */
void gw_hold_destroy(struct gw_hold *h);

/*
 * Park conn until the rule version moves past version or deadline_us passes.
 * Suspends conn; call from the access handler. Returns 0, or -1 when stopping
 * (conn not suspended: answer at once).
 */
int gw_hold_park(struct gw_hold *h, struct gw_hold_entry *e, struct MHD_Connection *conn,
                 uint64_t version, uint64_t deadline_us);

/* The rules changed: look at the parked requests now. */
void gw_hold_notify(struct gw_hold *h);

/* Resume every parked request as expired (SIGTERM drain). */
void gw_hold_release_all(struct gw_hold *h);

#endif
