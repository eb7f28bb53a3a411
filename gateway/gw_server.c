/*
 * gw_server: one client request, from its request line to its last byte.
 *
 *   uri_log callback: struct gw_request (raw target kept: path + query)
 *        |
 *   handler, first call: limits (414 / 431 / 413) -> route_decide (a write:
 *        inside its lane's lock, linked there when LOCAL, gw_drain.h)
 *        |-- answer now: 307, 400, 404, 421, 503 (+ Retry-After)
 *        |-- HOLD: gw_hold_park (connection suspended) ... resumed:
 *        |         decide again (released, parked again, or 503 on timeout)
 *        `-- LOCAL / FORWARD: gw_xfer to the upstream (gw_upstream.c)
 *   handler, body calls: gw_xfer_push_body (suspends when the ring is full)
 *   handler, final call: gw_xfer_end_body; wait for the upstream's headers
 *        (suspended) -> 502 / 504 naming the upstream, or the upstream's
 *        response: from the body buffer when the transfer is already over,
 *        else with a content reader pulling the body (gw_xfer_response)
 *   completed callback: metrics, request log line, release the transfer,
 *        unlink the write from its lane (a ban drain stops waiting for it)
 *
 * Hop header: "<unit>; v=<rule version>; sig=<HMAC>" on what we forward
 * (gw_hop.h). A hopped request that would leave again is served here when
 * the sender's signed version is newer than ours, or older and it is a read
 * (route.h), else 421. A held request released by new rules is routed like
 * a fresh one, and forwarded with our own hop header.
 *
 * Every answer carries X-Unit (the unit that served it) and X-Unit-Home
 * (public URL of the buyer's home unit, or of the serving unit).
 */
#include "gw_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "gateway/gw_drain.h"
#include "gateway/gw_headers.h"
#include "gateway/gw_hop.h"
#include "gateway/gw_hold.h"
#include "gateway/gw_upstream.h"
#include "gateway/gw_worker.h"
#include "router/admin_http.h"
#include "router/log.h"

/*
 * One per worker: its libmicrohttpd callbacks' closure, and its in-flight
 * writes for the ban drain. The array outlives the workers.
 */
struct gw_lane {
    struct gw_server     *srv;
    struct gw_worker     *wk;
    struct gw_drain_lane *drain;        /* its entry in the server's drains */
    struct gw_hop_cache   hop;          /* the signed hop value it last sent */
};

struct gw_server {
    struct gw_worker   **workers;       /* nworkers of them, each with its daemon */
    int                  nworkers;
    struct gw_lane      *lanes;         /* one per configured worker */
    struct gw_drain_lane *drains;       /* the lanes' in-flight writes, as one array */
    int                  nlanes;
    struct rules_keeper *keeper;        /* borrowed */
    struct gw_hold      *hold;
    struct gw_metrics    metrics;
    pthread_mutex_t      cfg_lock;      /* guards cfg and every cfg->refs */
    struct gw_config    *cfg;           /* current */
    const struct topology *labels;      /* unit names for metrics (first config's) */
    struct gw_config    *boot;          /* the first config: labels live in it */
};

enum gw_req_state {
    GW_REQ_NEW,         /* before the first handler call */
    GW_REQ_HELD,        /* parked by a ban */
    GW_REQ_PROXY,       /* a transfer runs */
    GW_REQ_ANSWER,      /* an answer waits for the next handler call */
    GW_REQ_DONE,        /* an answer is queued */
};

struct gw_request {
    struct gw_server      *srv;
    struct gw_worker      *wk;          /* the serving worker */
    struct gw_lane        *lane;        /* its lane */
    struct gw_upstream    *up;          /* its client side */
    struct gw_config      *cfg;         /* reference held */
    struct MHD_Connection *conn;
    char                  *uri;         /* raw request target, in the request's block */
    char                  *path;        /* its path, in the request's block */
    const char            *query;       /* into uri, or NULL */
    const char            *method;      /* MHD's, valid for the request */
    enum gw_req_state      state;
    bool                   first_phase; /* the handler's "headers" call */
    struct MHD_Response   *pending;     /* answer decided in the first phase */
    struct route_decision  d;
    uint64_t               rules_version; /* of the decision, 0 without rules */
    bool                   decided;
    struct gw_drain_entry  drain;       /* a write sent upstream: on the lane */
    int                    status;      /* answered status, for the log */
    enum gw_outcome        outcome;
    bool                   has_body;
    long long              content_length;  /* -1 unknown */
    long long              body_bytes;
    bool                   body_ended;
    bool                   counted_held;
    struct gw_hold_entry   hold;
    uint64_t               hold_deadline_us;
    struct gw_xfer        *x;           /* reference held, or NULL */
    uint64_t               start_us;
};

