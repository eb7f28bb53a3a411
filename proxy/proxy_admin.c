/*
 * proxy_admin: what the admin listener asks of the proxy.
 *
 *   PUT /v1/rules accepted (new rules already current for every worker)
 *     -> proxy_drain:
 *          every 2 ms: count connections whose write set (keys written by
 *          the open transaction or by a write in flight) hits a ban
 *          none left            -> 0: the 200 is the ack
 *          ban_drain_ms elapsed -> flag them, wake their workers, which
 *                                  close the backend sockets (the server
 *                                  rolls the transactions back) once no
 *                                  statement is in flight -> 0
 *          still some after DRAIN_KILL_MS (a statement that does not end)
 *                               -> -1: 503, no ack; the cutover rolls back
 *
 * Why this is enough: a worker decides a write and records its keys under
 * its lock, reading the current rules inside it. The new rules were made
 * current before the drain starts, so any write decided under the old
 * rules is already in a write set when the drain looks, and any later one
 * is refused. A transaction holding a banned key can only COMMIT or
 * ROLLBACK (the session refuses everything else) and stays in the count
 * until the server has answered, so once no write set holds a banned key,
 * no write to a banned bucket can still commit through this proxy.
 */
#include <stdio.h>
#include <time.h>

#include "proxy/proxy.h"
#include "proxy/proxy_inspect.h"
#include "router/admin_http.h"
#include "router/log.h"

#define DRAIN_POLL_MS  2
#define DRAIN_KILL_MS  3000     /* how long workers get to close */

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

/* Connections blocking the current bans; kill = also ask workers to close them. */
static size_t drain_count(struct proxy *px, bool kill)
{
    struct rules_guard g;
    size_t n = 0;
    const struct rules *r = rules_store_get(&px->keeper->store, &g);

    for (int i = 0; r && i < px->nworkers; i++) {
        struct proxy_worker *w = &px->workers[i];
        size_t mine = 0;
        pthread_mutex_lock(&w->lock);
        for (struct proxy_conn *c = w->conns; c; c = c->next) {
            if (!inspect_blocks_ban(c, r))
                continue;
            mine++;
            if (kill)
                atomic_store(&c->kill, true);
        }
        pthread_mutex_unlock(&w->lock);
        if (kill && mine > 0)
            proxy_worker_wake(w);
        n += mine;
    }
    rules_store_put(&px->keeper->store, &g);
    return n;
}

int proxy_drain(struct proxy *px, char *err, size_t errlen)
{
    int64_t start = proxy_now_ms(), deadline = start + px->cfg.ban_drain_ms;
    size_t n;
    int rc = 0;

    while ((n = drain_count(px, false)) > 0 && proxy_now_ms() < deadline)
        sleep_ms(DRAIN_POLL_MS);
    if (n > 0) {
        log_warn("ban drain: %zu connection(s) still hold writes to banned buckets "
                 "after %d ms: closing them", n, px->cfg.ban_drain_ms);
        drain_count(px, true);
        int64_t kill_deadline = proxy_now_ms() + DRAIN_KILL_MS;
        while ((n = drain_count(px, false)) > 0 && proxy_now_ms() < kill_deadline)
            sleep_ms(DRAIN_POLL_MS);
        if (n > 0) {
            snprintf(err, errlen, "%zu connection(s) holding writes to banned buckets "
                     "could not be closed", n);
            rc = -1;
        }
    }
    uint64_t took = (uint64_t)(proxy_now_ms() - start);
    atomic_fetch_add(&px->m.drains, 1);
    atomic_fetch_add(&px->m.drain_ms_total, took);
    atomic_store(&px->m.drain_ms_last, took);
    if (took > 0)
        log_info("ban drain done in %llu ms", (unsigned long long)took);
    return rc;
}

static int hook_after_accept(void *ctx, uint64_t version, char *err, size_t errlen)
{
    (void)version;
    return proxy_drain(ctx, err, errlen);
}

static void hook_status(void *ctx, struct strbuf *out)
{
    struct proxy *px = ctx;

    strbuf_puts(out, ",\"listen\":");
    strbuf_json_string(out, px->cfg.listen);
    strbuf_puts(out, ",\"backend\":");
    strbuf_json_string(out, px->cfg.backend);
    strbuf_printf(out, ",\"center\":%s,\"workers\":%d,\"connections\":%lld,"
                  "\"transactions\":%lld,\"drain_ms_last\":%llu,\"ban_drain_ms\":%d",
                  px->is_center ? "true" : "false", px->nworkers,
                  (long long)atomic_load(&px->m.connections),
                  (long long)atomic_load(&px->m.transactions),
                  (unsigned long long)atomic_load(&px->m.drain_ms_last),
                  px->cfg.ban_drain_ms);
}

static void hook_metrics(void *ctx, struct strbuf *out)
{
    static const char *const cls[2] = { "read", "write" };
    static const char *const outcome[2] = { "allowed", "refused" };
    struct proxy_metrics *m = &((struct proxy *)ctx)->m;

    strbuf_puts(out, "# TYPE unitproxy_statements_total counter\n");
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            strbuf_printf(out, "unitproxy_statements_total{class=\"%s\",outcome=\"%s\"} %llu\n",
                          cls[i], outcome[j],
                          (unsigned long long)atomic_load(&m->statements[i][j]));
    strbuf_puts(out, "# TYPE unitproxy_refusals_total counter\n");
    for (int r = 1; r < SQL_REASON_COUNT; r++)
        strbuf_printf(out, "unitproxy_refusals_total{reason=\"%s\",code=\"%u\"} %llu\n",
                      sql_reason_info((enum sql_reason)r)->name,
                      sql_reason_info((enum sql_reason)r)->code,
                      (unsigned long long)atomic_load(&m->refusals[r]));
    strbuf_printf(out,
                  "# TYPE unitproxy_connections gauge\nunitproxy_connections %lld\n"
                  "# TYPE unitproxy_connections_total counter\nunitproxy_connections_total %llu\n"
                  "# TYPE unitproxy_transactions_open gauge\nunitproxy_transactions_open %lld\n"
                  "# TYPE unitproxy_backend_errors_total counter\nunitproxy_backend_errors_total %llu\n"
                  "# TYPE unitproxy_drains_total counter\nunitproxy_drains_total %llu\n"
                  "# TYPE unitproxy_drain_ms_total counter\nunitproxy_drain_ms_total %llu\n"
                  "# TYPE unitproxy_drain_ms_last gauge\nunitproxy_drain_ms_last %llu\n"
                  "# TYPE unitproxy_drain_kills_total counter\nunitproxy_drain_kills_total %llu\n",
                  (long long)atomic_load(&m->connections),
                  (unsigned long long)atomic_load(&m->connections_total),
                  (long long)atomic_load(&m->transactions),
                  (unsigned long long)atomic_load(&m->backend_errors),
                  (unsigned long long)atomic_load(&m->drains),
                  (unsigned long long)atomic_load(&m->drain_ms_total),
                  (unsigned long long)atomic_load(&m->drain_ms_last),
                  (unsigned long long)atomic_load(&m->drain_kills));
}

void proxy_admin_hooks(struct proxy *px, struct admin_http_hooks *hooks)
{
    hooks->ctx = px;
    hooks->after_accept = hook_after_accept;
    hooks->status_json = hook_status;
    hooks->metrics = hook_metrics;
}
