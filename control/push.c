#include "push.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "router/rules_sign.h"
#include "router/strbuf.h"

/* One call in flight. */
struct push_call {
    CURL              *easy;
    struct strbuf      body;        /* the answer */
    uint64_t           version_hdr; /* X-Unitroute-Version, GET only */
    int                has_version_hdr;
    uint64_t           started;
    struct push_result *res;
};

int push_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

uint64_t push_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

size_t push_targets_from_topology(const struct topology *t, struct push_target *out,
                                  size_t max)
{
    size_t n = 0;

    for (size_t u = 0; u < t->nunits; u++) {
        const struct topology_unit *unit = &t->units[u];
        for (size_t i = 0; i < unit->ngateway_admin && n < max; i++, n++) {
            snprintf(out[n].addr, sizeof(out[n].addr), "%s", unit->gateway_admin[i]);
            snprintf(out[n].unit, sizeof(out[n].unit), "%s", unit->name);
            snprintf(out[n].kind, sizeof(out[n].kind), "gateway");
        }
        for (size_t i = 0; i < unit->nproxy_admin && n < max; i++, n++) {
            snprintf(out[n].addr, sizeof(out[n].addr), "%s", unit->proxy_admin[i]);
            snprintf(out[n].unit, sizeof(out[n].unit), "%s", unit->name);
            snprintf(out[n].kind, sizeof(out[n].kind), "proxy");
        }
    }
    return n;
}

static size_t push_write_cb(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct push_call *c = ctx;
    size_t len = size * nmemb;

    if (c->body.len + len > 64 * 1024)
        return 0; /* an admin answer is small; refuse a flood */
    strbuf_append(&c->body, data, len);
    return len;
}

static size_t push_header_cb(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct push_call *c = ctx;
    size_t len = size * nmemb;
    static const char name[] = "X-Unitroute-Version:";

    if (len > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0) {
        c->version_hdr = strtoull(data + sizeof(name) - 1, NULL, 10);
        c->has_version_hdr = 1;
    }
    return len;
}

/* Copy the JSON string member key of text into out ("" if absent). */
static void push_json_string(const char *text, const char *key, char *out, size_t outlen)
{
    char pat[64];
    size_t n = 0;

    out[0] = '\0';
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = strstr(text, pat);
    if (p == NULL)
        return;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    if (*p++ != '"')
        return;
    for (; *p != '\0' && *p != '"' && n + 1 < outlen; p++) {
        if (*p == '\\' && p[1] != '\0')
            p++;
        out[n++] = *p;
    }
    out[n] = '\0';
}

static uint64_t push_json_u64(const char *text, const char *key)
{
    char pat[64];

    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = strstr(text, pat);
    return p ? strtoull(p + strlen(pat), NULL, 10) : 0;
}

static int push_call_setup(struct push_call *c, const struct push_target *t,
                           const char *method, long timeout_ms, struct curl_slist *hdrs,
                           const char *body, size_t len)
{
    char url[TOPOLOGY_ADDR_MAX + 32];

    strbuf_init(&c->body);
    c->easy = curl_easy_init();
    if (c->easy == NULL)
        return -1;
    snprintf(url, sizeof(url), "http://%s/v1/rules", t->addr);
    curl_easy_setopt(c->easy, CURLOPT_URL, url);
    curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 2000 ? timeout_ms : 2000);
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, push_write_cb);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->easy, CURLOPT_HEADERFUNCTION, push_header_cb);
    curl_easy_setopt(c->easy, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
    curl_easy_setopt(c->easy, CURLOPT_PROXY, "");
    if (strcmp(method, "PUT") == 0) {
        curl_easy_setopt(c->easy, CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, hdrs);
    }
    c->started = push_now_ms();
    return 0;
}

/* Fill c->res from a finished transfer. */
static void push_call_finish(struct push_call *c, CURLcode code, int is_put)
{
    struct push_result *r = c->res;
    long status = 0;

    r->ms = push_now_ms() - c->started;
    if (code != CURLE_OK) {
        r->http_status = 0;
        snprintf(r->status, sizeof(r->status), "%s",
                 code == CURLE_OPERATION_TIMEDOUT ? "timeout" : "unreachable");
        snprintf(r->error, sizeof(r->error), "%s", curl_easy_strerror(code));
        return;
    }
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
    r->http_status = (int)status;
    const char *text = c->body.buf ? c->body.buf : "";
    if (is_put) {
        push_json_string(text, "status", r->status, sizeof(r->status));
        push_json_string(text, "error", r->error, sizeof(r->error));
        r->version = push_json_u64(text, "version");
    } else if (status == 200 && c->has_version_hdr) {
        r->version = c->version_hdr;
        snprintf(r->status, sizeof(r->status), "ok");
    } else if (status == 404) {
        r->version = 0;
        snprintf(r->status, sizeof(r->status), "no_rules");
    } else {
        snprintf(r->status, sizeof(r->status), "http_%ld", status);
    }
    if (r->status[0] == '\0')
        snprintf(r->status, sizeof(r->status), "http_%ld", status);
}