/* ---- configuration references ------------------------------------------ */

static struct gw_config *gw_config_get(struct gw_server *s)
{
    pthread_mutex_lock(&s->cfg_lock);
    struct gw_config *c = s->cfg;
    c->refs++;
    pthread_mutex_unlock(&s->cfg_lock);
    return c;
}

static void gw_config_put(struct gw_server *s, struct gw_config *c)
{
    pthread_mutex_lock(&s->cfg_lock);
    unsigned left = --c->refs;
    pthread_mutex_unlock(&s->cfg_lock);
    if (left == 0)
        gw_config_destroy(c);
}

/* ---- answers ----------------------------------------------------------- */

/* Public URL for X-Unit-Home: the buyer's home, else the unit that serves. */
static const char *gw_home_url(const struct gw_request *r)
{
    const struct topology *t = r->cfg->topo;
    int u = r->d.home >= 0 ? r->d.home : r->d.target >= 0 ? r->d.target : r->cfg->table.self;
    return t->units[u].public_url;
}

static void gw_add_unit_headers(struct gw_request *r, struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "X-Unit", r->cfg->unit);
    MHD_add_response_header(resp, "X-Unit-Home", gw_home_url(r));
}

/*
 * Queue resp (owned from here) with status; the request is done.
 * libmicrohttpd accepts an answer only in the "headers" call or the final
 * one, and closes the connection after one queued in the "headers" call. So a
 * bodyless request's early answer waits for the final call (keep-alive
 * survives), while a request with a body is answered at once and its body is
 * never read (the connection closes, as it should for an unread body).
 */
