#include "gw_upstream.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GW_EASY_POOL      256
#define GW_HEADER_WAKE_US 20000u   /* headers without body: start the answer anyway */

struct gw_upstream {
    CURLM           *multi;
    pthread_t        thread;
    struct gw_metrics *metrics;     /* borrowed */
    pthread_mutex_t  lock;          /* guards the queues and stopping */
    struct gw_xfer  *adds;          /* submitted, not yet in the multi handle */
    struct gw_xfer  *kicks;         /* need attention on the upstream thread */
    bool             stopping;
    bool             joined;        /* the thread was joined */
    CURL            *idle[GW_EASY_POOL]; /* reset easy handles for reuse */
    size_t           nidle;
    struct gw_xfer  *active;        /* in the multi handle; upstream thread only */
};

/* An easy handle from the pool, or a new one. NULL on failure. */
static CURL *gw_upstream_easy_get(struct gw_upstream *up)
{
    CURL *e = NULL;

    pthread_mutex_lock(&up->lock);
    if (up->nidle > 0)
        e = up->idle[--up->nidle];
    pthread_mutex_unlock(&up->lock);
    return e != NULL ? e : curl_easy_init();
}

/* Back to the pool (reset), or cleaned up when the pool is full. */
static void gw_upstream_easy_put(struct gw_upstream *up, CURL *e)
{
    curl_easy_reset(e);
    pthread_mutex_lock(&up->lock);
    if (up->nidle < GW_EASY_POOL) {
        up->idle[up->nidle++] = e;
        e = NULL;
    }
    pthread_mutex_unlock(&up->lock);
    if (e != NULL)
        curl_easy_cleanup(e);
}

uint64_t gw_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- rings ------------------------------------------------------------- */

/*
 * Rings start empty and grow on demand up to max, so a small answer costs a
 * small buffer and an idle connection none.
 */
static void gw_ring_init(struct gw_ring *r, size_t max)
{
    r->buf = NULL;
    r->cap = r->head = r->len = 0;
    r->max = max;
}

/* Room for need more bytes: grow (linearizing) if allowed. 0 or -1. */
static int gw_ring_reserve(struct gw_ring *r, size_t need)
{
    if (r->cap - r->len >= need)
        return 0;
    if (r->len + need > r->max)
        return -1;
    size_t cap = r->cap ? r->cap * 2 : GW_RING_MIN;
    while (cap < r->len + need)
        cap *= 2;
    if (cap > r->max)
        cap = r->max;
    char *buf = malloc(cap);
    if (buf == NULL)
        return -1;
    size_t first = r->cap - r->head < r->len ? r->cap - r->head : r->len;
    if (r->len > 0) {
        memcpy(buf, r->buf + r->head, first);
        memcpy(buf + first, r->buf, r->len - first);
    }
    free(r->buf);
    r->buf = buf;
    r->cap = cap;
    r->head = 0;
    return 0;
}

static size_t gw_ring_put(struct gw_ring *r, const char *data, size_t len)
{
    if (gw_ring_reserve(r, len) < 0)
        gw_ring_reserve(r, r->max - r->len < len ? r->max - r->len : len);
    if (r->cap == 0)
        return 0;
    size_t n = r->cap - r->len < len ? r->cap - r->len : len;
    size_t tail = (r->head + r->len) % (r->cap ? r->cap : 1);
    size_t first = r->cap - tail < n ? r->cap - tail : n;

    memcpy(r->buf + tail, data, first);
    memcpy(r->buf, data + first, n - first);
    r->len += n;
    return n;
}

static size_t gw_ring_get(struct gw_ring *r, char *out, size_t max)
{
    if (r->len == 0)
        return 0;
    size_t n = r->len < max ? r->len : max;
    size_t first = r->cap - r->head < n ? r->cap - r->head : n;

    memcpy(out, r->buf + r->head, first);
    memcpy(out + first, r->buf, n - first);
    r->head = r->len == n ? 0 : (r->head + n) % r->cap;
    r->len -= n;
    return n;
}

/* ---- transfer lifetime --------------------------------------------------- */