static void push_run(const struct push_target *targets, size_t n, const char *method,
                     const char *body, size_t len, const char *sig_hex, long timeout_ms,
                     struct push_result *res, const unsigned char *skip)
{
    struct push_call *calls = calloc(n ? n : 1, sizeof(*calls));
    struct curl_slist *hdrs = NULL;
    char sig_line[RULES_SIGN_HEX_LEN + 64];
    CURLM *multi = curl_multi_init();
    int is_put = strcmp(method, "PUT") == 0;

    if (is_put) {
        snprintf(sig_line, sizeof(sig_line), "%s: %s", RULES_SIGN_HEADER, sig_hex);
        hdrs = curl_slist_append(hdrs, sig_line);
        hdrs = curl_slist_append(hdrs, "Content-Type: text/plain");
        hdrs = curl_slist_append(hdrs, "Expect:");
    }
    for (size_t i = 0; i < n; i++) {
        if (skip != NULL && skip[i])
            continue;
        memset(&res[i], 0, sizeof(res[i]));
        if (calls == NULL || multi == NULL ||
            (calls[i].res = &res[i],
             push_call_setup(&calls[i], &targets[i], method, timeout_ms, hdrs, body, len)) < 0) {
            snprintf(res[i].status, sizeof(res[i].status), "error");
            snprintf(res[i].error, sizeof(res[i].error), "out of memory");
            continue;
        }
        curl_multi_add_handle(multi, calls[i].easy);
    }
    int running = 1;
    while (multi != NULL && running > 0) {
        curl_multi_perform(multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            struct push_call *c;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
            push_call_finish(c, m->data.result, is_put);
        }
        if (running > 0)
            curl_multi_poll(multi, NULL, 0, 100, NULL);
    }
    for (size_t i = 0; calls != NULL && i < n; i++) {
        if (calls[i].easy != NULL) {
            curl_multi_remove_handle(multi, calls[i].easy);
            curl_easy_cleanup(calls[i].easy);
        }
        strbuf_deinit(&calls[i].body);
    }
    curl_slist_free_all(hdrs);
    if (multi != NULL)
        curl_multi_cleanup(multi);
    free(calls);
}

void push_rules(const struct push_target *targets, size_t n, const char *body, size_t len,
                const char *sig_hex, long timeout_ms, struct push_result *res)
{
    push_run(targets, n, "PUT", body, len, sig_hex, timeout_ms, res, NULL);
    for (size_t i = 0; i < n; i++)
        if (res[i].http_status == 200)
            res[i].acked_at = push_now_ms();
}

int push_result_acked(const struct push_result *r, uint64_t version)
{
    return r->http_status == 200 && r->version == version;
}

size_t push_until_acked(const struct push_target *targets, size_t n, const char *body,
                        size_t len, const char *sig_hex, uint64_t version,
                        uint64_t deadline, long call_timeout_ms, long retry_ms,
                        atomic_int *stop, struct push_result *res)
{
    unsigned char done[PUSH_TARGETS_MAX] = { 0 };
    struct push_result round[PUSH_TARGETS_MAX];
    size_t acked = 0;

    if (n > PUSH_TARGETS_MAX)
        n = PUSH_TARGETS_MAX;
    memset(res, 0, n * sizeof(*res));
    for (;;) {
        uint64_t now = push_now_ms();
        long left = deadline > now ? (long)(deadline - now) : 1;
        push_run(targets, n, "PUT", body, len, sig_hex,
                 left < call_timeout_ms ? left : call_timeout_ms, round, done);
        uint64_t at = push_now_ms();
        for (size_t i = 0; i < n; i++) {
            if (done[i])
                continue;
            res[i] = round[i];
            if (push_result_acked(&round[i], version)) {
                res[i].acked_at = at;
                done[i] = 1;
                acked++;
            }
        }
        if (acked == n || push_now_ms() >= deadline || (stop != NULL && atomic_load(stop)))
            return acked;
        uint64_t wake = push_now_ms() + (uint64_t)retry_ms;
        while (push_now_ms() < wake && push_now_ms() < deadline &&
               !(stop != NULL && atomic_load(stop))) {
            struct timespec ts = { 0, 20 * 1000000L };
            nanosleep(&ts, NULL);
        }
        if (stop != NULL && atomic_load(stop))
            return acked;
    }
}

void push_poll_versions(const struct push_target *targets, size_t n, long timeout_ms,
                        struct push_result *res)
{
    push_run(targets, n, "GET", NULL, 0, NULL, timeout_ms, res, NULL);
}
