#include "ctl_http.h"

#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "router/admin_http.h"
#include "router/http_body.h"
#include "router/log.h"

#define CTL_HTTP_BODY_MAX RULES_BODY_MAX

struct ctl_http {
    struct MHD_Daemon *daemon;
    struct center     *center;
};

static enum MHD_Result ctl_http_send(struct MHD_Connection *conn, unsigned int status,
                                     const char *type, struct strbuf *b, int exit_code,
                                     const char *const *extra)
{
    if (b->failed) {
        strbuf_reset(b);
        b->failed = 0;
        strbuf_puts(b, "out of memory\n");
        status = 500;
        exit_code = CTL_EXIT_ERROR;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(b->len, b->buf ? b->buf : (void *)"",
                                                             MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    char code[16];
    snprintf(code, sizeof(code), "%d", exit_code);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            type ? type : "text/plain; charset=utf-8");
    MHD_add_response_header(r, "X-Unitroute-Exit", code);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i += 2)
        MHD_add_response_header(r, extra[i], extra[i + 1]);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static unsigned int ctl_http_status_of(int exit_code)
{
    switch (exit_code) {
    case CTL_EXIT_OK: return 200;
    case CTL_EXIT_REFUSED: return 409;
    case CTL_EXIT_USAGE: return 400;
    default: return 500;
    }
}

/* Value of key in a "key=value\n" body into out; 0 if found. */
static int ctl_form_get(const char *body, const char *key, char *out, size_t outlen)
{
    size_t klen = strlen(key);

    for (const char *p = body; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
            const char *v = p + klen + 1;
            size_t n = strcspn(v, "\r\n");
            if (n >= outlen)
                n = outlen - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return 0;
        }
    }
    return -1;
}

static int ctl_http_cutover_request(struct center *c, const char *body,
                                    struct cutover_request *req, struct strbuf *out)
{
    char v[128], err[256];

    memset(req, 0, sizeof(*req));
    req->timeout_ms = c->cfg.cutover_timeout_ms;
    if (ctl_form_get(body, "buckets", v, sizeof(v)) == 0) {
        if (rule_sel_parse_buckets(v, &req->sel, err, sizeof(err)) < 0)
            goto bad;
    } else if (ctl_form_get(body, "buyer", v, sizeof(v)) == 0) {
        if (rule_sel_parse_buyer(v, &req->sel, err, sizeof(err)) < 0)
            goto bad;
    } else {
        snprintf(err, sizeof(err), "give buckets or buyer");
        goto bad;
    }
    if (ctl_form_get(body, "to", req->to, sizeof(req->to)) < 0) {
        snprintf(err, sizeof(err), "give the target unit (to)");
        goto bad;
    }
    if (ctl_form_get(body, "timeout_ms", v, sizeof(v)) == 0) {
        req->timeout_ms = atol(v);
        if (req->timeout_ms < 100 || req->timeout_ms > 3600000) {
            snprintf(err, sizeof(err), "timeout must be 100 ms to 1 hour");
            goto bad;
        }
    }
    req->force = ctl_form_get(body, "force", v, sizeof(v)) == 0 && strcmp(v, "1") == 0;
    req->dry_run = ctl_form_get(body, "dry_run", v, sizeof(v)) == 0 && strcmp(v, "1") == 0;
    return 0;
bad:
    strbuf_printf(out, "bad request: %s\n", err);
    return -1;
}

static enum MHD_Result ctl_http_api(struct ctl_http *h, struct MHD_Connection *conn,
                                    const char *url, const char *method,
                                    struct http_body *req, struct strbuf *out)
{
    struct center *c = h->center;
    int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    const char *body = req->buf.buf ? req->buf.buf : "";
    int rc;

