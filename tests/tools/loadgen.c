/*
 * loadgen: the load generator and the invariant checker of the demo and of
 * the invariant tests.
 *
 * loadgen run: one thread, libcurl multi, --concurrency transfers at once.
 *
 *     slot IDLE --new order (next id, random buyer, random gateway)--> RUNNING
 *     RUNNING --2xx--> ack line in --acks, IDLE
 *     RUNNING --503 (or refused connection) and retry allowed--> WAITING
 *     WAITING --after --retry-delay-ms, same order id, any gateway--> RUNNING
 *     RUNNING --anything else--> counted by kind, order failed, IDLE
 *
 *   New orders start until --duration or --max-requests; retries until
 *   --duration + --grace-ms; every transfer has --timeout-ms. Then the run
 *   stops by itself and prints a summary whose last line is machine-readable.
 *
 * loadgen check: the acknowledged orders against every database.
 *
 *     acks files --> sorted (order id, buyer)
 *     databases  --> wait until each has applied every other one's own GTID
 *                    domain (MASTER_GTID_WAIT), then load every order row
 *     findings   --> lost (acked, missing), duplicate (id twice), mismatched
 *                    (row's buyer is not the ack's), divergent (databases
 *                    differ), misplaced (a buyer's rows, by created, go back
 *                    to a unit they left, move too often, or do not match
 *                    the homes of --rules-before / --rules-after)
 *
 *   Exit status: 0 all findings zero, 1 some finding, 2 could not check.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <mysql.h>

#include "router/rules.h"
#include "router/topology.h"

#define LG_GATEWAYS_MAX   16
#define LG_DBS_MAX        9
#define LG_ACK_FILES_MAX  16
#define LG_KINDS_MAX      64
#define LG_NAME_MAX       48
#define LG_UNIT_MAX       33
#define LG_EXAMPLES       5
#define LG_EXAMPLE_LEN    200
#define LG_URL_MAX        512

static int64_t lg_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t lg_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Parses a decimal in [min, max]; 0, or -1 if invalid. */
static int lg_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Reads the first line of path into out; 0, or -1 (reported on stderr). */
static int lg_read_password(const char *path, char *out, size_t outlen)
{
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        fprintf(stderr, "loadgen: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fgets(out, (int)outlen, f) == NULL)
        out[0] = '\0';
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

/* ---- named counters (errors by kind, requests by unit) -------------------- */

struct lg_counter {
    char     name[LG_NAME_MAX];
    uint64_t count;
};

struct lg_counters {
    struct lg_counter item[LG_KINDS_MAX];
    size_t            n;
};

static void lg_counters_add(struct lg_counters *c, const char *name)
{
    size_t i;

    for (i = 0; i < c->n; i++)
        if (strcmp(c->item[i].name, name) == 0)
            break;
    if (i == c->n) {
        if (c->n == LG_KINDS_MAX) {
            i = LG_KINDS_MAX - 1;   /* the last one collects the rest */
            snprintf(c->item[i].name, LG_NAME_MAX, "other");
        } else {
            snprintf(c->item[c->n++].name, LG_NAME_MAX, "%s", name);
        }
    }
    c->item[i].count++;
}

static uint64_t lg_counters_total(const struct lg_counters *c)
{
    uint64_t total = 0;

    for (size_t i = 0; i < c->n; i++)
        total += c->item[i].count;
    return total;
}

static void lg_counters_print(const struct lg_counters *c, const char *indent)
{
    for (size_t i = 0; i < c->n; i++)
        printf("%s%-28s %" PRIu64 "\n", indent, c->item[i].name, c->item[i].count);
    if (c->n == 0)
        printf("%s(none)\n", indent);
}

/* "name:count,name:count" (or "-") for the machine-readable line */
static void lg_counters_print_flat(const struct lg_counters *c)
{
    for (size_t i = 0; i < c->n; i++)
        printf("%s%s:%" PRIu64, i ? "," : "", c->item[i].name, c->item[i].count);
    if (c->n == 0)
        printf("-");
}

/* ==== loadgen run =========================================================== */

struct lg_run_config {
    const char *gateways[LG_GATEWAYS_MAX];  /* base URLs, no trailing slash */
    size_t      ngateways;
    uint64_t    buyers;             /* buyers are buyer_base .. +buyers-1 */
    uint64_t    buyer_base;
    uint64_t    order_base;         /* order ids are order_base + sequence */
    uint64_t    concurrency;
    double      duration_s;
    uint64_t    max_orders;         /* --max-requests */
    const char *acks_path;
    uint64_t    timeout_ms;
    uint64_t    retry_delay_ms;
    uint64_t    max_retries;
    uint64_t    grace_ms;           /* retries may go on this long after duration */
    uint64_t    seed;
    bool        retry_503;
    bool        retry_connect;
    bool        follow;
};

enum lg_slot_state { LG_SLOT_IDLE, LG_SLOT_RUNNING, LG_SLOT_WAITING };

struct lg_slot {
    CURL               *easy;
    struct curl_slist  *headers;    /* this attempt's request headers */
    enum lg_slot_state  state;
    uint64_t            order_id;
    uint64_t            buyer;
    size_t              gateway;    /* index into gateways */
    uint64_t            attempts;
    int64_t             started_us; /* this attempt */
    int64_t             due_us;     /* WAITING: when to retry */
    char                url[LG_URL_MAX];
    char                unit[LG_UNIT_MAX];       /* X-Unit (or X-Order-Unit) */
    char                db_errno[16];            /* X-Db-Errno */
    bool                unit_from_gateway;       /* unit came from X-Unit */
};

struct lg_run {
    const struct lg_run_config *cfg;
    CURLM          *multi;
    struct lg_slot *slots;
    FILE           *acks;
    uint64_t        rng;
    uint64_t        next_seq;
    int64_t         start_us, deadline_us, hard_stop_us;
    uint64_t        orders, requests, acked, failed, retries;
    struct lg_counters errors;      /* every non-2xx response or failed transfer */
    struct lg_counters units;       /* every response, by serving unit */
    uint32_t       *latency_us;     /* every request */
    size_t          nlatency, caplatency;
};

static uint64_t lg_random(struct lg_run *r)
{
    r->rng ^= r->rng << 13;     /* xorshift64 */
    r->rng ^= r->rng >> 7;
    r->rng ^= r->rng << 17;
    return r->rng;
}

static void lg_record_latency(struct lg_run *r, int64_t us)
{
    if (r->nlatency == r->caplatency) {
        size_t cap = r->caplatency ? r->caplatency * 2 : 4096;
        uint32_t *p = realloc(r->latency_us, cap * sizeof(*p));
        if (p == NULL)
            return;     /* the figure gets less precise, nothing else */
        r->latency_us = p;
        r->caplatency = cap;
    }
    r->latency_us[r->nlatency++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* Copies a header's value (trimmed) into out if line is "name: value". */
static bool lg_header_value(const char *line, size_t len, const char *name, char *out,
                            size_t outlen)
{
    size_t n = strlen(name);

    if (len <= n || line[n] != ':' || strncasecmp(line, name, n) != 0)
        return false;
    line += n + 1;
    len -= n + 1;
    while (len > 0 && (*line == ' ' || *line == '\t'))
        line++, len--;
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' '))
        len--;
    if (len >= outlen)
        len = outlen - 1;
    memcpy(out, line, len);
    out[len] = '\0';
    return true;
}

static size_t lg_on_header(char *line, size_t size, size_t nitems, void *userdata)
{
    struct lg_slot *s = userdata;
    size_t len = size * nitems;
    char unit[LG_UNIT_MAX];

    if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {   /* a new response (redirects) */
        s->unit[0] = s->db_errno[0] = '\0';
        s->unit_from_gateway = false;
    } else if (lg_header_value(line, len, "X-Unit", s->unit, sizeof(s->unit))) {
        s->unit_from_gateway = true;
    } else if (lg_header_value(line, len, "X-Order-Unit", unit, sizeof(unit))) {
        if (!s->unit_from_gateway)
            memcpy(s->unit, unit, sizeof(unit));
    } else {
        lg_header_value(line, len, "X-Db-Errno", s->db_errno, sizeof(s->db_errno));
    }
    return len;
}

static size_t lg_on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    (void)data;
    (void)userdata;
    return size * nmemb;    /* the status and headers say all we count */
}

static int lg_slot_setup(struct lg_run *r, struct lg_slot *s)
{
    s->easy = curl_easy_init();
    if (s->easy == NULL)
        return -1;
    curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
    curl_easy_setopt(s->easy, CURLOPT_HEADERFUNCTION, lg_on_header);
    curl_easy_setopt(s->easy, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, lg_on_body);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, 0L);
    curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, (long)r->cfg->timeout_ms);
    curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(r->cfg->timeout_ms < 2000 ? r->cfg->timeout_ms : 2000));
    curl_easy_setopt(s->easy, CURLOPT_FOLLOWLOCATION, r->cfg->follow ? 1L : 0L);
    curl_easy_setopt(s->easy, CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
    return 0;
}