static enum MHD_Result gw_queue(struct gw_request *r, struct MHD_Response *resp, int status,
                                enum gw_outcome outcome)
{
    if (resp == NULL)
        return MHD_NO;
    r->status = status;
    r->outcome = outcome;
    if (r->first_phase && !r->has_body) {
        r->pending = resp;
        r->state = GW_REQ_ANSWER;
        return MHD_YES;
    }
    r->state = GW_REQ_DONE;
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* A short text answer; retry_after > 0 adds Retry-After. */
static enum MHD_Result gw_answer(struct gw_request *r, int status, enum gw_outcome outcome,
                                 int retry_after, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static enum MHD_Result gw_answer(struct gw_request *r, int status, enum gw_outcome outcome,
                                 int retry_after, const char *fmt, ...)
{
    char body[1024], num[16];
    va_list ap;

    int n = snprintf(body, sizeof(body), "unitgw %s: ", r->cfg->unit);
    va_start(ap, fmt);
    n += vsnprintf(body + n, sizeof(body) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if ((size_t)n >= sizeof(body) - 1)
        n = (int)sizeof(body) - 2;
    body[n++] = '\n';
    body[n] = '\0';
    struct MHD_Response *resp = MHD_create_response_from_buffer((size_t)n, body,
                                                                MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
    gw_add_unit_headers(r, resp);
    if (retry_after > 0 || status == 503) {
        snprintf(num, sizeof(num), "%d", retry_after);
        MHD_add_response_header(resp, "Retry-After", num);
    }
    return gw_queue(r, resp, status, outcome);
}

static enum MHD_Result gw_redirect(struct gw_request *r)
{
    const struct topology_unit *u = &r->cfg->topo->units[r->d.target];
    size_t len = strlen(u->public_url) + strlen(r->uri) + 1;
    char *loc = malloc(len);

    if (loc == NULL)
        return MHD_NO;
    snprintf(loc, len, "%s%s", u->public_url, r->uri);
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (resp != NULL) {
        MHD_add_response_header(resp, "Location", loc);
        gw_add_unit_headers(r, resp);
    }
    free(loc);
    return gw_queue(r, resp, MHD_HTTP_TEMPORARY_REDIRECT, GW_OUTCOME_REDIRECT);
}

/* ---- limits -------------------------------------------------------------- */

struct gw_count {
    size_t n;
    size_t bytes;
};

static enum MHD_Result gw_count_header(void *cls, enum MHD_ValueKind kind, const char *name,
                                       const char *value)
{
    struct gw_count *c = cls;
    (void)kind;
    c->n++;
    c->bytes += strlen(name) + (value ? strlen(value) : 0) + 4;
    return MHD_YES;
}

/* Answers and returns true when the request breaks a limit. */
static bool gw_over_limits(struct gw_request *r, enum MHD_Result *ret)
{
    const struct gw_config *c = r->cfg;
    struct gw_count cnt = { 0, 0 };

    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, gw_count_header, &cnt);
    if (strlen(r->uri) > (size_t)c->max_url_bytes) {
        *ret = gw_answer(r, 414, GW_OUTCOME_LIMIT, 0, "request target longer than %d bytes",
                         c->max_url_bytes);
        return true;
    }
    if (cnt.n > (size_t)c->max_headers || cnt.bytes + strlen(r->uri) > (size_t)c->max_header_bytes) {
        *ret = gw_answer(r, 431, GW_OUTCOME_LIMIT, 0,
                         "request headers over the limit (%d headers, %d bytes)",
                         c->max_headers, c->max_header_bytes);
        return true;
    }
    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
    const char *te = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Transfer-Encoding");
    r->content_length = cl ? strtoll(cl, NULL, 10) : -1;
    r->has_body = (cl != NULL && r->content_length > 0) || te != NULL;
    if (te != NULL)
        r->content_length = -1;
    if (r->has_body && strcmp(r->method, "HEAD") == 0) {
        /* no upstream answer to it could carry a body: nothing defines it */
        *ret = gw_answer(r, 400, GW_OUTCOME_BAD_REQUEST, 0, "a HEAD request carries no body");
        return true;
    }
    if (r->content_length > c->max_body_bytes) {
        *ret = gw_answer(r, 413, GW_OUTCOME_LIMIT, 0, "request body over %lld bytes",
                         c->max_body_bytes);
        return true;
    }
    return false;
}

/* ---- proxying ------------------------------------------------------------ */

static const char *gw_lookup_header(void *ctx, const char *name)
{
    return MHD_lookup_connection_value(ctx, MHD_HEADER_KIND, name);
}

static void gw_client_ip(struct MHD_Connection *conn, char *out, size_t outlen)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

    snprintf(out, outlen, "unknown");
    if (ci != NULL && ci->client_addr != NULL && ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, out,
                  (socklen_t)outlen);
}

/* Start the transfer for a LOCAL or FORWARD decision; answers on failure. */
static enum MHD_Result gw_proxy_start(struct gw_request *r, bool *started)
{
    const struct gw_config *c = r->cfg;
    bool forward = r->d.action == ROUTE_ACTION_FORWARD;
    const char *base = forward ? c->topo->units[r->d.target].gateway_url : r->d.entry->upstream;
    char ip[INET_ADDRSTRLEN + 8], via[RULES_UNIT_NAME_MAX + 16];

    *started = false;
    gw_client_ip(r->conn, ip, sizeof(ip));
    snprintf(via, sizeof(via), "1.1 unitgw-%s", c->unit);
    const char *hop = forward ? gw_hop_value(&r->lane->hop, &r->srv->keeper->secret, c->unit,
                                             r->rules_version)
                              : NULL;
    struct gw_forward_info fi = { ip, via, c->hop_header, hop, r->has_body };
    size_t ulen = strlen(base) + strlen(r->uri) + 1;
    char stack[1024];
    char *url = ulen <= sizeof(stack) ? stack : malloc(ulen);   /* curl keeps a copy */
    if (url == NULL)
        return MHD_NO;
    snprintf(url, ulen, "%s%s", base, r->uri);
    struct gw_xfer_params p = {
        .method = r->method, .url = url, .upstream = base,
        .headers = gw_headers_request(r->conn, &fi),
        .has_body = r->has_body, .content_length = r->content_length,
        .connect_timeout_ms = c->upstream_connect_timeout_ms,
        .header_timeout_ms = c->upstream_timeout_ms,
    };
    r->x = p.headers ? gw_xfer_create(r->up, &p, r->conn) : NULL;
    if (url != stack)
        free(url);
    if (r->x == NULL)
        return gw_answer(r, 500, GW_OUTCOME_UPSTREAM_ERROR, 0, "out of memory");
    if (gw_upstream_submit(r->up, r->x) < 0)
        return gw_answer(r, 503, GW_OUTCOME_UPSTREAM_ERROR, c->retry_after_s,
                         "gateway shutting down");
    r->state = GW_REQ_PROXY;
    *started = true;
    return MHD_YES;
}

/* The upstream's headers arrived, or it failed first: answer the client. */
static enum MHD_Result gw_proxy_respond(struct gw_request *r)
{
    struct gw_xfer *x = r->x;
    const struct gw_config *c = r->cfg;
    bool forward = r->d.action == ROUTE_ACTION_FORWARD;

    bool ok = x->headers_done;
    bool timed_out = x->timed_out || x->result == CURLE_OPERATION_TIMEDOUT;
    long status = x->status;
    const char *why = x->errbuf;

    if (!ok && timed_out)
        return gw_answer(r, 504, GW_OUTCOME_UPSTREAM_TIMEOUT, 0,
                         "upstream %s did not answer in time (%s)", x->upstream, why);
    if (!ok)
        return gw_answer(r, 502, GW_OUTCOME_UPSTREAM_ERROR, 0, "upstream %s failed: %s",
                         x->upstream, why);

    /* headers are complete: curl no longer writes them */
    char via[RULES_UNIT_NAME_MAX + 16];
    bool has_unit;
    long long clen;
    snprintf(via, sizeof(via), "1.1 unitgw-%s", c->unit);
    bool bodyless = strcmp(r->method, "HEAD") == 0 || status == 204 || status == 304 ||
                    (status >= 100 && status < 200);
    struct MHD_Response *resp = bodyless
        ? MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT)
        : gw_xfer_response(x);
    if (resp == NULL)
        return MHD_NO;
    gw_headers_response(resp, x->resp_headers.buf ? x->resp_headers.buf : "",
                        x->resp_headers.len, via, forward, &has_unit, &clen);
    if (!has_unit)
        gw_add_unit_headers(r, resp);
    return gw_queue(r, resp, (int)status, forward ? GW_OUTCOME_FORWARD : GW_OUTCOME_LOCAL);
}

/* Body and final calls while a transfer runs. */
static enum MHD_Result gw_proxy_step(struct gw_request *r, const char *data, size_t *size)
{
    if (*size > 0) {
        if (r->body_bytes + (long long)*size > r->cfg->max_body_bytes) {
            /* chunked body over the limit: no answer can be queued mid-body */
            log_warn("%s %.200s: chunked body over %lld bytes: connection closed", r->method,
                     r->uri, r->cfg->max_body_bytes);
            r->outcome = GW_OUTCOME_LIMIT;
            r->status = 413;
            return MHD_NO;
        }
        size_t n = gw_xfer_push_body(r->x, data, *size);
        r->body_bytes += (long long)n;
        *size -= n;
        return MHD_YES;
    }
    if (r->has_body && r->content_length > 0 && r->body_bytes < r->content_length)
        return MHD_YES;     /* not the final call: more body to come */
    if (!r->body_ended) {
        r->body_ended = true;
        gw_xfer_end_body(r->x);
    }
    if (!gw_xfer_wait_headers(r->x))
        return MHD_YES;     /* suspended until the upstream answers */
    return gw_proxy_respond(r);
}

/* ---- routing ------------------------------------------------------------- */

static void gw_unhold(struct gw_request *r)
{
    if (r->counted_held) {
        r->counted_held = false;
        atomic_fetch_sub(&r->srv->metrics.held_now, 1);
    }
}

static enum MHD_Result gw_hold_or_reject(struct gw_request *r, uint64_t version)
{
    struct gw_server *s = r->srv;
    const struct gw_config *c = r->cfg;