static void gw_xfer_destroy(struct gw_xfer *x)
{
    if (x->easy != NULL)
        gw_upstream_easy_put(x->owner, x->easy);
    curl_slist_free_all(x->req_headers);
    free(x->url);
    free(x->up.buf);
    free(x->down.buf);
    strbuf_deinit(&x->resp_headers);
    pthread_mutex_destroy(&x->lock);
    free(x);
}

void gw_xfer_ref(struct gw_xfer *x)
{
    pthread_mutex_lock(&x->lock);
    x->refs++;
    pthread_mutex_unlock(&x->lock);
}

void gw_xfer_unref(struct gw_xfer *x)
{
    pthread_mutex_lock(&x->lock);
    int left = --x->refs;
    pthread_mutex_unlock(&x->lock);
    if (left == 0)
        gw_xfer_destroy(x);
}

/* The client connection waits on us: let it run again. Caller holds x->lock. */
static void gw_xfer_wake_client(struct gw_xfer *x)
{
    x->headers_woken |= x->headers_done;
    if (x->suspended && x->conn != NULL) {
        x->suspended = false;
        MHD_resume_connection(x->conn);
    }
}

/* Queue x for the upstream thread's attention (it takes a reference). */
static void gw_upstream_kick(struct gw_upstream *up, struct gw_xfer *x)
{
    bool wake = false;

    pthread_mutex_lock(&up->lock);
    if (!up->stopping && !x->kicked) {
        pthread_mutex_lock(&x->lock);
        x->refs++;
        pthread_mutex_unlock(&x->lock);
        x->kicked = true;
        /* the thread drains both queues whole: only the first entry wakes it */
        wake = up->adds == NULL && up->kicks == NULL;
        x->qnext = up->kicks;
        up->kicks = x;
    }
    pthread_mutex_unlock(&up->lock);
    if (wake)
        curl_multi_wakeup(up->multi);
}

/* ---- curl callbacks (upstream thread) ------------------------------------ */

static size_t gw_cb_read(char *buf, size_t size, size_t nitems, void *ud)
{
    struct gw_xfer *x = ud;
    size_t n;

    pthread_mutex_lock(&x->lock);
    if (x->aborted) {
        pthread_mutex_unlock(&x->lock);
        return CURL_READFUNC_ABORT;
    }
    n = gw_ring_get(&x->up, buf, size * nitems);
    if (n == 0 && !x->up_done) {
        x->up_paused = true;
        n = CURL_READFUNC_PAUSE;
    } else if (n > 0) {
        gw_xfer_wake_client(x);
    }
    pthread_mutex_unlock(&x->lock);
    return n;
}

static size_t gw_cb_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct gw_xfer *x = ud;
    size_t total = size * nmemb, n = total;

    pthread_mutex_lock(&x->lock);
    if (x->aborted) {
        n = 0;
    } else if (gw_ring_reserve(&x->down, total) < 0) {
        x->down_paused = true;
        n = CURL_WRITEFUNC_PAUSE;
    } else {
        gw_ring_put(&x->down, ptr, total);
        gw_xfer_wake_client(x);
    }
    pthread_mutex_unlock(&x->lock);
    return n;
}

static size_t gw_cb_header(char *buf, size_t size, size_t nitems, void *ud)
{
    struct gw_xfer *x = ud;
    size_t len = size * nitems;

    pthread_mutex_lock(&x->lock);
    if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
        const char *sp = memchr(buf, ' ', len);
        x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        strbuf_reset(&x->resp_headers);         /* a 1xx came first */
    } else if (len <= 2 && (len == 0 || buf[0] == '\r' || buf[0] == '\n')) {
        if (x->status >= 200) {
            /* the client wakes with the first body bytes (one wake-up, not
             * two, for small answers) or after GW_HEADER_WAKE_US */
            x->headers_done = true;
            x->headers_us = gw_now_us();
        }
    } else if (!x->headers_done) {         /* not trailers */
        strbuf_append(&x->resp_headers, buf, len);
    }
    pthread_mutex_unlock(&x->lock);
    return len;
}

/* ---- creating transfers (MHD thread) ------------------------------------- */