/* Starts the slot's current order on a random gateway. 0, or -1. */
static int lg_slot_start(struct lg_run *r, struct lg_slot *s)
{
    char h[96];

    s->gateway = lg_random(r) % r->cfg->ngateways;
    snprintf(s->url, sizeof(s->url), "%s/orders", r->cfg->gateways[s->gateway]);
    curl_slist_free_all(s->headers);
    s->headers = NULL;
    snprintf(h, sizeof(h), "X-Buyer-Id: %" PRIu64, s->buyer);
    s->headers = curl_slist_append(s->headers, h);
    snprintf(h, sizeof(h), "X-Order-Id: %" PRIu64, s->order_id);
    s->headers = curl_slist_append(s->headers, h);
    snprintf(h, sizeof(h), "X-Amount: %" PRIu64, s->order_id % 1000);
    s->headers = curl_slist_append(s->headers, h);
    if (s->headers == NULL)
        return -1;
    curl_easy_setopt(s->easy, CURLOPT_URL, s->url);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->headers);
    s->unit[0] = s->db_errno[0] = '\0';
    s->unit_from_gateway = false;
    s->attempts++;
    s->started_us = lg_now_us();
    s->state = LG_SLOT_RUNNING;
    r->requests++;
    return curl_multi_add_handle(r->multi, s->easy) == CURLM_OK ? 0 : -1;
}

static bool lg_may_start_order(const struct lg_run *r, int64_t now)
{
    return now < r->deadline_us && r->orders < r->cfg->max_orders;
}

static int lg_slot_start_order(struct lg_run *r, struct lg_slot *s)
{
    s->order_id = r->cfg->order_base + r->next_seq++;
    s->buyer = r->cfg->buyer_base + lg_random(r) % r->cfg->buyers;
    s->attempts = 0;
    r->orders++;
    return lg_slot_start(r, s);
}

static void lg_record_ack(struct lg_run *r, const struct lg_slot *s, int64_t latency_us)
{
    r->acked++;
    fprintf(r->acks, "%" PRIu64 " %" PRIu64 " %s %s %" PRId64 " %" PRIu64 " %.3f\n",
            s->order_id, s->buyer, s->unit[0] ? s->unit : "-", r->cfg->gateways[s->gateway],
            lg_wall_ms(), s->attempts, latency_us / 1000.0);
}

/* The error kind of a finished transfer, "" if it was acknowledged. */
static void lg_kind_of(const struct lg_slot *s, CURLcode res, long status, char *kind,
                       size_t len)
{
    kind[0] = '\0';
    if (res == CURLE_COULDNT_CONNECT)
        snprintf(kind, len, "connect");
    else if (res == CURLE_OPERATION_TIMEDOUT)
        snprintf(kind, len, "timeout");
    else if (res == CURLE_GOT_NOTHING || res == CURLE_RECV_ERROR || res == CURLE_SEND_ERROR)
        snprintf(kind, len, "connection-lost");
    else if (res != CURLE_OK)
        snprintf(kind, len, "curl-%d", (int)res);
    else if (status < 200 || status > 299)
        snprintf(kind, len, "http-%ld%s%s", status, s->db_errno[0] ? "/errno-" : "",
                 s->db_errno);
}

static bool lg_should_retry(const struct lg_run *r, const struct lg_slot *s, CURLcode res,
                            long status, int64_t now)
{
    const struct lg_run_config *cfg = r->cfg;
    bool retryable = (cfg->retry_503 && res == CURLE_OK && status == 503) ||
                     (cfg->retry_connect && res == CURLE_COULDNT_CONNECT);

    return retryable && s->attempts <= cfg->max_retries &&
           now + (int64_t)cfg->retry_delay_ms * 1000 < r->hard_stop_us;
}