    if (r->d.action == ROUTE_ACTION_HOLD && !r->hold.expired) {
        if (r->hold_deadline_us == 0) {
            r->hold_deadline_us = gw_now_us() + (uint64_t)c->ban_hold_ms * 1000u;
            atomic_fetch_add(&s->metrics.holds_total, 1);
            atomic_fetch_add(&s->metrics.held_now, 1);
            r->counted_held = true;
        }
        r->hold.wake = gw_worker_wake;
        r->hold.wake_ctx = r->wk;
        if (gw_hold_park(s->hold, &r->hold, r->conn, version, r->hold_deadline_us) == 0) {
            r->state = GW_REQ_HELD;
            return MHD_YES;
        }
    }
    if (r->hold_deadline_us != 0)
        atomic_fetch_add(&s->metrics.holds_timed_out, 1);
    gw_unhold(r);
    return gw_answer(r, 503, GW_OUTCOME_REJECT, c->retry_after_s, "%s; retry shortly",
                     r->d.reason);
}

/*
 * route_decide under the current rules. A write decides inside its lane's
 * lock and, when it goes to the local upstream for a buyer, is linked there
 * before the unlock: a ban drain then either sees it or it saw the ban
 * (gw_drain.h). A write forwarded to another gateway is not linked: that
 * gateway links it when it sends it upstream, and its own drain covers it.
 */
static void gw_decide(struct gw_request *r)
{
    struct gw_server *s = r->srv;
    struct gw_drain_lane *lane = r->lane->drain;
    bool write = !route_method_is_read(r->method);
    struct rules_guard g;
    struct route_hop hop;
    struct route_request rq = {
        .method = r->method, .path = r->path, .query = r->query,
        .header = gw_lookup_header, .header_ctx = r->conn,
    };
    const char *hv = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, r->cfg->hop_header);