    if (!center_token_ok(c, MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                        CTL_TOKEN_HEADER))) {
        strbuf_puts(out, "missing or wrong API token (header " CTL_TOKEN_HEADER ")\n");
        return ctl_http_send(conn, 401, NULL, out, CTL_EXIT_ERROR, NULL);
    }
    if (req->too_large) {
        strbuf_puts(out, "request body too large\n");
        return ctl_http_send(conn, 413, NULL, out, CTL_EXIT_REFUSED, NULL);
    }
    if (strcmp(url, "/v1/status") == 0 && get) {
        const char *fmt = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "format");
        if (fmt != NULL && strcmp(fmt, "json") == 0) {
            center_status_json(c, out);
            return ctl_http_send(conn, 200, "application/json", out, 0, NULL);
        }
        rc = center_status_text(c, out);
        return ctl_http_send(conn, ctl_http_status_of(rc), NULL, out, rc, NULL);
    }
    if (strcmp(url, "/v1/rules") == 0 && get) {
        uint64_t version;
        char vtext[32];
        rc = center_rules_text(c, out, &version);
        snprintf(vtext, sizeof(vtext), "%" PRIu64, version);
        const char *extra[] = { "X-Unitroute-Version", vtext, NULL };
        return ctl_http_send(conn, ctl_http_status_of(rc), NULL, out, rc, extra);
    }
    if (strcmp(url, "/v1/rules") == 0 && post) {
        rc = center_rules_propose(c, body, req->buf.len, out);
        log_info("api: rules proposed: %s", rc == 0 ? "accepted" : "refused");
        return ctl_http_send(conn, ctl_http_status_of(rc), NULL, out, rc, NULL);
    }
    if (strcmp(url, "/v1/cutover") == 0 && post) {
        struct cutover_request creq;
        char id[JOURNAL_ID_MAX];
        if (ctl_http_cutover_request(c, body, &creq, out) < 0)
            return ctl_http_send(conn, 400, NULL, out, CTL_EXIT_USAGE, NULL);
        rc = center_cutover_start(c, &creq, out, id, sizeof(id));
        const char *extra[] = { "X-Unitroute-Cutover", id, NULL };
        if (rc == 0 && id[0])
            log_info("api: cutover %s started", id);
        else if (rc != 0)
            log_warn("api: cutover refused");
        return ctl_http_send(conn, ctl_http_status_of(rc), NULL, out, rc, id[0] ? extra : NULL);
    }
    if (strcmp(url, "/v1/cutover/events") == 0 && get) {
        const char *id = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "id");
        const char *after = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "after");
        const char *wait = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "wait_ms");
        size_t next = 0;
        const char *outcome = "unknown";
        long wait_ms = wait ? atol(wait) : 0;
        char ntext[32];
        rc = center_cutover_events(c, id ? id : "", after ? strtoull(after, NULL, 10) : 0,
                                   wait_ms > 5000 ? 5000 : wait_ms, out, &next, &outcome);
        snprintf(ntext, sizeof(ntext), "%zu", next);
        const char *extra[] = { "X-Unitroute-Next", ntext, "X-Unitroute-Outcome", outcome,
                                NULL };
        return ctl_http_send(conn, rc == 0 ? 200 : 404, NULL, out, rc, extra);
    }
    if (strcmp(url, "/v1/abort") == 0 && post) {
        rc = center_abort(c, out);
        log_info("api: abort: %s", rc == 0 ? "requested" : "refused");
        return ctl_http_send(conn, ctl_http_status_of(rc), NULL, out, rc, NULL);
    }
    if (strcmp(url, "/v1/confirm-sync") == 0 && post) {
        const char *id = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "id");
        rc = center_confirm_sync(c, id ? id : "", out);
        log_info("api: confirm-sync %s: %s", id ? id : "", rc == 0 ? "accepted" : "refused");
        return ctl_http_send(conn, ctl_http_status_of(rc), NULL, out, rc, NULL);
    }
    if (strcmp(url, "/v1/history") == 0 && get) {
        rc = center_history(c, out);
        return ctl_http_send(conn, 200, NULL, out, rc, NULL);
    }
    strbuf_printf(out, "no such endpoint: %s %s\n", method, url);
    return ctl_http_send(conn, 404, NULL, out, CTL_EXIT_USAGE, NULL);
}

static enum MHD_Result ctl_http_route(struct ctl_http *h, struct MHD_Connection *conn,
                                      const char *url, const char *method,
                                      struct http_body *req)
{
    struct strbuf out;
    enum MHD_Result ret;
    int get = strcmp(method, "GET") == 0;

    strbuf_init(&out);
    if (strncmp(url, "/v1/", 4) == 0) {
        ret = ctl_http_api(h, conn, url, method, req, &out);
    } else if (strcmp(url, "/") == 0 && get) {
        center_status_html(h->center, &out);
        ret = ctl_http_send(conn, 200, "text/html; charset=utf-8", &out, 0, NULL);
    } else if (strcmp(url, "/metrics") == 0 && get) {
        center_metrics(h->center, &out);
        ret = ctl_http_send(conn, 200, "text/plain; version=0.0.4", &out, 0, NULL);
    } else if (strcmp(url, "/healthz") == 0 && get) {
        strbuf_puts(&out, "ok\n");
        ret = ctl_http_send(conn, 200, NULL, &out, 0, NULL);
    } else {
        strbuf_printf(&out, "no such page: %s %s\n", method, url);
        ret = ctl_http_send(conn, 404, NULL, &out, CTL_EXIT_USAGE, NULL);
    }
    strbuf_deinit(&out);
    return ret;
}

static enum MHD_Result ctl_http_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                        const char *method, const char *version,
                                        const char *upload, size_t *upload_size, void **con_cls)
{
    struct http_body *req = *con_cls;

    (void)version;
    if (req == NULL) {
        *con_cls = http_body_create(CTL_HTTP_BODY_MAX);
        return *con_cls != NULL ? MHD_YES : MHD_NO;
    }
    if (http_body_take(req, upload, upload_size))
        return MHD_YES;
    return ctl_http_route(cls, conn, url, method, req);
}

static void ctl_http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                               enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    http_body_destroy(*con_cls);
    *con_cls = NULL;
}

struct ctl_http *ctl_http_start(struct center *c, char *err, size_t errlen)
{
    struct sockaddr_in sa;
    struct ctl_http *h;

    if (admin_http_parse_addr(c->cfg.listen, &sa) < 0) {
        snprintf(err, errlen, "listen \"%s\" is not host:port", c->cfg.listen);
        return NULL;
    }
    h = calloc(1, sizeof(*h));
    if (h == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->center = c;
    h->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL,
        ctl_http_handler, h,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_NOTIFY_COMPLETED, ctl_http_completed, h,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1,
        MHD_OPTION_END);
    if (h->daemon == NULL) {
        snprintf(err, errlen, "cannot listen on %s (address in use?)", c->cfg.listen);
        free(h);
        return NULL;
    }
    return h;
}

void ctl_http_stop(struct ctl_http *h)
{
    if (h == NULL)
        return;
    MHD_stop_daemon(h->daemon);
    free(h);
}