static void lg_slot_finish(struct lg_run *r, struct lg_slot *s, CURLcode res)
{
    int64_t now = lg_now_us();
    long status = 0;
    char kind[LG_NAME_MAX];

    curl_multi_remove_handle(r->multi, s->easy);
    lg_record_latency(r, now - s->started_us);
    if (res == CURLE_OK) {
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
        lg_counters_add(&r->units, s->unit[0] ? s->unit : "-");
    }
    lg_kind_of(s, res, status, kind, sizeof(kind));
    s->state = LG_SLOT_IDLE;
    if (kind[0] == '\0') {
        lg_record_ack(r, s, now - s->started_us);
        return;
    }
    lg_counters_add(&r->errors, kind);
    if (lg_should_retry(r, s, res, status, now)) {
        r->retries++;
        s->state = LG_SLOT_WAITING;
        s->due_us = now + (int64_t)r->cfg->retry_delay_ms * 1000;
        return;
    }
    r->failed++;
}

static void lg_collect_done(struct lg_run *r)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(r->multi, &left)) != NULL) {
        struct lg_slot *s = NULL;
        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
        lg_slot_finish(r, s, msg->data.result);
    }
}

/*
 * Starts what is due: retries whose time came, new orders in idle slots.
 * Returns how many slots are busy (running or waiting), or -1 on a failure
 * to start a transfer.
 */
static int lg_fill_slots(struct lg_run *r, int64_t now, int64_t *next_due)
{
    int busy = 0;

    for (size_t i = 0; i < r->cfg->concurrency; i++) {
        struct lg_slot *s = &r->slots[i];
        if (s->state == LG_SLOT_WAITING && s->due_us <= now) {
            if (lg_slot_start(r, s) < 0)
                return -1;
        } else if (s->state == LG_SLOT_IDLE && lg_may_start_order(r, now)) {
            if (lg_slot_start_order(r, s) < 0)
                return -1;
        }
        if (s->state == LG_SLOT_WAITING && s->due_us < *next_due)
            *next_due = s->due_us;
        busy += s->state != LG_SLOT_IDLE;
    }
    return busy;
}

static int lg_run_loop(struct lg_run *r)
{
    for (;;) {
        int64_t now = lg_now_us(), next_due = now + 50000;
        int busy = lg_fill_slots(r, now, &next_due), running;
        if (busy < 0)
            return -1;
        if (busy == 0 && !lg_may_start_order(r, now))
            return 0;
        if (curl_multi_perform(r->multi, &running) != CURLM_OK)
            return -1;
        lg_collect_done(r);
        int wait_ms = (int)((next_due - now) / 1000);
        curl_multi_poll(r->multi, NULL, 0, wait_ms < 1 ? 1 : wait_ms, NULL);
    }
}

static int lg_compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return (x > y) - (x < y);
}

/* The q-quantile of the sorted latencies, in milliseconds. */
static double lg_quantile_ms(const struct lg_run *r, double q)
{
    if (r->nlatency == 0)
        return 0;
    size_t i = (size_t)(q * (double)(r->nlatency - 1) + 0.5);
    return r->latency_us[i] / 1000.0;
}

static void lg_run_summary(struct lg_run *r)
{
    const struct lg_run_config *cfg = r->cfg;
    double secs = (double)(lg_now_us() - r->start_us) / 1e6;
    double rps = secs > 0 ? (double)r->requests / secs : 0;

    qsort(r->latency_us, r->nlatency, sizeof(uint32_t), lg_compare_u32);
    printf("loadgen run: %.2f s, %zu gateway(s), %" PRIu64 " concurrent, buyers %" PRIu64
           "..%" PRIu64 "\n", secs, cfg->ngateways, cfg->concurrency, cfg->buyer_base,
           cfg->buyer_base + cfg->buyers - 1);
    printf("  orders     %" PRIu64 " (%" PRIu64 " acknowledged, %" PRIu64 " failed)\n",
           r->orders, r->acked, r->failed);
    printf("  requests   %" PRIu64 " (%" PRIu64 " retries), %.1f/s\n", r->requests,
           r->retries, rps);
    printf("  latency    p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", lg_quantile_ms(r, 0.5),
           lg_quantile_ms(r, 0.99), lg_quantile_ms(r, 1.0));
    printf("  errors by kind (%" PRIu64 " responses or transfers):\n",
           lg_counters_total(&r->errors));
    lg_counters_print(&r->errors, "    ");
    printf("  requests per serving unit (X-Unit):\n");
    lg_counters_print(&r->units, "    ");
    printf("  acknowledged orders written to %s\n", cfg->acks_path);
    printf("loadgen-result orders=%" PRIu64 " acks=%" PRIu64 " failed=%" PRIu64
           " requests=%" PRIu64 " retries=%" PRIu64 " errors=%" PRIu64
           " seconds=%.2f rps=%.1f p50_ms=%.2f p99_ms=%.2f units=", r->orders, r->acked,
           r->failed, r->requests, r->retries, lg_counters_total(&r->errors), secs, rps,
           lg_quantile_ms(r, 0.5), lg_quantile_ms(r, 0.99));
    lg_counters_print_flat(&r->units);
    printf(" kinds=");
    lg_counters_print_flat(&r->errors);
    printf("\n");
}

static void lg_run_deinit(struct lg_run *r)
{
    for (size_t i = 0; r->slots != NULL && i < r->cfg->concurrency; i++) {
        struct lg_slot *s = &r->slots[i];
        if (s->easy != NULL) {
            curl_multi_remove_handle(r->multi, s->easy);
            curl_easy_cleanup(s->easy);
        }
        curl_slist_free_all(s->headers);
    }
    free(r->slots);
    free(r->latency_us);
    if (r->multi != NULL)
        curl_multi_cleanup(r->multi);
    if (r->acks != NULL)
        fclose(r->acks);
}

static int lg_run_init(struct lg_run *r, const struct lg_run_config *cfg)
{
    memset(r, 0, sizeof(*r));
    r->cfg = cfg;
    r->rng = cfg->seed ? cfg->seed : 0x9E3779B97F4A7C15ull;
    r->acks = fopen(cfg->acks_path, "w");
    if (r->acks == NULL) {
        fprintf(stderr, "loadgen: cannot write %s: %s\n", cfg->acks_path, strerror(errno));
        return -1;
    }
    fprintf(r->acks, "# order_id buyer_id x_unit gateway unix_ms attempts latency_ms\n");
    r->multi = curl_multi_init();
    r->slots = calloc(cfg->concurrency, sizeof(*r->slots));
    if (r->multi == NULL || r->slots == NULL)
        return -1;
    curl_multi_setopt(r->multi, CURLMOPT_MAXCONNECTS, (long)cfg->concurrency * 2);
    for (size_t i = 0; i < cfg->concurrency; i++)
        if (lg_slot_setup(r, &r->slots[i]) < 0)
            return -1;
    return 0;
}