static void gw_xfer_set_method(struct gw_xfer *x, const struct gw_xfer_params *p)
{
    if (p->has_body) {
        curl_easy_setopt(x->easy, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(x->easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)p->content_length);
        curl_easy_setopt(x->easy, CURLOPT_READFUNCTION, gw_cb_read);
        curl_easy_setopt(x->easy, CURLOPT_READDATA, x);
        curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, p->method);
    } else if (strcmp(p->method, "HEAD") == 0) {
        curl_easy_setopt(x->easy, CURLOPT_NOBODY, 1L);
    } else if (strcmp(p->method, "GET") != 0) {
        curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, p->method);
    }
}

struct gw_xfer *gw_xfer_create(struct gw_upstream *up, const struct gw_xfer_params *p,
                               struct MHD_Connection *conn)
{
    struct gw_xfer *x = calloc(1, sizeof(*x));

    if (x == NULL)
        goto fail_headers;
    pthread_mutex_init(&x->lock, NULL);
    strbuf_init(&x->resp_headers);
    x->refs = 1;
    x->owner = up;
    x->conn = conn;
    x->req_headers = p->headers;
    x->url = strdup(p->url);
    x->easy = gw_upstream_easy_get(up);
    gw_ring_init(&x->down, GW_DOWN_RING);
    gw_ring_init(&x->up, GW_UP_RING);
    if (x->url == NULL || x->easy == NULL)
        goto fail;
    snprintf(x->upstream, sizeof(x->upstream), "%s", p->upstream);
    x->started_us = gw_now_us();
    x->header_deadline_us = x->started_us + (uint64_t)p->header_timeout_ms * 1000u;

    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, x->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->req_headers);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)p->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, gw_cb_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, gw_cb_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    curl_easy_setopt(e, CURLOPT_HTTP_TRANSFER_DECODING, 1L);
    curl_easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
    gw_xfer_set_method(x, p);
    return x;
fail:
    gw_xfer_destroy(x);
    return NULL;
fail_headers:
    curl_slist_free_all(p->headers);
    return NULL;
}

int gw_upstream_submit(struct gw_upstream *up, struct gw_xfer *x)
{
    pthread_mutex_lock(&up->lock);
    if (up->stopping) {
        pthread_mutex_unlock(&up->lock);
        return -1;
    }
    pthread_mutex_lock(&x->lock);
    x->refs++;
    pthread_mutex_unlock(&x->lock);
    bool wake = up->adds == NULL && up->kicks == NULL;
    x->qnext = up->adds;
    up->adds = x;
    pthread_mutex_unlock(&up->lock);
    if (wake)
        curl_multi_wakeup(up->multi);
    return 0;
}

/* ---- the MHD side ------------------------------------------------------- */

size_t gw_xfer_push_body(struct gw_upstream *up, struct gw_xfer *x, const char *data, size_t len)
{
    bool kick = false;
    size_t n;

    pthread_mutex_lock(&x->lock);
    if (x->done) {
        n = len;            /* the upstream already answered: discard the rest */
    } else {
        n = gw_ring_put(&x->up, data, len);
        if (n > 0 && x->up_paused) {
            x->up_paused = false;
            kick = true;
        }
        if (n < len) {
            x->suspended = true;
            MHD_suspend_connection(x->conn);
        }
    }
    pthread_mutex_unlock(&x->lock);
    if (kick)
        gw_upstream_kick(up, x);
    return n;
}

void gw_xfer_end_body(struct gw_upstream *up, struct gw_xfer *x)
{
    bool kick;

    pthread_mutex_lock(&x->lock);
    x->up_done = true;
    kick = x->up_paused;
    x->up_paused = false;
    pthread_mutex_unlock(&x->lock);
    if (kick)
        gw_upstream_kick(up, x);
}

bool gw_xfer_wait_headers(struct gw_xfer *x)
{
    bool ready;

    pthread_mutex_lock(&x->lock);
    ready = x->headers_done || x->done;
    if (!ready) {
        x->suspended = true;
        MHD_suspend_connection(x->conn);
    }
    pthread_mutex_unlock(&x->lock);
    return ready;
}

