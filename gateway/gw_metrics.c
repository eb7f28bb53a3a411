#include "gw_metrics.h"

#include <string.h>

static const unsigned gw_lat_ms[GW_METRICS_LAT_BUCKETS] = {
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000
};

void gw_metrics_init(struct gw_metrics *m)
{
    memset(m, 0, sizeof(*m));
}

void gw_metrics_count(struct gw_metrics *m, int type, enum gw_outcome outcome, int unit)
{
    if (type < 0 || type > ROUTE_TYPE_COUNT)
        type = ROUTE_TYPE_COUNT;
    if (unit < 0 || unit >= RULES_UNITS_MAX)
        unit = RULES_UNITS_MAX;
    if ((unsigned)outcome >= GW_OUTCOME_COUNT)
        return;
    atomic_fetch_add_explicit(&m->requests[type][outcome][unit], 1, memory_order_relaxed);
}

void gw_metrics_latency(struct gw_metrics *m, uint64_t us)
{
    size_t i = 0;
    while (i < GW_METRICS_LAT_BUCKETS && us > (uint64_t)gw_lat_ms[i] * 1000)
        i++;
    atomic_fetch_add_explicit(&m->latency[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->latency_sum_us, us, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->latency_count, 1, memory_order_relaxed);
}

void gw_metrics_drain(struct gw_metrics *m, uint64_t waited_ms, size_t left)
{
    atomic_fetch_add_explicit(&m->drains, 1, memory_order_relaxed);
    atomic_store_explicit(&m->drain_ms_last, waited_ms, memory_order_relaxed);
    if (left == 0)
        return;
    atomic_fetch_add_explicit(&m->drain_timeouts, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->drain_left, left, memory_order_relaxed);
}

const char *gw_outcome_name(enum gw_outcome o)
{
    static const char *const names[GW_OUTCOME_COUNT] = {
        [GW_OUTCOME_LOCAL] = "local",
        [GW_OUTCOME_FORWARD] = "forward",
        [GW_OUTCOME_REDIRECT] = "redirect",
        [GW_OUTCOME_REJECT] = "reject",
        [GW_OUTCOME_NO_RULES] = "no_rules",
        [GW_OUTCOME_BAD_REQUEST] = "bad_request",
        [GW_OUTCOME_MISDIRECTED] = "misdirected",
        [GW_OUTCOME_NOT_FOUND] = "not_found",
        [GW_OUTCOME_LIMIT] = "limit",
        [GW_OUTCOME_UPSTREAM_ERROR] = "upstream_error",
        [GW_OUTCOME_UPSTREAM_TIMEOUT] = "upstream_timeout",
        [GW_OUTCOME_ABORTED] = "aborted",
    };
    return (unsigned)o < GW_OUTCOME_COUNT ? names[o] : "?";
}

static unsigned long long gw_load(atomic_ullong *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

static void gw_metrics_render_requests(struct gw_metrics *m, const char *const *unit_names,
                                       size_t nunits, struct strbuf *out)
{
    strbuf_puts(out, "# HELP unitgw_requests_total Requests by route type, outcome and "
                     "target unit.\n# TYPE unitgw_requests_total counter\n");
    for (int t = 0; t < GW_METRICS_TYPES; t++)
        for (int o = 0; o < GW_OUTCOME_COUNT; o++)
            for (size_t u = 0; u < GW_METRICS_UNITS; u++) {
                unsigned long long v = gw_load(&m->requests[t][o][u]);
                if (v == 0)
                    continue;
                const char *unit = u < nunits ? unit_names[u] : "none";
                strbuf_printf(out, "unitgw_requests_total{route=\"%s\",outcome=\"%s\",unit=\"%s\"} %llu\n",
                              t < ROUTE_TYPE_COUNT ? route_type_name((enum route_type)t) : "none",
                              gw_outcome_name((enum gw_outcome)o), unit, v);
            }
}

static void gw_metrics_render_latency(struct gw_metrics *m, struct strbuf *out)
{
    unsigned long long cum = 0;

    strbuf_puts(out, "# HELP unitgw_upstream_latency_seconds Time from sending a request "
                     "upstream to its end.\n# TYPE unitgw_upstream_latency_seconds histogram\n");
    for (size_t i = 0; i < GW_METRICS_LAT_BUCKETS; i++) {
        cum += gw_load(&m->latency[i]);
        strbuf_printf(out, "unitgw_upstream_latency_seconds_bucket{le=\"%g\"} %llu\n",
                      gw_lat_ms[i] / 1000.0, cum);
    }
    cum += gw_load(&m->latency[GW_METRICS_LAT_BUCKETS]);
    strbuf_printf(out, "unitgw_upstream_latency_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
    strbuf_printf(out, "unitgw_upstream_latency_seconds_sum %.6f\n",
                  gw_load(&m->latency_sum_us) / 1e6);
    strbuf_printf(out, "unitgw_upstream_latency_seconds_count %llu\n", gw_load(&m->latency_count));
}

void gw_metrics_render(struct gw_metrics *m, const char *const *unit_names, size_t nunits,
                       struct strbuf *out)
{
    gw_metrics_render_requests(m, unit_names, nunits, out);
    gw_metrics_render_latency(m, out);
    strbuf_printf(out,
        "# HELP unitgw_holds_total Writes parked because their bucket was banned.\n"
        "# TYPE unitgw_holds_total counter\n"
        "unitgw_holds_total %llu\n"
        "# HELP unitgw_holds_released_total Parked writes routed after the ban lifted.\n"
        "# TYPE unitgw_holds_released_total counter\n"
        "unitgw_holds_released_total %llu\n"
        "# HELP unitgw_holds_timed_out_total Parked writes answered 503 after ban_hold_ms.\n"
        "# TYPE unitgw_holds_timed_out_total counter\n"
        "unitgw_holds_timed_out_total %llu\n"
        "# HELP unitgw_held_requests Writes parked right now.\n"
        "# TYPE unitgw_held_requests gauge\n"
        "unitgw_held_requests %lld\n"
        "# HELP unitgw_in_flight_requests Requests being served right now.\n"
        "# TYPE unitgw_in_flight_requests gauge\n"
        "unitgw_in_flight_requests %lld\n"
        "# HELP unitgw_config_reloads_total Configuration reloads applied (SIGHUP).\n"
        "# TYPE unitgw_config_reloads_total counter\n"
        "unitgw_config_reloads_total %llu\n",
        gw_load(&m->holds_total), gw_load(&m->holds_released), gw_load(&m->holds_timed_out),
        (long long)atomic_load(&m->held_now), (long long)atomic_load(&m->in_flight),
        gw_load(&m->reloads));
    strbuf_printf(out,
        "# HELP unitgw_hop_trusted_total Hopped requests served here instead of 421 because "
        "sender and receiver routed by different rule versions (signed).\n"
        "# TYPE unitgw_hop_trusted_total counter\n"
        "unitgw_hop_trusted_total %llu\n"
        "# HELP unitgw_ban_drains_total Pushes of rules with bans, acked after a drain.\n"
        "# TYPE unitgw_ban_drains_total counter\n"
        "unitgw_ban_drains_total %llu\n"
        "# HELP unitgw_ban_drain_timeouts_total Ban pushes acked after ban_drain_ms with "
        "writes still in flight.\n"
        "# TYPE unitgw_ban_drain_timeouts_total counter\n"
        "unitgw_ban_drain_timeouts_total %llu\n"
        "# HELP unitgw_ban_drain_left_total Writes to banned buckets still in flight when a "
        "drain gave up waiting.\n"
        "# TYPE unitgw_ban_drain_left_total counter\n"
        "unitgw_ban_drain_left_total %llu\n"
        "# HELP unitgw_ban_drain_ms_last How long the last ban drain waited.\n"
        "# TYPE unitgw_ban_drain_ms_last gauge\n"
        "unitgw_ban_drain_ms_last %llu\n",
        gw_load(&m->hop_trusted), gw_load(&m->drains), gw_load(&m->drain_timeouts),
        gw_load(&m->drain_left), gw_load(&m->drain_ms_last));
}

void gw_metrics_status_json(struct gw_metrics *m, struct strbuf *out)
{
    unsigned long long total = 0, by_outcome[GW_OUTCOME_COUNT] = { 0 };

    for (int t = 0; t < GW_METRICS_TYPES; t++)
        for (int o = 0; o < GW_OUTCOME_COUNT; o++)
            for (size_t u = 0; u < GW_METRICS_UNITS; u++) {
                unsigned long long v = gw_load(&m->requests[t][o][u]);
                by_outcome[o] += v;
                total += v;
            }
    strbuf_printf(out, ", \"requests\": %llu, \"outcomes\": {", total);
    for (int o = 0; o < GW_OUTCOME_COUNT; o++)
        strbuf_printf(out, "%s\"%s\": %llu", o ? ", " : "", gw_outcome_name((enum gw_outcome)o),
                      by_outcome[o]);
    strbuf_printf(out, "}, \"held\": %lld, \"holds_total\": %llu, \"holds_timed_out\": %llu, "
                  "\"in_flight\": %lld, \"hop_trusted\": %llu, \"ban_drains\": %llu, "
                  "\"ban_drain_timeouts\": %llu, \"ban_drain_ms_last\": %llu",
                  (long long)atomic_load(&m->held_now), gw_load(&m->holds_total),
                  gw_load(&m->holds_timed_out), (long long)atomic_load(&m->in_flight),
                  gw_load(&m->hop_trusted), gw_load(&m->drains), gw_load(&m->drain_timeouts),
                  gw_load(&m->drain_ms_last));
}