static int lg_run_main(const struct lg_run_config *cfg)
{
    struct lg_run r;
    int rc = 2;

    if (lg_run_init(&r, cfg) < 0)
        goto out;
    r.start_us = lg_now_us();
    r.deadline_us = r.start_us + (int64_t)(cfg->duration_s * 1e6);
    r.hard_stop_us = r.deadline_us + (int64_t)cfg->grace_ms * 1000;
    if (lg_run_loop(&r) < 0) {
        fprintf(stderr, "loadgen: the transfer loop failed (out of memory?)\n");
        goto out;
    }
    if (fflush(r.acks) != 0 || ferror(r.acks)) {
        fprintf(stderr, "loadgen: writing %s failed\n", cfg->acks_path);
        goto out;
    }
    lg_run_summary(&r);
    rc = 0;
out:
    lg_run_deinit(&r);
    return rc;
}

static void lg_run_usage(FILE *out)
{
    fprintf(out,
        "usage: loadgen run --gateway URL [--gateway URL]... --buyers N --buyer-base B\n"
        "                   --concurrency C --duration SECONDS [--max-requests M]\n"
        "                   --order-base ID --acks FILE [--timeout-ms T] [--retry-503]\n"
        "                   [--retry-connect] [--max-retries R] [--retry-delay-ms D]\n"
        "                   [--grace-ms G] [--follow] [--seed S]\n"
        "  POST URL/orders with X-Buyer-Id (random in B..B+N-1), X-Order-Id (ID + sequence)\n"
        "  and X-Amount, each through a random gateway, C at a time. New orders start\n"
        "  until SECONDS or M orders (default 1000000); a retry (same order id, 503 with\n"
        "  --retry-503, refused connection with --retry-connect) waits D ms (default 100),\n"
        "  at most R times (default 50), until G ms (default 3000) after SECONDS.\n"
        "  Defaults: --timeout-ms 5000. Redirects are followed only with --follow.\n"
        "  Every 2xx is a line in FILE: order_id buyer_id x_unit gateway unix_ms attempts\n"
        "  latency_ms. The last line printed is 'loadgen-result key=value ...'.\n");
}

/* Accepts a duration in seconds, fractions allowed, (0, 3600]. */
static int lg_parse_seconds(const char *s, double *out)
{
    char *end;

    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v > 0 && v <= 3600))
        return -1;
    *out = v;
    return 0;
}

static int lg_run_check_config(struct lg_run_config *cfg, bool have_order_base)
{
    if (cfg->ngateways == 0 || cfg->buyers == 0 || cfg->concurrency == 0 ||
        cfg->duration_s <= 0 || cfg->acks_path == NULL || !have_order_base) {
        fprintf(stderr, "loadgen run: --gateway, --buyers, --concurrency, --duration, "
                        "--order-base and --acks are required\n");
        return -1;
    }
    for (size_t i = 0; i < cfg->ngateways; i++) {
        size_t n = strlen(cfg->gateways[i]);
        if (n == 0 || n > LG_URL_MAX - 16 || cfg->gateways[i][n - 1] == '/') {
            fprintf(stderr, "loadgen run: gateway URL \"%s\" is empty, too long or ends "
                            "with '/'\n", cfg->gateways[i]);
            return -1;
        }
    }
    if (cfg->seed == 0)
        cfg->seed = ((uint64_t)lg_now_us() << 16) ^ (uint64_t)getpid();
    return 0;
}