ssize_t gw_xfer_pull_body(struct gw_upstream *up, struct gw_xfer *x, char *buf, size_t max)
{
    bool kick = false;
    ssize_t n;

    pthread_mutex_lock(&x->lock);
    n = (ssize_t)gw_ring_get(&x->down, buf, max);
    if (n > 0) {
        if (x->down_paused) {
            x->down_paused = false;
            kick = true;
        }
    } else if (x->done || x->conn == NULL) {
        n = x->result == CURLE_OK && !x->timed_out && x->done ? MHD_CONTENT_READER_END_OF_STREAM
                                                              : MHD_CONTENT_READER_END_WITH_ERROR;
    } else {
        x->suspended = true;
        MHD_suspend_connection(x->conn);
    }
    pthread_mutex_unlock(&x->lock);
    if (kick)
        gw_upstream_kick(up, x);
    return n;
}

void gw_xfer_release(struct gw_upstream *up, struct gw_xfer *x)
{
    bool running;

    pthread_mutex_lock(&x->lock);
    x->aborted = true;
    x->conn = NULL;
    x->suspended = false;
    running = !x->done;
    pthread_mutex_unlock(&x->lock);
    if (running)
        gw_upstream_kick(up, x);
    gw_xfer_unref(x);
}

/* ---- the upstream thread ------------------------------------------------- */

static void gw_active_unlink(struct gw_upstream *up, struct gw_xfer *x)
{
    if (x->aprev != NULL)
        x->aprev->anext = x->anext;
    else
        up->active = x->anext;
    if (x->anext != NULL)
        x->anext->aprev = x->aprev;
    x->anext = x->aprev = NULL;
}

/* The transfer is over: out of the multi handle, wake the client, drop our ref. */
static void gw_upstream_finish(struct gw_upstream *up, struct gw_xfer *x, CURLcode result,
                               bool timed_out)
{
    if (!x->in_multi)
        return;
    curl_multi_remove_handle(up->multi, x->easy);
    x->in_multi = false;
    gw_active_unlink(up, x);
    gw_metrics_latency(up->metrics, gw_now_us() - x->started_us);

    pthread_mutex_lock(&x->lock);
    x->done = true;
    x->result = result;
    x->timed_out = timed_out;
    if (result != CURLE_OK && x->errbuf[0] == '\0')
        snprintf(x->errbuf, sizeof(x->errbuf), "%s", curl_easy_strerror(result));
    gw_xfer_wake_client(x);
    pthread_mutex_unlock(&x->lock);
    gw_xfer_unref(x);
}

static void gw_upstream_take_queues(struct gw_upstream *up, struct gw_xfer **adds,
                                    struct gw_xfer **kicks)
{
    pthread_mutex_lock(&up->lock);
    *adds = up->adds;
    *kicks = up->kicks;
    up->adds = up->kicks = NULL;
    for (struct gw_xfer *x = *kicks; x != NULL; x = x->qnext)
        x->kicked = false;
    pthread_mutex_unlock(&up->lock);
}

static void gw_upstream_add(struct gw_upstream *up, struct gw_xfer *x)
{
    pthread_mutex_lock(&x->lock);
    bool aborted = x->aborted;
    pthread_mutex_unlock(&x->lock);
    if (aborted || curl_multi_add_handle(up->multi, x->easy) != CURLM_OK) {
        pthread_mutex_lock(&x->lock);
        x->done = true;
        x->result = CURLE_FAILED_INIT;
        gw_xfer_wake_client(x);
        pthread_mutex_unlock(&x->lock);
        gw_xfer_unref(x);
        return;
    }
    x->in_multi = true;
    x->aprev = NULL;
    x->anext = up->active;
    if (up->active != NULL)
        up->active->aprev = x;
    up->active = x;
}

static void gw_upstream_service(struct gw_upstream *up, struct gw_xfer *kick)
{
    pthread_mutex_lock(&kick->lock);
    bool aborted = kick->aborted;
    pthread_mutex_unlock(&kick->lock);
    if (aborted)
        gw_upstream_finish(up, kick, CURLE_ABORTED_BY_CALLBACK, false);
    else if (kick->in_multi)
        curl_easy_pause(kick->easy, CURLPAUSE_CONT);   /* may call our callbacks */
}