    /* a held request is decided again by the rules that lifted its ban, which
     * may send it on: it is no bounce (it waited here), and what we forward
     * carries our own hop header */
    rq.hopped = hv != NULL && r->hold_deadline_us == 0;
    route_hop_parse(hv, &hop);
    rq.hop_version = hop.version;
    if (write)
        gw_drain_lock(lane);
    const struct rules *rules = rules_store_get(&s->keeper->store, &g);
    r->rules_version = rules ? rules->version : 0;
    route_decide(&r->cfg->table, rules, &rq, &r->d);
    if (r->d.hop_trusted && !gw_hop_verify(&s->keeper->secret, &hop)) {
        rq.hop_forged = true;       /* a version anyone could have written */
        route_decide(&r->cfg->table, rules, &rq, &r->d);
    }
    rules_store_put(&s->keeper->store, &g);
    if (write && !r->drain.linked && r->d.action == ROUTE_ACTION_LOCAL &&
        r->d.entry->type == ROUTE_TYPE_UNIT && r->d.has_buyer)
        gw_drain_link(lane, &r->drain, r->d.buyer_id);
    if (write)
        gw_drain_unlock(lane);
    r->decided = true;
}

/* Decide (again) and act; the first call, or a resumed parked request. */
static enum MHD_Result gw_route(struct gw_request *r, const char *data, size_t *size)
{
    struct gw_server *s = r->srv;

    gw_decide(r);
    uint64_t version = r->rules_version;

    switch (r->d.action) {
    case ROUTE_ACTION_HOLD:
    case ROUTE_ACTION_REJECT:
        return gw_hold_or_reject(r, version);
    case ROUTE_ACTION_LOCAL:
    case ROUTE_ACTION_FORWARD: {
        bool started;
        if (r->counted_held)
            atomic_fetch_add(&s->metrics.holds_released, 1);
        if (r->d.hop_trusted)
            atomic_fetch_add(&s->metrics.hop_trusted, 1);
        gw_unhold(r);
        (void)data;
        (void)size;
        /* the body and the upstream's answer come in later calls */
        return gw_proxy_start(r, &started);
    }
    case ROUTE_ACTION_REDIRECT:
        gw_unhold(r);
        return gw_redirect(r);
    case ROUTE_ACTION_NO_RULES:
        return gw_answer(r, 503, GW_OUTCOME_NO_RULES, r->cfg->retry_after_s, "%s", r->d.reason);
    case ROUTE_ACTION_BAD_REQUEST:
        return gw_answer(r, 400, GW_OUTCOME_BAD_REQUEST, 0, "%s", r->d.reason);
    case ROUTE_ACTION_MISDIRECTED:
        return gw_answer(r, 421, GW_OUTCOME_MISDIRECTED, 0, "%s", r->d.reason);
    case ROUTE_ACTION_NOT_FOUND:
    default:
        return gw_answer(r, 404, GW_OUTCOME_NOT_FOUND, 0, "%s", r->d.reason);
    }
}

