/*
 * admin_http: the rule endpoints every component serves (see the header).
 *
 *   MHD thread per connection
 *     first call      -> http_body_create (owns the upload buffer)
 *     upload chunks   -> append, or mark too large (keep draining)
 *     last call       -> route by method + path, answer, request freed in
 *                        admin_http_completed
 */
#include "admin_http.h"
#include "http_body.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct admin_http {
    struct MHD_Daemon             *daemon;
    struct rules_keeper           *keeper;   /* borrowed */
    const struct admin_http_hooks *hooks;    /* borrowed */
    char                           component[32];
    char                           unit[RULES_UNIT_NAME_MAX];
    atomic_ulong                   pushes_by_status[RULES_ACCEPT_IO_ERROR + 1];
    atomic_ulong                   pushes_failed_hook;
};

int admin_http_parse_addr(const char *hostport, struct sockaddr_in *out)
{
    char host[64];
    const char *colon = strrchr(hostport, ':');

    if (colon == NULL || (size_t)(colon - hostport) >= sizeof(host))
        return -1;
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = '\0';
    /* digits only: strtol alone would take " 80", "\r80" and "+80" */
    size_t digits = strspn(colon + 1, "0123456789");
    if (digits == 0 || digits > 5 || colon[1 + digits] != '\0')
        return -1;
    long port = strtol(colon + 1, NULL, 10);
    if (port <= 0 || port > 65535)
        return -1;
    memset(out, 0, sizeof(*out));
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    if (strcmp(host, "*") == 0 || host[0] == '\0')
        out->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (inet_pton(AF_INET, host, &out->sin_addr) != 1)
        return -1;
    return 0;
}

/* Queue a response that copies body; content_type NULL = text/plain. */
static enum MHD_Result admin_http_answer(struct MHD_Connection *c, unsigned int status,
                                         const char *content_type, const char *body,
                                         size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body,
                                                             MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            content_type ? content_type : "text/plain; charset=utf-8");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result admin_http_json(struct MHD_Connection *c, unsigned int status,
                                       struct strbuf *b)
{
    if (b->failed)
        return admin_http_answer(c, 500, NULL, "out of memory\n", 14);
    strbuf_puts(b, "\n");
    return admin_http_answer(c, status, "application/json", b->buf, b->len);
}

static enum MHD_Result admin_http_put_rules(struct admin_http *a, struct MHD_Connection *c,
                                            struct http_body *req)
{
    char err[512] = "";
    uint64_t version = 0;
    struct strbuf out;
    unsigned int status;

    strbuf_init(&out);
    if (req->too_large) {
        strbuf_printf(&out, "{\"status\": \"too_large\", \"error\": \"body exceeds %u bytes\"}",
                      RULES_BODY_MAX);
        status = 413;
        goto answer;
    }
    const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, RULES_SIGN_HEADER);
    enum rules_accept_status st = rules_keeper_accept(a->keeper, req->buf.buf ? req->buf.buf : "",
                                                      req->buf.len, sig, &version,
                                                      err, sizeof(err));
    atomic_fetch_add(&a->pushes_by_status[st], 1);
    status = (unsigned int)rules_accept_http_status(st);
    if (status == 200 && a->hooks && a->hooks->after_accept &&
        a->hooks->after_accept(a->hooks->ctx, version, err, sizeof(err)) < 0) {
        atomic_fetch_add(&a->pushes_failed_hook, 1);
        status = 503;
    }
    strbuf_printf(&out, "{\"status\": \"%s\", \"version\": %llu",
                  status == 503 ? "not_acknowledged" : rules_accept_status_name(st),
                  (unsigned long long)version);
    if (status != 200) {
        strbuf_puts(&out, ", \"error\": ");
        strbuf_json_string(&out, err);
    }
    strbuf_puts(&out, "}");
answer:;
    enum MHD_Result ret = admin_http_json(c, status, &out);
    strbuf_deinit(&out);
    return ret;
}

static enum MHD_Result admin_http_get_rules(struct admin_http *a, struct MHD_Connection *c)
{
    struct rules_guard g;
    const struct rules *r = rules_store_get(&a->keeper->store, &g);
    enum MHD_Result ret;