static void gw_upstream_drain_queues(struct gw_upstream *up)
{
    struct gw_xfer *adds, *kicks, *next;

    gw_upstream_take_queues(up, &adds, &kicks);
    for (struct gw_xfer *x = adds; x != NULL; x = next) {
        next = x->qnext;
        gw_upstream_add(up, x);
    }
    for (struct gw_xfer *x = kicks; x != NULL; x = next) {
        next = x->qnext;
        gw_upstream_service(up, x);
        gw_xfer_unref(x);   /* the kick's reference */
    }
}

static void gw_upstream_reap(struct gw_upstream *up)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(up->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct gw_xfer *x = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        gw_upstream_finish(up, x, msg->data.result, false);
    }
}

/*
 * 504 for transfers whose upstream has not answered in time; clients of
 * answers with headers but no body yet start their response.
 */
static void gw_upstream_check_deadlines(struct gw_upstream *up)
{
    uint64_t now = gw_now_us();
    struct gw_xfer *next;

    for (struct gw_xfer *x = up->active; x != NULL; x = next) {
        next = x->anext;
        pthread_mutex_lock(&x->lock);
        bool late = !x->headers_done && now >= x->header_deadline_us;
        if (x->headers_done && !x->headers_woken && now >= x->headers_us + GW_HEADER_WAKE_US)
            gw_xfer_wake_client(x);
        pthread_mutex_unlock(&x->lock);
        if (late) {
            snprintf(x->errbuf, sizeof(x->errbuf), "no response headers in time");
            gw_upstream_finish(up, x, CURLE_OPERATION_TIMEDOUT, true);
        }
    }
}

static void *gw_upstream_main(void *arg)
{
    struct gw_upstream *up = arg;
    int running;

    for (;;) {
        pthread_mutex_lock(&up->lock);
        bool stopping = up->stopping;
        pthread_mutex_unlock(&up->lock);
        if (stopping)
            break;
        gw_upstream_drain_queues(up);
        curl_multi_perform(up->multi, &running);
        gw_upstream_reap(up);
        gw_upstream_check_deadlines(up);
        curl_multi_poll(up->multi, NULL, 0, up->active ? GW_HEADER_WAKE_US / 1000 : 100, NULL);
    }
    /* stopping: finish everything so no client stays suspended */
    gw_upstream_drain_queues(up);
    while (up->active != NULL)
        gw_upstream_finish(up, up->active, CURLE_ABORTED_BY_CALLBACK, false);
    return NULL;
}

struct gw_upstream *gw_upstream_create(struct gw_metrics *m, char *err, size_t errlen)
{
    struct gw_upstream *up = calloc(1, sizeof(*up));

    if (up == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    up->metrics = m;
    pthread_mutex_init(&up->lock, NULL);
    up->multi = curl_multi_init();
    if (up->multi == NULL) {
        snprintf(err, errlen, "curl_multi_init failed");
        goto fail;
    }
    curl_multi_setopt(up->multi, CURLMOPT_MAXCONNECTS, 1024L);
    if (pthread_create(&up->thread, NULL, gw_upstream_main, up) != 0) {
        snprintf(err, errlen, "cannot start the upstream thread");
        goto fail_multi;
    }
    return up;
fail_multi:
    curl_multi_cleanup(up->multi);
fail:
    pthread_mutex_destroy(&up->lock);
    free(up);
    return NULL;
}

void gw_upstream_stop(struct gw_upstream *up)
{
    pthread_mutex_lock(&up->lock);
    bool joined = up->joined;
    up->stopping = true;
    up->joined = true;
    pthread_mutex_unlock(&up->lock);
    if (joined)
        return;
    curl_multi_wakeup(up->multi);
    pthread_join(up->thread, NULL);
}

void gw_upstream_destroy(struct gw_upstream *up)
{
    if (up == NULL)
        return;
    gw_upstream_stop(up);
    curl_multi_cleanup(up->multi);
    while (up->nidle > 0)
        curl_easy_cleanup(up->idle[--up->nidle]);
    pthread_mutex_destroy(&up->lock);
    free(up);
}