static enum MHD_Result gw_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **req_cls)
{
    struct gw_request *r = *req_cls;
    enum MHD_Result ret;

    (void)cls;
    (void)url;
    (void)version;
    if (r == NULL)
        return MHD_NO;
    r->first_phase = r->state == GW_REQ_NEW || r->state == GW_REQ_HELD;
    switch (r->state) {
    case GW_REQ_NEW:
        r->conn = conn;
        r->method = method;
        if (gw_over_limits(r, &ret))
            return ret;
        return gw_route(r, upload_data, upload_size);
    case GW_REQ_HELD:
        return gw_route(r, upload_data, upload_size);
    case GW_REQ_PROXY:
        return gw_proxy_step(r, upload_data, upload_size);
    case GW_REQ_ANSWER: {
        struct MHD_Response *resp = r->pending;
        r->pending = NULL;
        *upload_size = 0;
        return gw_queue(r, resp, r->status, r->outcome);
    }
    case GW_REQ_DONE:
    default:
        *upload_size = 0;   /* answered already: drop the rest of the body */
        return MHD_YES;
    }
}

/* ---- request lifetime ---------------------------------------------------- */

static void *gw_uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct gw_lane *lane = cls;
    struct gw_server *s = lane->srv;
    size_t ulen = strlen(uri) + 1, plen = strcspn(uri, "?");
    struct gw_request *r = calloc(1, sizeof(*r) + ulen + plen + 1);  /* uri, path inside */

    (void)conn;
    if (r == NULL)
        return NULL;
    r->srv = s;
    r->lane = lane;
    r->wk = lane->wk;
    r->up = lane->wk->up;
    r->cfg = gw_config_get(s);
    r->uri = (char *)(r + 1);
    memcpy(r->uri, uri, ulen);
    r->path = r->uri + ulen;
    memcpy(r->path, uri, plen);
    r->path[plen] = '\0';
    r->query = r->uri[plen] == '?' ? r->uri + plen + 1 : NULL;
    r->outcome = GW_OUTCOME_ABORTED;
    r->d.target = r->d.home = -1;
    r->start_us = gw_now_us();
    atomic_fetch_add(&s->metrics.in_flight, 1);
    return r;
}

static void gw_log_request(const struct gw_request *r, enum MHD_RequestTerminationCode toe)
{
    const struct topology *t = r->cfg->topo;
    char buyer[24] = "-";

    if (r->d.has_buyer)
        snprintf(buyer, sizeof(buyer), "%llu", (unsigned long long)r->d.buyer_id);
    log_info("%s %.200s %d %s route=%s unit=%s buyer=%s %.1fms%s", r->method ? r->method : "-",
             r->uri, r->status, gw_outcome_name(r->outcome),
             r->d.entry ? route_type_name(r->d.entry->type) : "none",
             r->d.target >= 0 ? t->units[r->d.target].name : "-", buyer,
             (gw_now_us() - r->start_us) / 1000.0,
             toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection ended early)");
}

static void gw_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct gw_lane *lane = cls;
    struct gw_server *s = lane->srv;
    struct gw_request *r = *req_cls;

    (void)conn;
    if (r == NULL)
        return;
    *req_cls = NULL;
    gw_drain_unlink(lane->drain, &r->drain);  /* answered (or given up on) */
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && r->outcome <= GW_OUTCOME_FORWARD)
        r->outcome = GW_OUTCOME_ABORTED;
    gw_metrics_count(&s->metrics, r->d.entry ? (int)r->d.entry->type : ROUTE_TYPE_COUNT,
                     r->outcome, r->d.target);
    if (r->cfg->log_requests)
        gw_log_request(r, toe);
    gw_unhold(r);
    if (r->pending != NULL)
        MHD_destroy_response(r->pending);
    if (r->x != NULL)
        gw_xfer_release(r->x);
    gw_config_put(s, r->cfg);
    free(r);                /* uri and path live in its block */
    atomic_fetch_sub(&s->metrics.in_flight, 1);
}

static void gw_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    log_debug("libmicrohttpd: %s", msg);
}

/* ---- lifecycle ----------------------------------------------------------- */