    if (r == NULL) {
        rules_store_put(&a->keeper->store, &g);
        static const char none[] = "{\"status\": \"no_rules\", \"version\": 0}\n";
        return admin_http_answer(c, 404, "application/json", none, sizeof(none) - 1);
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(r->source_len, r->source,
                                                                MHD_RESPMEM_MUST_COPY);
    if (resp == NULL) {
        rules_store_put(&a->keeper->store, &g);
        return MHD_NO;
    }
    char version[32];
    snprintf(version, sizeof(version), "%llu", (unsigned long long)r->version);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    MHD_add_response_header(resp, RULES_SIGN_HEADER, r->signature);
    MHD_add_response_header(resp, "X-Unitroute-Version", version);
    rules_store_put(&a->keeper->store, &g);
    ret = MHD_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result admin_http_get_status(struct admin_http *a, struct MHD_Connection *c)
{
    struct strbuf out;

    strbuf_init(&out);
    strbuf_puts(&out, "{\"component\": ");
    strbuf_json_string(&out, a->component);
    strbuf_puts(&out, ", \"unit\": ");
    strbuf_json_string(&out, a->unit);
    strbuf_printf(&out, ", \"rule_version\": %llu",
                  (unsigned long long)rules_store_version(&a->keeper->store));
    if (a->hooks && a->hooks->status_json)
        a->hooks->status_json(a->hooks->ctx, &out);
    strbuf_puts(&out, "}");
    enum MHD_Result ret = admin_http_json(c, 200, &out);
    strbuf_deinit(&out);
    return ret;
}

static enum MHD_Result admin_http_get_metrics(struct admin_http *a, struct MHD_Connection *c)
{
    struct strbuf out;

    strbuf_init(&out);
    strbuf_printf(&out, "# HELP unitroute_rule_version Version of the rule set in force.\n"
                        "# TYPE unitroute_rule_version gauge\n"
                        "unitroute_rule_version{component=\"%s\",unit=\"%s\"} %llu\n",
                  a->component, a->unit,
                  (unsigned long long)rules_store_version(&a->keeper->store));
    strbuf_puts(&out, "# HELP unitroute_rule_pushes_total Rule pushes received, by outcome.\n"
                      "# TYPE unitroute_rule_pushes_total counter\n");
    for (int st = 0; st <= RULES_ACCEPT_IO_ERROR; st++)
        strbuf_printf(&out, "unitroute_rule_pushes_total{component=\"%s\",outcome=\"%s\"} %lu\n",
                      a->component, rules_accept_status_name((enum rules_accept_status)st),
                      atomic_load(&a->pushes_by_status[st]));
    strbuf_printf(&out, "unitroute_rule_pushes_total{component=\"%s\",outcome=\"not_acknowledged\"} %lu\n",
                  a->component, atomic_load(&a->pushes_failed_hook));
    if (a->hooks && a->hooks->metrics)
        a->hooks->metrics(a->hooks->ctx, &out);
    if (out.failed) {
        strbuf_deinit(&out);
        return admin_http_answer(c, 500, NULL, "out of memory\n", 14);
    }
    enum MHD_Result ret = admin_http_answer(c, 200, "text/plain; version=0.0.4", out.buf, out.len);
    strbuf_deinit(&out);
    return ret;
}

static enum MHD_Result admin_http_route(struct admin_http *a, struct MHD_Connection *c,
                                        const char *url, const char *method,
                                        struct http_body *req)
{
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;

    if (strcmp(url, "/v1/rules") == 0 && strcmp(method, "PUT") == 0)
        return admin_http_put_rules(a, c, req);
    if (strcmp(url, "/v1/rules") == 0 && get)
        return admin_http_get_rules(a, c);
    if (strcmp(url, "/v1/status") == 0 && get)
        return admin_http_get_status(a, c);
    if (strcmp(url, "/metrics") == 0 && get)
        return admin_http_get_metrics(a, c);
    if (strcmp(url, "/healthz") == 0 && get) {
        if (rules_store_version(&a->keeper->store) == 0)
            return admin_http_answer(c, 503, NULL, "no rules\n", 9);
        return admin_http_answer(c, 200, NULL, "ok\n", 3);
    }
    static const char nf[] = "{\"error\": \"no such endpoint: PUT /v1/rules, GET /v1/rules, "
                             "/v1/status, /metrics, /healthz\"}\n";
    return admin_http_answer(c, 404, "application/json", nf, sizeof(nf) - 1);
}

static enum MHD_Result admin_http_handler(void *cls, struct MHD_Connection *c, const char *url,
                                          const char *method, const char *version,
                                          const char *upload_data, size_t *upload_data_size,
                                          void **con_cls)
{
    struct admin_http *a = cls;
    struct http_body *req = *con_cls;

    (void)version;
    if (req == NULL) {
        *con_cls = http_body_create(RULES_BODY_MAX);
        return *con_cls != NULL ? MHD_YES : MHD_NO;
    }
    if (http_body_take(req, upload_data, upload_data_size))
        return MHD_YES;
    return admin_http_route(a, c, url, method, req);
}

static void admin_http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                                 enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    http_body_destroy(*con_cls);
    *con_cls = NULL;
}

struct admin_http *admin_http_start(const struct admin_http_config *cfg,
                                    struct rules_keeper *k,
                                    const struct admin_http_hooks *hooks,
                                    char *err, size_t errlen)
{
    struct sockaddr_in sa;
    struct admin_http *a;

    if (admin_http_parse_addr(cfg->listen, &sa) < 0) {
        snprintf(err, errlen, "admin listen address \"%s\" is not host:port", cfg->listen);
        return NULL;
    }
    a = calloc(1, sizeof(*a));
    if (a == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->keeper = k;
    a->hooks = hooks;
    snprintf(a->component, sizeof(a->component), "%s", cfg->component);
    snprintf(a->unit, sizeof(a->unit), "%s", cfg->unit);
    a->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL,
        admin_http_handler, a,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_NOTIFY_COMPLETED, admin_http_completed, a,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1,
        MHD_OPTION_END);
    if (a->daemon == NULL) {
        snprintf(err, errlen, "admin listener on %s could not start (address in use?)",
                 cfg->listen);
        free(a);
        return NULL;
    }
    return a;
}

void admin_http_stop(struct admin_http *a)
{
    if (a == NULL)
        return;
    MHD_stop_daemon(a->daemon);
    free(a);
}
