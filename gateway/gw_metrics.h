/*
 * gw_metrics: the gateway's counters, updated lock-free by the server
 * threads and rendered by the admin listener (GET /metrics in Prometheus text
 * format, GET /v1/status as JSON members).
 */
#ifndef UR_GW_METRICS_H
#define UR_GW_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/route.h"
#include "router/strbuf.h"

/* How a request ended: the route actions, plus what can go wrong later. */
enum gw_outcome {
    GW_OUTCOME_LOCAL,           /* served by the local upstream */
    GW_OUTCOME_FORWARD,         /* proxied to another unit's gateway */
    GW_OUTCOME_REDIRECT,        /* 307 */
    GW_OUTCOME_REJECT,          /* 503 ban (reject policy or hold timeout) */
    GW_OUTCOME_NO_RULES,        /* 503 */
    GW_OUTCOME_BAD_REQUEST,     /* 400 buyerId */
    GW_OUTCOME_MISDIRECTED,     /* 421 hop loop */
    GW_OUTCOME_NOT_FOUND,       /* 404 */
    GW_OUTCOME_LIMIT,           /* 413 / 414 / 431 */
    GW_OUTCOME_UPSTREAM_ERROR,  /* 502 */
    GW_OUTCOME_UPSTREAM_TIMEOUT,/* 504 */
    GW_OUTCOME_ABORTED,         /* client went away, or the stream broke */
    GW_OUTCOME_COUNT
};

#define GW_METRICS_TYPES     (ROUTE_TYPE_COUNT + 1)  /* + "none": no route */
#define GW_METRICS_UNITS     (RULES_UNITS_MAX + 1)   /* + "none" */
#define GW_METRICS_LAT_BUCKETS 12

struct gw_metrics {
    atomic_ullong requests[GW_METRICS_TYPES][GW_OUTCOME_COUNT][GW_METRICS_UNITS];
    atomic_ullong latency[GW_METRICS_LAT_BUCKETS + 1];  /* upstream, ms buckets, +Inf */
    atomic_ullong latency_sum_us;
    atomic_ullong latency_count;
    atomic_ullong holds_total;      /* requests parked by a ban */
    atomic_ullong holds_released;   /* routed after the ban lifted */
    atomic_ullong holds_timed_out;  /* 503 after ban_hold_ms */
    atomic_llong  held_now;
    atomic_llong  in_flight;
    atomic_ullong reloads;          /* SIGHUP reloads applied */
    atomic_ullong hop_trusted;      /* hopped requests served here on a newer sender's word */
    atomic_ullong drains;           /* ban pushes acked after a drain */
    atomic_ullong drain_timeouts;   /* ... and were acked after ban_drain_ms anyway */
    atomic_ullong drain_left;       /* writes still in flight at those acks */
    atomic_ullong drain_ms_last;    /* how long the last drain waited */
};

void gw_metrics_init(struct gw_metrics *m);

/* type: enum route_type or ROUTE_TYPE_COUNT for none; unit -1 for none. */
void gw_metrics_count(struct gw_metrics *m, int type, enum gw_outcome outcome, int unit);

void gw_metrics_latency(struct gw_metrics *m, uint64_t us);

/* One ban drain: how long it waited, how many writes were still in flight. */
void gw_metrics_drain(struct gw_metrics *m, uint64_t waited_ms, size_t left);

const char *gw_outcome_name(enum gw_outcome o);

/* unit_names: the topology's, nunits of them, for the labels. */
void gw_metrics_render(struct gw_metrics *m, const char *const *unit_names, size_t nunits,
                       struct strbuf *out);

/* `,"key": value` members for the status JSON. */
void gw_metrics_status_json(struct gw_metrics *m, struct strbuf *out);

#endif