/*
 * The daemon of lane w's worker: external polling (the worker's loop runs
 * it), its own listen socket on the shared address (SO_REUSEPORT: the kernel
 * spreads the connections over the workers). Its callbacks get the lane.
 */
static struct MHD_Daemon *gw_mhd_start(struct gw_lane *w, const struct gw_config *c,
                                       char *err, size_t errlen)
{
    struct sockaddr_in sin;

    if (admin_http_parse_addr(c->listen, &sin) < 0) {
        snprintf(err, errlen, "listen \"%s\": not an IPv4 host:port", c->listen);
        return NULL;
    }
    size_t mem = (size_t)c->max_header_bytes + 4096;  /* headers + response head */
    unsigned limit = ((unsigned)c->max_connections + (unsigned)c->workers - 1) / (unsigned)c->workers;
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | MHD_USE_TURBO,
        0, NULL, NULL, gw_handler, w,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
        MHD_OPTION_CONNECTION_LIMIT, limit,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)c->client_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, mem,
        MHD_OPTION_URI_LOG_CALLBACK, gw_uri_log, w,
        MHD_OPTION_NOTIFY_COMPLETED, gw_completed, w,
        MHD_OPTION_EXTERNAL_LOGGER, gw_mhd_log, w,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        MHD_OPTION_END);
    if (d == NULL)
        snprintf(err, errlen, "cannot listen on %s (in use, or not a local address?)", c->listen);
    return d;
}

/* Stop every worker's loop, close their connections and free them and the lanes. */
static void gw_server_stop_workers(struct gw_server *s)
{
    for (int i = 0; i < s->nworkers; i++)
        gw_worker_destroy(s->workers[i]);
    free(s->workers);
    s->workers = NULL;
    s->nworkers = 0;
    for (int i = 0; i < s->nlanes; i++)
        gw_drain_lane_deinit(&s->drains[i]);
    free(s->lanes);
    free(s->drains);
    s->lanes = NULL;
    s->drains = NULL;
    s->nlanes = 0;
}

/* One worker per cfg->workers, each running its own daemon. 0 or -1 with err. */
static int gw_server_start_workers(struct gw_server *s, const struct gw_config *c,
                                   char *err, size_t errlen)
{
    s->workers = calloc((size_t)c->workers, sizeof(*s->workers));
    s->lanes = calloc((size_t)c->workers, sizeof(*s->lanes));
    s->drains = calloc((size_t)c->workers, sizeof(*s->drains));
    if (s->workers == NULL || s->lanes == NULL || s->drains == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (; s->nlanes < c->workers; s->nlanes++) {
        s->lanes[s->nlanes].srv = s;
        s->lanes[s->nlanes].drain = &s->drains[s->nlanes];
        gw_drain_lane_init(&s->drains[s->nlanes]);
    }
    for (int i = 0; i < c->workers; i++) {
        struct gw_worker *w = gw_worker_create(s, &s->metrics, err, errlen);
        if (w == NULL)
            return -1;
        s->workers[s->nworkers++] = w;
        s->lanes[i].wk = w;
        struct MHD_Daemon *d = gw_mhd_start(&s->lanes[i], c, err, errlen);
        if (d == NULL)
            return -1;
        if (gw_worker_start(w, d, err, errlen) < 0) {
            MHD_stop_daemon(d);
            return -1;
        }
    }
    return 0;
}

struct gw_server *gw_server_start(struct gw_config *cfg, struct rules_keeper *k,
                                  char *err, size_t errlen)
{
    struct gw_server *s = calloc(1, sizeof(*s));

    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->cfg_lock, NULL);
    gw_metrics_init(&s->metrics);
    s->keeper = k;
    cfg->refs += 2;     /* current + boot (metrics labels) */
    s->cfg = s->boot = cfg;
    s->labels = cfg->topo;
    s->hold = gw_hold_create(&k->store);
    if (s->hold == NULL) {
        snprintf(err, errlen, "cannot start the hold thread");
        goto fail;
    }
    if (gw_server_start_workers(s, cfg, err, errlen) < 0)
        goto fail_workers;
    return s;
fail_workers:
    gw_hold_stop(s->hold);
    gw_server_stop_workers(s);
fail:
    gw_hold_destroy(s->hold);
    cfg->refs -= 2;
    pthread_mutex_destroy(&s->cfg_lock);
    free(s);
    return NULL;
}

