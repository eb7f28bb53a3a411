/*
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
 * A test tool: errors are reported on stderr here, where they happen.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "tests/tools/loadgen/acks.h"
#include "tests/tools/loadgen/common.h"
#include "tests/tools/loadgen/counters.h"
#include "tests/tools/loadgen/run.h"

#define LG_URL_MAX        512

enum lg_slot_state { LG_SLOT_IDLE, LG_SLOT_RUNNING, LG_SLOT_WAITING };

/* One transfer place; the run owns the slots and everything they point to. */
struct lg_slot {
    CURL               *easy;       /* owned; in the multi while RUNNING */
    struct curl_slist  *headers;    /* this attempt's request headers, owned */
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

/* One run, on the stack of lg_run_main; lg_run_deinit releases it. */
struct lg_run {
    const struct lg_run_config *cfg;    /* the caller's */
    CURLM          *multi;          /* owned */
    struct lg_slot *slots;          /* owned, cfg->concurrency of them */
    FILE           *acks;           /* owned, the --acks file */
    uint64_t        rng;            /* xorshift64 state, never 0 */
    uint64_t        next_seq;       /* the next order is order_base + next_seq */
    int64_t         start_us, deadline_us, hard_stop_us;    /* lg_now_us() clock */
    uint64_t        orders, requests, acked, failed, retries;
    struct lg_counters errors;      /* every non-2xx response or failed transfer */
    struct lg_counters units;       /* every response, by serving unit */
    uint32_t       *latency_us;     /* every request, owned */
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

/* Creates the slot's easy handle (owned by the slot, also on failure). 0, or -1. */
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

/*
 * Starts the slot's current order on a random gateway. 0, or -1. The slot
 * owns the new header list either way (freed by the next start or deinit).
 */
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
    lg_acks_write(r->acks, s->order_id, s->buyer, s->unit, r->cfg->gateways[s->gateway],
                  s->attempts, latency_us);
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

/* Releases everything r owns; fine on a run whose init failed half-way. */
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

/*
 * Opens the acks file and sets up the slots. 0, or -1; either way r owns
 * what it got and the caller calls lg_run_deinit. r keeps cfg (not owned).
 */
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
    lg_acks_write_header(r->acks);
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

int lg_run_main(const struct lg_run_config *cfg)
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

void lg_run_usage(FILE *out)
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
int lg_run_parse(int argc, char **argv, struct lg_run_config *cfg)
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