/* 0 = run, 1 = help printed, -1 = bad arguments (reported). */
static int lg_run_parse(int argc, char **argv, struct lg_run_config *cfg)
{
    static const struct option opts[] = {
        { "gateway", required_argument, NULL, 'g' },
        { "buyers", required_argument, NULL, 'n' },
        { "buyer-base", required_argument, NULL, 'b' },
        { "concurrency", required_argument, NULL, 'c' },
        { "duration", required_argument, NULL, 'd' },
        { "max-requests", required_argument, NULL, 'm' },
        { "order-base", required_argument, NULL, 'o' },
        { "acks", required_argument, NULL, 'a' },
        { "timeout-ms", required_argument, NULL, 't' },
        { "retry-503", no_argument, NULL, 'r' },
        { "retry-connect", no_argument, NULL, 'C' },
        { "max-retries", required_argument, NULL, 'R' },
        { "retry-delay-ms", required_argument, NULL, 'D' },
        { "grace-ms", required_argument, NULL, 'G' },
        { "follow", no_argument, NULL, 'f' },
        { "seed", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    bool have_order_base = false;
    int ch;

    memset(cfg, 0, sizeof(*cfg));
    cfg->max_orders = 1000000;
    cfg->timeout_ms = 5000;
    cfg->retry_delay_ms = 100;
    cfg->max_retries = 50;
    cfg->grace_ms = 3000;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int bad = 0;
        switch (ch) {
        case 'g': bad = cfg->ngateways == LG_GATEWAYS_MAX;
                  if (!bad)
                      cfg->gateways[cfg->ngateways++] = optarg;
                  break;
        case 'n': bad = lg_parse_u64(optarg, 1, 1000000000, &cfg->buyers); break;
        case 'b': bad = lg_parse_u64(optarg, 0, INT64_MAX / 2, &cfg->buyer_base); break;
        case 'c': bad = lg_parse_u64(optarg, 1, 1000, &cfg->concurrency); break;
        case 'd': bad = lg_parse_seconds(optarg, &cfg->duration_s); break;
        case 'm': bad = lg_parse_u64(optarg, 1, 100000000, &cfg->max_orders); break;
        case 'o': bad = lg_parse_u64(optarg, 1, INT64_MAX / 2, &cfg->order_base);
                  have_order_base = !bad; break;
        case 'a': cfg->acks_path = optarg; break;
        case 't': bad = lg_parse_u64(optarg, 1, 600000, &cfg->timeout_ms); break;
        case 'r': cfg->retry_503 = true; break;
        case 'C': cfg->retry_connect = true; break;
        case 'R': bad = lg_parse_u64(optarg, 0, 10000, &cfg->max_retries); break;
        case 'D': bad = lg_parse_u64(optarg, 0, 60000, &cfg->retry_delay_ms); break;
        case 'G': bad = lg_parse_u64(optarg, 0, 600000, &cfg->grace_ms); break;
        case 'f': cfg->follow = true; break;
        case 's': bad = lg_parse_u64(optarg, 1, UINT64_MAX, &cfg->seed); break;
        case 'h': lg_run_usage(stdout); return 1;
        default:  lg_run_usage(stderr); return -1;
        }
        if (bad) {
            fprintf(stderr, "loadgen run: bad value \"%s\"\n", optarg);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "loadgen run: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    return lg_run_check_config(cfg, have_order_base);
}

/* ==== loadgen check ========================================================= */

struct lg_ack {
    int64_t order_id;
    int64_t buyer;
};

struct lg_row {
    int64_t id;
    int64_t buyer;
    int64_t created_us;
    char    unit[LG_UNIT_MAX];
};

struct lg_db {
    char           name[LG_NAME_MAX];
    char           host[256];
    unsigned       port;
    MYSQL         *conn;
    struct lg_row *rows;            /* sorted by id */
    size_t         nrows;
};

struct lg_finding {
    uint64_t count;
    char     example[LG_EXAMPLES][LG_EXAMPLE_LEN];
};

struct lg_check_config {
    const char *ack_paths[LG_ACK_FILES_MAX];
    size_t      nack_paths;
    struct lg_db dbs[LG_DBS_MAX];
    size_t      ndbs;
    const char *user;
    char        password[256];
    uint64_t    wait_s;
    uint64_t    max_moves;          /* unit changes allowed per buyer */
    const char *rules_before, *rules_after, *topology;
};

struct lg_check {
    struct lg_check_config *cfg;
    struct lg_ack    *acks;         /* sorted by order id, unique */
    size_t            nacks;
    struct rules     *before, *after;
    struct lg_finding lost, duplicate, mismatched, divergent, misplaced;
};

static void lg_finding_add(struct lg_finding *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void lg_finding_add(struct lg_finding *f, const char *fmt, ...)
{
    va_list ap;

    if (f->count < LG_EXAMPLES) {
        va_start(ap, fmt);
        vsnprintf(f->example[f->count], LG_EXAMPLE_LEN, fmt, ap);
        va_end(ap);
    }
    f->count++;
}

/* ---- the acknowledged orders ---- */

static int lg_compare_ack(const void *a, const void *b)
{
    const struct lg_ack *x = a, *y = b;

    if (x->order_id != y->order_id)
        return (x->order_id > y->order_id) - (x->order_id < y->order_id);
    return (x->buyer > y->buyer) - (x->buyer < y->buyer);
}

static int lg_acks_append(struct lg_check *c, size_t *cap, int64_t order, int64_t buyer)
{
    if (c->nacks == *cap) {
        size_t n = *cap ? *cap * 2 : 4096;
        struct lg_ack *p = realloc(c->acks, n * sizeof(*p));
        if (p == NULL)
            return -1;
        c->acks = p;
        *cap = n;
    }
    c->acks[c->nacks].order_id = order;
    c->acks[c->nacks++].buyer = buyer;
    return 0;
}

static int lg_acks_read(struct lg_check *c, const char *path, size_t *cap)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    unsigned lineno = 0;
    long long order, buyer;

    if (f == NULL) {
        fprintf(stderr, "loadgen check: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (sscanf(line, "%lld %lld", &order, &buyer) != 2 ||
            lg_acks_append(c, cap, order, buyer) < 0) {
            fprintf(stderr, "loadgen check: %s:%u: not \"order_id buyer_id ...\"\n", path,
                    lineno);
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

/* Sorts, drops exact repeats; one id acked for two buyers is a mismatch. */
static void lg_acks_normalize(struct lg_check *c)
{
    size_t out = 0;

    qsort(c->acks, c->nacks, sizeof(*c->acks), lg_compare_ack);
    for (size_t i = 0; i < c->nacks; i++) {
        if (out > 0 && c->acks[out - 1].order_id == c->acks[i].order_id) {
            if (c->acks[out - 1].buyer != c->acks[i].buyer)
                lg_finding_add(&c->mismatched, "order %" PRId64 " acknowledged for buyers %"
                               PRId64 " and %" PRId64, c->acks[i].order_id,
                               c->acks[out - 1].buyer, c->acks[i].buyer);
            continue;
        }
        c->acks[out++] = c->acks[i];
    }
    c->nacks = out;
}

/* ---- the databases ---- */

static int lg_db_connect(struct lg_db *db, const struct lg_check_config *cfg)
{
    unsigned timeout = 10;

    db->conn = mysql_init(NULL);
    if (db->conn == NULL)
        return -1;
    mysql_options(db->conn, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    if (mysql_real_connect(db->conn, db->host, cfg->user, cfg->password, "unitroute",
                           db->port, NULL, 0) == NULL) {
        fprintf(stderr, "loadgen check: %s (%s:%u): %s\n", db->name, db->host, db->port,
                mysql_error(db->conn));
        return -1;
    }
    return 0;
}

/* First column of the first row of sql into out; 0, or -1 (reported). */
static int lg_db_scalar(struct lg_db *db, const char *sql, char *out, size_t outlen)
{
    MYSQL_RES *res;
    MYSQL_ROW row;

    if (mysql_query(db->conn, sql) != 0 || (res = mysql_store_result(db->conn)) == NULL) {
        fprintf(stderr, "loadgen check: %s: %s: %s\n", db->name, sql, mysql_error(db->conn));
        return -1;
    }
    row = mysql_fetch_row(res);
    snprintf(out, outlen, "%s", row != NULL && row[0] != NULL ? row[0] : "");
    mysql_free_result(res);
    return 0;
}

/* Keeps only the GTIDs of domain in pos ("1-1-10,2-2-5" -> "2-2-5"). */
static void lg_gtid_filter_domain(const char *pos, const char *domain, char *out, size_t len)
{
    size_t dl = strlen(domain), used = 0;
    const char *p = pos;

    out[0] = '\0';
    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        if (n > dl && strncmp(p, domain, dl) == 0 && p[dl] == '-' && used + n + 1 < len) {
            used += (size_t)snprintf(out + used, len - used, "%s%.*s", used ? "," : "",
                                     (int)n, p);
        }
        p += n + (p[n] == ',');
    }
}

/*
 * Waits until every database has applied every other one's own writes (its
 * GTID domain). Returns 0, or -1 if some did not within the time (reported;
 * the check goes on and shows what is missing).
 */
static int lg_wait_replication(struct lg_check *c)
{
    int64_t end = lg_now_us() + (int64_t)c->cfg->wait_s * 1000000;
    char domain[32], pos[4096], own[4096], sql[4300], got[32];
    int rc = 0;

    for (size_t i = 0; i < c->cfg->ndbs; i++) {
        struct lg_db *src = &c->cfg->dbs[i];
        if (lg_db_scalar(src, "SELECT @@gtid_domain_id", domain, sizeof(domain)) < 0 ||
            lg_db_scalar(src, "SELECT @@gtid_binlog_pos", pos, sizeof(pos)) < 0)
            return -1;
        lg_gtid_filter_domain(pos, domain, own, sizeof(own));
        for (size_t j = 0; j < c->cfg->ndbs && own[0] != '\0'; j++) {
            double left = (double)(end - lg_now_us()) / 1e6;
            if (j == i)
                continue;
            snprintf(sql, sizeof(sql), "SELECT MASTER_GTID_WAIT('%s', %.3f)", own,
                     left > 0 ? left : 0);
            if (lg_db_scalar(&c->cfg->dbs[j], sql, got, sizeof(got)) < 0 ||
                strcmp(got, "0") != 0) {
                printf("  replication: %s has not applied %s's position %s within %" PRIu64
                       " s\n", c->cfg->dbs[j].name, src->name, own, c->cfg->wait_s);
                rc = -1;
            }
        }
    }
    return rc;
}

static int lg_rows_append(struct lg_db *db, size_t *cap, MYSQL_ROW row)
{
    if (db->nrows == *cap) {
        size_t n = *cap ? *cap * 2 : 4096;
        struct lg_row *p = realloc(db->rows, n * sizeof(*p));
        if (p == NULL)
            return -1;
        db->rows = p;
        *cap = n;
    }
    struct lg_row *r = &db->rows[db->nrows++];
    r->id = strtoll(row[0], NULL, 10);
    r->buyer = strtoll(row[1], NULL, 10);
    snprintf(r->unit, sizeof(r->unit), "%s", row[2]);
    r->created_us = strtoll(row[3], NULL, 10);
    return 0;
}

static int lg_db_load_rows(struct lg_db *db)
{
    static const char sql[] =
        "SELECT id, buyer_id, unit, CAST(UNIX_TIMESTAMP(created) * 1000000 AS SIGNED) "
        "FROM orders ORDER BY id";
    size_t cap = 0;
    MYSQL_ROW row;
    int rc = 0;

    if (mysql_query(db->conn, sql) != 0) {
        fprintf(stderr, "loadgen check: %s: %s\n", db->name, mysql_error(db->conn));
        return -1;
    }
    MYSQL_RES *res = mysql_use_result(db->conn);
    if (res == NULL)
        return -1;
    while ((row = mysql_fetch_row(res)) != NULL)
        if (rc == 0 && lg_rows_append(db, &cap, row) < 0)
            rc = -1;
    if (mysql_errno(db->conn) != 0) {
        fprintf(stderr, "loadgen check: %s: %s\n", db->name, mysql_error(db->conn));
        rc = -1;
    }
    mysql_free_result(res);
    return rc;
}

/* ---- the findings ---- */

static const struct lg_row *lg_rows_find(const struct lg_db *db, int64_t id)
{
    size_t lo = 0, hi = db->nrows;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (db->rows[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < db->nrows && db->rows[lo].id == id ? &db->rows[lo] : NULL;
}

/* Lost and mismatched acknowledged orders, duplicate ids, on one database. */
static void lg_check_acks_on(struct lg_check *c, const struct lg_db *db)
{
    for (size_t i = 0; i < c->nacks; i++) {
        const struct lg_ack *a = &c->acks[i];
        const struct lg_row *r = lg_rows_find(db, a->order_id);
        if (r == NULL)
            lg_finding_add(&c->lost, "order %" PRId64 " (buyer %" PRId64 ") missing on %s",
                           a->order_id, a->buyer, db->name);
        else if (r->buyer != a->buyer)
            lg_finding_add(&c->mismatched, "order %" PRId64 " acknowledged for buyer %" PRId64
                           ", row on %s has buyer %" PRId64, a->order_id, a->buyer, db->name,
                           r->buyer);
    }
    for (size_t i = 1; i < db->nrows; i++)
        if (db->rows[i].id == db->rows[i - 1].id)
            lg_finding_add(&c->duplicate, "order %" PRId64 " stored twice on %s",
                           db->rows[i].id, db->name);
}

static bool lg_rows_same(const struct lg_row *x, const struct lg_row *y)
{
    return x->buyer == y->buyer && strcmp(x->unit, y->unit) == 0;
}

/* Every row of a is on b with the same buyer and unit, and the other way. */
static void lg_check_divergence(struct lg_check *c, const struct lg_db *a, const struct lg_db *b)
{
    size_t i = 0, j = 0;

    while (i < a->nrows || j < b->nrows) {
        const struct lg_row *x = i < a->nrows ? &a->rows[i] : NULL;
        const struct lg_row *y = j < b->nrows ? &b->rows[j] : NULL;
        if (y == NULL || (x != NULL && x->id < y->id)) {
            lg_finding_add(&c->divergent, "order %" PRId64 " on %s, not on %s", x->id,
                           a->name, b->name);
            i++;
        } else if (x == NULL || y->id < x->id) {
            lg_finding_add(&c->divergent, "order %" PRId64 " on %s, not on %s", y->id,
                           b->name, a->name);
            j++;
        } else {
            if (!lg_rows_same(x, y))
                lg_finding_add(&c->divergent, "order %" PRId64 ": %s has (buyer %" PRId64
                               ", %s), %s has (buyer %" PRId64 ", %s)", x->id, a->name,
                               x->buyer, x->unit, b->name, y->buyer, y->unit);
            i++;
            j++;
        }
    }
}

static int lg_compare_row_ptr(const void *a, const void *b)
{
    const struct lg_row *x = *(const struct lg_row *const *)a;
    const struct lg_row *y = *(const struct lg_row *const *)b;

    if (x->buyer != y->buyer)
        return (x->buyer > y->buyer) - (x->buyer < y->buyer);
    if (x->created_us != y->created_us)
        return (x->created_us > y->created_us) - (x->created_us < y->created_us);
    return (x->id > y->id) - (x->id < y->id);
}

/* "dc-a x3, dc-b x2" of a buyer's rows [0, n) in order */
static void lg_describe_units(const struct lg_row *const *rows, size_t n, char *out,
                              size_t len)
{
    size_t used = 0, run = 1;

    out[0] = '\0';
    for (size_t i = 1; i <= n && used < len; i++) {
        if (i < n && strcmp(rows[i]->unit, rows[i - 1]->unit) == 0) {
            run++;
            continue;
        }
        used += (size_t)snprintf(out + used, len - used, "%s%s x%zu", used ? ", " : "",
                                 rows[i - 1]->unit, run);
        run = 1;
    }
    if (used >= len && len > 4)
        memcpy(out + len - 4, "...", 4);    /* truncated: say so */
}

/* The unit names of buyer's homes before/after, or NULL without rules. */
static const char *lg_home(const struct rules *r, int64_t buyer)
{
    return r != NULL ? rules_unit_name(r, rules_unit_for_buyer(r, (uint64_t)buyer)) : NULL;
}

/*
 * Why one buyer's rows (by created) are misplaced, or NULL if they are not:
 * back to a unit it left (S T S), more unit changes than allowed, or, with
 * rules, a row outside "home before ... home after" in that order.
 */
static const char *lg_buyer_fault(const struct lg_check *c, const struct lg_row *const *rows,
                                  size_t n)
{
    const char *before = lg_home(c->before, rows[0]->buyer);
    const char *after = lg_home(c->after, rows[0]->buyer);
    uint64_t moves = 0;
    bool moved_to_after = false;

    for (size_t i = 0; i < n; i++) {
        bool changed = i > 0 && strcmp(rows[i]->unit, rows[i - 1]->unit) != 0;
        moves += changed;
        for (size_t k = 0; changed && k + 1 < i; k++)
            if (strcmp(rows[k]->unit, rows[i]->unit) == 0)
                return "back in a unit it had left";
        if (before == NULL)
            continue;
        if (strcmp(rows[i]->unit, before) != 0 && strcmp(rows[i]->unit, after) != 0)
            return "written in a unit that was never its home";
        if (strcmp(rows[i]->unit, before) != 0)
            moved_to_after = true;
        else if (moved_to_after)
            return "written in its old home after its new home";
    }
    if (moves > c->cfg->max_moves)
        return "moved more often than allowed";
    return NULL;
}

static void lg_check_placement_on(struct lg_check *c, const struct lg_db *db)
{
    const struct lg_row **idx = malloc((db->nrows ? db->nrows : 1) * sizeof(*idx));
    char units[LG_EXAMPLE_LEN];

    if (idx == NULL) {
        lg_finding_add(&c->misplaced, "out of memory checking %s", db->name);
        return;
    }
    for (size_t i = 0; i < db->nrows; i++)
        idx[i] = &db->rows[i];
    qsort(idx, db->nrows, sizeof(*idx), lg_compare_row_ptr);
    for (size_t first = 0, end; first < db->nrows; first = end) {
        for (end = first + 1; end < db->nrows && idx[end]->buyer == idx[first]->buyer; end++)
            ;
        const char *why = lg_buyer_fault(c, idx + first, end - first);
        if (why == NULL)
            continue;
        lg_describe_units(idx + first, end - first, units, sizeof(units) / 2);
        lg_finding_add(&c->misplaced, "buyer %" PRId64 " on %s: %s (%s)", idx[first]->buyer,
                       db->name, why, units);
    }
    free(idx);
}

/* ---- rules ---- */

static struct rules *lg_rules_load(const char *path, const struct topology *t)
{
    char err[512];
    struct rules *r = NULL;
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        fprintf(stderr, "loadgen check: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char *text = malloc(RULES_BODY_MAX + 1);
    size_t len = text != NULL ? fread(text, 1, RULES_BODY_MAX + 1, f) : 0;
    fclose(f);
    if (text == NULL || len > RULES_BODY_MAX) {
        fprintf(stderr, "loadgen check: %s: too large or out of memory\n", path);
        goto out;
    }
    r = rules_parse(text, len, t->unit_names, t->nunits, err, sizeof(err));
    if (r == NULL)
        fprintf(stderr, "loadgen check: %s: %s\n", path, err);
out:
    free(text);
    return r;
}

static int lg_check_load_rules(struct lg_check *c)
{
    const struct lg_check_config *cfg = c->cfg;
    char err[512];

    if (cfg->rules_before == NULL && cfg->rules_after == NULL)
        return 0;
    if (cfg->rules_before == NULL || cfg->rules_after == NULL || cfg->topology == NULL) {
        fprintf(stderr, "loadgen check: --rules-before, --rules-after and --topology go "
                        "together\n");
        return -1;
    }
    struct topology *t = topology_load(cfg->topology, err, sizeof(err));
    if (t == NULL) {
        fprintf(stderr, "loadgen check: %s\n", err);
        return -1;
    }
    c->before = lg_rules_load(cfg->rules_before, t);
    c->after = lg_rules_load(cfg->rules_after, t);
    topology_destroy(t);
    return c->before != NULL && c->after != NULL ? 0 : -1;
}

/* ---- report ---- */

static void lg_finding_print(const char *what, const struct lg_finding *f)
{
    printf("  %-34s %" PRIu64 "\n", what, f->count);
    for (size_t i = 0; i < f->count && i < LG_EXAMPLES; i++)
        printf("      e.g. %s\n", f->example[i]);
}

static bool lg_check_report(const struct lg_check *c)
{
    bool pass = c->lost.count + c->duplicate.count + c->mismatched.count +
                c->divergent.count + c->misplaced.count == 0;

    lg_finding_print("lost acknowledged writes:", &c->lost);
    lg_finding_print("duplicate rows:", &c->duplicate);
    lg_finding_print("mismatched rows (buyer != ack):", &c->mismatched);
    lg_finding_print("divergent rows across databases:", &c->divergent);
    lg_finding_print("misplaced writes (buyers):", &c->misplaced);
    printf("check: %s\n", pass ? "PASS" : "FAIL");
    printf("loadgen-check acks=%zu lost=%" PRIu64 " duplicates=%" PRIu64 " mismatched=%"
           PRIu64 " divergent=%" PRIu64 " misplaced=%" PRIu64 " result=%s\n", c->nacks,
           c->lost.count, c->duplicate.count, c->mismatched.count, c->divergent.count,
           c->misplaced.count, pass ? "pass" : "fail");
    return pass;
}

static int lg_check_gather(struct lg_check *c)
{
    struct lg_check_config *cfg = c->cfg;
    size_t cap = 0;

    for (size_t i = 0; i < cfg->nack_paths; i++)
        if (lg_acks_read(c, cfg->ack_paths[i], &cap) < 0)
            return -1;
    lg_acks_normalize(c);
    if (lg_check_load_rules(c) < 0)
        return -1;
    for (size_t i = 0; i < cfg->ndbs; i++)
        if (lg_db_connect(&cfg->dbs[i], cfg) < 0)
            return -1;
    printf("loadgen check: %zu acknowledged orders, %zu database(s)%s\n", c->nacks, cfg->ndbs,
           c->before != NULL ? ", homes from the rules before/after" : "");
    int64_t t0 = lg_now_us();
    bool caught_up = lg_wait_replication(c) == 0;
    for (size_t i = 0; i < cfg->ndbs; i++) {
        if (lg_db_load_rows(&cfg->dbs[i]) < 0)
            return -1;
        printf("  %-6s %s:%u  %zu rows\n", cfg->dbs[i].name, cfg->dbs[i].host,
               cfg->dbs[i].port, cfg->dbs[i].nrows);
    }
    printf("  replication %s (%.2f s)\n", caught_up ? "caught up" : "DID NOT catch up",
           (double)(lg_now_us() - t0) / 1e6);
    return 0;
}

static int lg_check_main(struct lg_check_config *cfg)
{
    struct lg_check c;
    int rc = 2;

    memset(&c, 0, sizeof(c));
    c.cfg = cfg;
    if (lg_check_gather(&c) < 0)
        goto out;
    for (size_t i = 0; i < cfg->ndbs; i++) {
        lg_check_acks_on(&c, &cfg->dbs[i]);
        lg_check_placement_on(&c, &cfg->dbs[i]);
        if (i > 0)
            lg_check_divergence(&c, &cfg->dbs[0], &cfg->dbs[i]);
    }
    rc = lg_check_report(&c) ? 0 : 1;
out:
    for (size_t i = 0; i < cfg->ndbs; i++) {
        mysql_close(cfg->dbs[i].conn);
        free(cfg->dbs[i].rows);
    }
    rules_destroy(c.before);
    rules_destroy(c.after);
    free(c.acks);
    return rc;
}

static void lg_check_usage(FILE *out)
{
    fprintf(out,
        "usage: loadgen check --acks FILE [--acks FILE]... --db NAME=HOST:PORT\n"
        "                     [--db NAME=HOST:PORT]... --db-user USER --db-password-file F\n"
        "                     [--wait-seconds S] [--max-moves N]\n"
        "                     [--rules-before FILE --rules-after FILE --topology FILE]\n"
        "  Waits up to S seconds (default 30) until every database has applied every\n"
        "  other one's writes, then checks table unitroute.orders on each: every\n"
        "  acknowledged order exists exactly once with its buyer; all databases hold\n"
        "  the same rows (buyer, unit); each buyer's rows, ordered by created, never\n"
        "  return to a unit they left and change unit at most N times (default 1);\n"
        "  with rules, a buyer's rows are in its home before, then its home after.\n"
        "  Exit 0 if every count is zero, 1 if not, 2 if it could not check.\n");
}

/* NAME=HOST:PORT into db; 0, or -1. */
static int lg_parse_db(const char *arg, struct lg_db *db)
{
    const char *eq = strchr(arg, '='), *colon = strrchr(arg, ':');
    uint64_t port;

    if (eq == NULL || colon == NULL || colon < eq || eq == arg ||
        (size_t)(eq - arg) >= sizeof(db->name) || colon == eq + 1 ||
        (size_t)(colon - eq - 1) >= sizeof(db->host) || lg_parse_u64(colon + 1, 1, 65535, &port) < 0)
        return -1;
    memset(db, 0, sizeof(*db));
    snprintf(db->name, sizeof(db->name), "%.*s", (int)(eq - arg), arg);
    snprintf(db->host, sizeof(db->host), "%.*s", (int)(colon - eq - 1), eq + 1);
    db->port = (unsigned)port;
    return 0;
}

/* 0 = check, 1 = help printed, -1 = bad arguments (reported). */
static int lg_check_parse(int argc, char **argv, struct lg_check_config *cfg)
{
    static const struct option opts[] = {
        { "acks", required_argument, NULL, 'a' },
        { "db", required_argument, NULL, 'd' },
        { "db-user", required_argument, NULL, 'u' },
        { "db-password-file", required_argument, NULL, 'p' },
        { "wait-seconds", required_argument, NULL, 'w' },
        { "max-moves", required_argument, NULL, 'm' },
        { "rules-before", required_argument, NULL, 'B' },
        { "rules-after", required_argument, NULL, 'A' },
        { "topology", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *password_file = NULL;
    int ch;

    memset(cfg, 0, sizeof(*cfg));
    cfg->wait_s = 30;
    cfg->max_moves = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int bad = 0;
        switch (ch) {
        case 'a': bad = cfg->nack_paths == LG_ACK_FILES_MAX;
                  if (!bad)
                      cfg->ack_paths[cfg->nack_paths++] = optarg;
                  break;
        case 'd': bad = cfg->ndbs == LG_DBS_MAX || lg_parse_db(optarg, &cfg->dbs[cfg->ndbs]) < 0;
                  cfg->ndbs += !bad;
                  break;
        case 'u': cfg->user = optarg; break;
        case 'p': password_file = optarg; break;
        case 'w': bad = lg_parse_u64(optarg, 0, 3600, &cfg->wait_s); break;
        case 'm': bad = lg_parse_u64(optarg, 0, 1000, &cfg->max_moves); break;
        case 'B': cfg->rules_before = optarg; break;
        case 'A': cfg->rules_after = optarg; break;
        case 't': cfg->topology = optarg; break;
        case 'h': lg_check_usage(stdout); return 1;
        default:  lg_check_usage(stderr); return -1;
        }
        if (bad) {
            fprintf(stderr, "loadgen check: bad value \"%s\"\n", optarg);
            return -1;
        }
    }
    if (cfg->nack_paths == 0 || cfg->ndbs == 0 || cfg->user == NULL || password_file == NULL ||
        optind < argc) {
        fprintf(stderr, "loadgen check: --acks, --db, --db-user and --db-password-file are "
                        "required (and nothing else)\n");
        return -1;
    }
    return lg_read_password(password_file, cfg->password, sizeof(cfg->password));
}

/* ==== main ================================================================== */

static void lg_usage(FILE *out)
{
    fprintf(out, "usage: loadgen run ... | loadgen check ... | loadgen --help\n\n");
    lg_run_usage(out);
    fprintf(out, "\n");
    lg_check_usage(out);
}

static int lg_main_run(int argc, char **argv)
{
    struct lg_run_config cfg;
    int rc;

    switch (lg_run_parse(argc, argv, &cfg)) {
    case 1:  return 0;
    case -1: return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        return 2;
    rc = lg_run_main(&cfg);
    curl_global_cleanup();
    return rc;
}

static int lg_main_check(int argc, char **argv)
{
    static struct lg_check_config cfg;     /* large: not on the stack */
    int rc;

    switch (lg_check_parse(argc, argv, &cfg)) {
    case 1:  return 0;
    case -1: return 2;
    }
    if (mysql_library_init(0, NULL, NULL) != 0)
        return 2;
    rc = lg_check_main(&cfg);
    mysql_library_end();
    return rc;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 2 && strcmp(argv[1], "run") == 0)
        return lg_main_run(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "check") == 0)
        return lg_main_check(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        lg_usage(stdout);
        return 0;
    }
    lg_usage(stderr);
    return 2;
}