void gw_server_reload(struct gw_server *s, struct gw_config *cfg)
{
    pthread_mutex_lock(&s->cfg_lock);
    struct gw_config *old = s->cfg;
    cfg->refs++;
    s->cfg = cfg;
    pthread_mutex_unlock(&s->cfg_lock);
    gw_config_put(s, old);
    atomic_fetch_add(&s->metrics.reloads, 1);
    gw_hold_notify(s->hold);
}

void gw_server_drain(struct gw_server *s, int timeout_ms)
{
    for (int i = 0; i < s->nworkers; i++)
        gw_worker_quiesce(s->workers[i]);
    gw_hold_release_all(s->hold);
    uint64_t until = gw_now_us() + (uint64_t)timeout_ms * 1000u;
    while (atomic_load(&s->metrics.in_flight) > 0 && gw_now_us() < until)
        usleep(20000);
    long long left = atomic_load(&s->metrics.in_flight);
    if (left > 0)
        log_warn("drain: %lld requests still in flight after %d ms; closing them", left,
                 timeout_ms);
}

void gw_server_destroy(struct gw_server *s)
{
    if (s == NULL)
        return;
    gw_hold_stop(s->hold);          /* parked requests resume, answer 503 */
    gw_server_stop_workers(s);      /* transfers end, connections close */
    gw_hold_destroy(s->hold);
    gw_config_put(s, s->cfg);
    gw_config_put(s, s->boot);
    pthread_mutex_destroy(&s->cfg_lock);
    free(s);
}

/* ---- admin hooks --------------------------------------------------------- */

/* True when the current rules ban any write. */
static bool gw_rules_have_bans(struct gw_server *s)
{
    struct rules_guard g;
    const struct rules *r = rules_store_get(&s->keeper->store, &g);
    bool bans = r != NULL && (r->nbans > 0 || r->nbuyer_bans > 0);

    rules_store_put(&s->keeper->store, &g);
    return bans;
}

/*
 * The ack of a push: when the accepted rules ban buckets, wait (admin
 * thread) until no write this gateway sent upstream for a banned buyer is still
 * unanswered, up to ban_drain_ms; then answer 200 anyway, logged and
 * counted: the writes are not aborted (the proxies refuse banned writes).
 */
int gw_server_after_accept(void *ctx, uint64_t version, char *err, size_t errlen)
{
    struct gw_server *s = ctx;
    uint64_t waited_ms = 0;

    (void)err;
    (void)errlen;
    gw_hold_notify(s->hold);    /* parked writes look at the new rules now */
    if (!gw_rules_have_bans(s))
        return 0;
    struct gw_config *c = gw_config_get(s);
    int timeout_ms = c->ban_drain_ms;
    gw_config_put(s, c);
    size_t left = gw_drain_wait(s->drains, (size_t)s->nlanes, &s->keeper->store, timeout_ms,
                                &waited_ms);
    gw_metrics_drain(&s->metrics, waited_ms, left);
    if (left > 0)
        log_warn("ban drain (rules version %llu): %zu write(s) to banned buckets still in "
                 "flight after ban_drain_ms=%d; acknowledging anyway",
                 (unsigned long long)version, left, timeout_ms);
    else if (waited_ms > 0)
        log_info("ban drain (rules version %llu): writes in flight done in %llu ms",
                 (unsigned long long)version, (unsigned long long)waited_ms);
    return 0;
}

void gw_server_status_json(void *ctx, struct strbuf *out)
{
    struct gw_server *s = ctx;
    struct gw_config *c = gw_config_get(s);

    strbuf_puts(out, ", \"listen\": ");
    strbuf_json_string(out, c->listen);
    strbuf_printf(out, ", \"mode\": \"%s\", \"ban_policy\": \"%s\", \"ban_drain_ms\": %d",
                  c->mode == ROUTE_MODE_FORWARD ? "forward" : "redirect",
                  c->ban_policy == ROUTE_BAN_HOLD ? "hold" : "reject", c->ban_drain_ms);
    gw_config_put(s, c);
    gw_metrics_status_json(&s->metrics, out);
}

void gw_server_metrics(void *ctx, struct strbuf *out)
{
    struct gw_server *s = ctx;
    gw_metrics_render(&s->metrics, s->labels->unit_names, s->labels->nunits, out);
}
