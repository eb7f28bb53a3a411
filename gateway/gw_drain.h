/*
 * gw_drain: the gateway's ban drain. A rule push that bans buckets is
 * acknowledged (PUT /v1/rules answers 200) only once no write this gateway
 * already sent to its local upstream for a now-banned buyer is still
 * unanswered, or after ban_drain_ms. So the control center, which bans the
 * gateways before the proxies, cannot ban a proxy while a write a gateway
 * let through before the ban is still on its way there.
 *
 * Writes forwarded to another unit's gateway are not tracked here: the
 * receiving gateway tracks them when it sends them to its upstream, and the
 * control center waits for every gateway's ack. Waiting for them here would
 * deadlock: a forwarded write that arrives after the receiver's ban is held
 * there until the new routing, which comes only after this ack.
 *
 *   worker thread (one lane each)            admin thread (PUT /v1/rules)
 *   -----------------------------            ----------------------------
 *   write: lock lane                         rules_keeper_accept: new rules
 *          rules_store_get, route_decide            current (swap)
 *          LOCAL on a unit route:            after_accept -> gw_drain_wait:
 *            gw_drain_link (buyerId)           every GW_DRAIN_POLL_MS, per
 *          unlock                              lane: lock, count entries
 *   ... sent to the local upstream             banned by the current rules,
 *   answer sent to the client (completed):     unlock
 *          gw_drain_unlink                   0 left -> 200; ban_drain_ms
 *                                            passed -> 200 anyway, counted
 *
 * Who owns what: a lane belongs to one worker; only that worker's thread
 * links and unlinks its entries, and it does so under lane->lock, which the
 * admin thread takes to count. An entry is embedded in its request (owned
 * by the worker) and is on the list from the routing decision until the
 * request completed. Reads (GET, HEAD, OPTIONS) never take the lock: the
 * hot path costs a write one uncontended lock/unlock pair twice.
 *
 * Why nothing slips through: a worker reads the rules and links the entry
 * inside one critical section, and the new rules are current before the
 * drain counts. So a write decided under the old rules is linked when the
 * drain takes that lane's lock, and a write decided after that sees the
 * ban (held or rejected, never sent on).
 */
#ifndef UR_GW_DRAIN_H
#define UR_GW_DRAIN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "router/rules_store.h"

#define GW_DRAIN_POLL_MS 1      /* how often the drain looks again */

/* A write sent to the local upstream; embedded in the request. */
struct gw_drain_entry {
    uint64_t               buyer_id;   /* decides whether a ban covers it */
    bool                   linked;
    struct gw_drain_entry *next, *prev;
};

/* One worker's in-flight writes. */
struct gw_drain_lane {
    pthread_mutex_t        lock;       /* guards head and every entry's links */
    struct gw_drain_entry *head;
};

void gw_drain_lane_init(struct gw_drain_lane *l);

/* The lane must be empty (its worker stopped). */
void gw_drain_lane_deinit(struct gw_drain_lane *l);

/* The worker's critical section around its routing decision. */
void gw_drain_lock(struct gw_drain_lane *l);
void gw_drain_unlock(struct gw_drain_lane *l);

/* Put e (not linked) on the lane for buyer_id. Caller holds the lock. */
void gw_drain_link(struct gw_drain_lane *l, struct gw_drain_entry *e, uint64_t buyer_id);

/* Take e off the lane if it is on it; takes the lock itself. */
void gw_drain_unlink(struct gw_drain_lane *l, struct gw_drain_entry *e);

/* Entries on the nlanes lanes whose writes r bans (0 if r is NULL). */
size_t gw_drain_count(struct gw_drain_lane *lanes, size_t nlanes, const struct rules *r);

/*
 * Wait until no entry on the lanes is banned by the current rules of store,
 * or timeout_ms passed (0: look once). Returns how many were still in
 * flight (0 = drained). *waited_ms gets the time spent. Any thread.
 */
size_t gw_drain_wait(struct gw_drain_lane *lanes, size_t nlanes, struct rules_store *store,
                     int timeout_ms, uint64_t *waited_ms);

#endif
