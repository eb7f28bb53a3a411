#include "gw_upstream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define GW_EASY_POOL 256
#define GW_READER_BLOCK (32 * 1024)  /* libmicrohttpd's buffer for a streamed body */
#define GW_NO_TIME   UINT64_MAX

struct gw_upstream {
    CURLM           *multi;
    int              epfd;          /* the worker's, borrowed */
    uint64_t         tag;           /* or-ed into our sockets' epoll data */
    struct gw_metrics *metrics;     /* borrowed */
    bool             stopping;
    bool             resumed;       /* a client was resumed since the last MHD_run */
    uint64_t         timer_us;      /* curl's timer is due then, or GW_NO_TIME */
    uint64_t         deadline_us;   /* earliest header deadline, or GW_NO_TIME */
    struct gw_xfer  *kicks;         /* need attention in gw_upstream_run */
    struct gw_xfer  *active;        /* in the multi handle */
    uint8_t         *fds;           /* GW_FD_* by socket, nfds of them */
    size_t           nfds;
    CURL            *idle[GW_EASY_POOL]; /* reset easy handles for reuse */
    size_t           nidle;
};

/* An easy handle from the pool, or a new one. NULL on failure. */
static CURL *gw_upstream_easy_get(struct gw_upstream *up)
{
    return up->nidle > 0 ? up->idle[--up->nidle] : curl_easy_init();
}

/* Back to the pool (reset), or cleaned up when the pool is full. */
static void gw_upstream_easy_put(struct gw_upstream *up, CURL *e)
{
    if (up->nidle < GW_EASY_POOL) {
        curl_easy_reset(e);
        up->idle[up->nidle++] = e;
    } else {
        curl_easy_cleanup(e);
    }
}

uint64_t gw_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static bool gw_mhd_is_suspended(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_SUSPENDED);
    return ci != NULL && ci->suspended == MHD_YES;
}

void gw_mhd_suspend(struct MHD_Connection *conn)
{
    MHD_suspend_connection(conn);
    if (!gw_mhd_is_suspended(conn))
        MHD_suspend_connection(conn);   /* the first call only cleared "resuming" */
}

void gw_mhd_resume(struct MHD_Connection *conn)
{
    if (gw_mhd_is_suspended(conn))
        MHD_resume_connection(conn);
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
    free(x->req_headers);                   /* one block, see gw_headers.h */
    free(x->up.buf);
    free(x->down.buf);
    strbuf_deinit(&x->resp_headers);
    free(x);
}

void gw_xfer_ref(struct gw_xfer *x)
{
    x->refs++;
}

void gw_xfer_unref(struct gw_xfer *x)
{
    if (--x->refs == 0)
        gw_xfer_destroy(x);
}

/* The client connection waits on us: let it run again. */
static void gw_xfer_wake_client(struct gw_xfer *x)
{
    if (x->suspended && x->conn != NULL) {
        x->suspended = false;
        x->owner->resumed = true;
        gw_mhd_resume(x->conn);
    }
}

static void gw_xfer_suspend_client(struct gw_xfer *x)
{
    if (!x->suspended) {
        x->suspended = true;
        gw_mhd_suspend(x->conn);
    }
}

/* Queue x for gw_upstream_run (the queue takes a reference). */
static void gw_upstream_kick(struct gw_upstream *up, struct gw_xfer *x)
{
    if (up->stopping || x->kicked)
        return;
    x->refs++;
    x->kicked = true;
    x->qnext = up->kicks;
    up->kicks = x;
}

/*
 * The upstream has header_timeout_ms to answer, counted from the last request
 * body bytes it took (or from the start): a long upload that keeps moving is
 * no timeout, an upstream that stops reading or never answers is.
 */
static void gw_xfer_restart_deadline(struct gw_xfer *x, uint64_t now)
{
    x->header_deadline_us = now + (uint64_t)x->header_timeout_ms * 1000u;
    if (x->in_multi && x->header_deadline_us < x->owner->deadline_us)
        x->owner->deadline_us = x->header_deadline_us;
}

/* ---- curl callbacks ------------------------------------------------------ */

static size_t gw_cb_read(char *buf, size_t size, size_t nitems, void *ud)
{
    struct gw_xfer *x = ud;
    size_t n;

    if (x->aborted)
        return CURL_READFUNC_ABORT;
    n = gw_ring_get(&x->up, buf, size * nitems);
    if (n == 0 && !x->up_done) {
        x->up_paused = true;
        return CURL_READFUNC_PAUSE;
    }
    if (n > 0)
        gw_xfer_restart_deadline(x, gw_now_us());
    if (n > 0 && x->up_full) {  /* room for the body it could not push; a client
                                 * waiting for the answer is not woken by this */
        x->up_full = false;
        gw_xfer_wake_client(x);
    }
    return n;
}

static size_t gw_cb_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct gw_xfer *x = ud;
    size_t total = size * nmemb;

    if (x->aborted)
        return 0;
    if (gw_ring_reserve(&x->down, total) < 0) {
        x->down_paused = true;
        return CURL_WRITEFUNC_PAUSE;
    }
    gw_ring_put(&x->down, ptr, total);
    gw_xfer_wake_client(x);
    if (x->down.max - x->down.len < CURL_MAX_WRITE_SIZE && !x->down_paused) {
        /* pause before the next chunk, not at it: a chunk refused with
         * CURL_WRITEFUNC_PAUSE is copied into a buffer curl allocates */
        x->down_paused = true;
        curl_easy_pause(x->easy, CURLPAUSE_RECV);
    }
    return total;
}

static size_t gw_cb_header(char *buf, size_t size, size_t nitems, void *ud)
{
    struct gw_xfer *x = ud;
    size_t len = size * nitems;

    if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
        const char *sp = memchr(buf, ' ', len);
        x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        strbuf_reset(&x->resp_headers);         /* a 1xx came first */
    } else if (len <= 2 && (len == 0 || buf[0] == '\r' || buf[0] == '\n')) {
        if (x->status >= 200) {
            /* the resume takes effect at the next MHD_run, after curl has
             * handed over the body bytes of the same read */
            x->headers_done = true;
            gw_xfer_wake_client(x);
        }
    } else if (!x->headers_done) {         /* not trailers */
        strbuf_append(&x->resp_headers, buf, len);
    }
    return len;
}

/*
 * Our view of a curl socket's epoll registration, by fd: the events
 * registered and whether curl still watches it. A socket curl stops watching
 * (CURL_POLL_REMOVE: the transfer ended, the connection went back to the
 * cache) stays registered for input, "parked": the next transfer on that
 * connection costs no epoll_ctl at all, and if the upstream closes the idle
 * connection the loop unregisters it (gw_upstream_on_socket). Our close
 * callback forgets the fd, since the kernel drops a closed fd from epoll.
 */
#define GW_FD_IN         0x01u
#define GW_FD_OUT        0x02u
#define GW_FD_REGISTERED 0x04u
#define GW_FD_PARKED     0x08u

static uint8_t *gw_upstream_fd(struct gw_upstream *up, curl_socket_t s)
{
    if (s < 0)
        return NULL;
    if ((size_t)s >= up->nfds) {
        size_t n = up->nfds ? up->nfds : 256;
        while (n <= (size_t)s)
            n *= 2;
        uint8_t *fds = realloc(up->fds, n);
        if (fds == NULL)
            return NULL;
        memset(fds + up->nfds, 0, n - up->nfds);
        up->fds = fds;
        up->nfds = n;
    }
    return &up->fds[s];
}

/* Register s for events (GW_FD_IN/OUT), with the fewest epoll_ctl calls. */
static void gw_upstream_watch(struct gw_upstream *up, curl_socket_t s, uint8_t *st, unsigned events)
{
    struct epoll_event ev = { 0 };

    if ((*st & GW_FD_REGISTERED) && (*st & (GW_FD_IN | GW_FD_OUT)) == events) {
        *st &= (uint8_t)~GW_FD_PARKED;
        return;
    }
    ev.events = ((events & GW_FD_IN) ? EPOLLIN : 0u) | ((events & GW_FD_OUT) ? EPOLLOUT : 0u);
    ev.data.u64 = up->tag | (uint32_t)s;
    int op = (*st & GW_FD_REGISTERED) ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(up->epfd, op, s, &ev) < 0) {
        op = op == EPOLL_CTL_ADD ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
        if (epoll_ctl(up->epfd, op, s, &ev) < 0) {
            *st = 0;
            return;
        }
    }
    *st = (uint8_t)(GW_FD_REGISTERED | events);
}

static void gw_upstream_unwatch(struct gw_upstream *up, curl_socket_t s, uint8_t *st)
{
    if (*st & GW_FD_REGISTERED)
        epoll_ctl(up->epfd, EPOLL_CTL_DEL, s, NULL);
    *st = 0;
}

/* CURLMOPT_SOCKETFUNCTION: mirror curl's interest in s into the epoll set. */
static int gw_cb_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct gw_upstream *up = userp;
    uint8_t *st = gw_upstream_fd(up, s);
    struct epoll_event ev = { .events = 0 };

    (void)e;
    (void)socketp;
    if (st == NULL) {       /* no memory for the table: plain registration */
        ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
        ev.data.u64 = up->tag | (uint32_t)s;
        if (what == CURL_POLL_REMOVE)
            epoll_ctl(up->epfd, EPOLL_CTL_DEL, s, NULL);
        else if (epoll_ctl(up->epfd, EPOLL_CTL_MOD, s, &ev) < 0 && errno == ENOENT)
            epoll_ctl(up->epfd, EPOLL_CTL_ADD, s, &ev);
        return 0;
    }
    if (what != CURL_POLL_REMOVE) {
        gw_upstream_watch(up, s, st, ((what & CURL_POLL_IN) ? GW_FD_IN : 0u) |
                                     ((what & CURL_POLL_OUT) ? GW_FD_OUT : 0u));
    } else if ((*st & (GW_FD_REGISTERED | GW_FD_IN | GW_FD_OUT)) == (GW_FD_REGISTERED | GW_FD_IN)) {
        *st |= GW_FD_PARKED;    /* idle: keep it, input only */
    } else {
        gw_upstream_unwatch(up, s, st);
    }
    return 0;
}

/* CURLOPT_CLOSESOCKETFUNCTION: the kernel unregisters it; so do we. */
static int gw_cb_close(void *clientp, curl_socket_t s)
{
    struct gw_upstream *up = clientp;

    if (s >= 0 && (size_t)s < up->nfds)
        up->fds[s] = 0;
    return close(s);
}

/* CURLMOPT_TIMERFUNCTION: when gw_upstream_run must call curl again. */
static int gw_cb_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct gw_upstream *up = userp;

    (void)multi;
    up->timer_us = timeout_ms < 0 ? GW_NO_TIME : gw_now_us() + (uint64_t)timeout_ms * 1000u;
    return 0;
}

/* ---- creating transfers (MHD side) --------------------------------------- */

static void gw_xfer_set_method(struct gw_xfer *x, const struct gw_xfer_params *p)
{
    if (p->has_body && p->content_length > 0 && p->content_length <= GW_BUFFERED_BODY) {
        /* small, of known length: collected, then sent in the same write as
         * the headers (gw_upstream_add), no read callback and pause cycles */
        x->buffered = true;
        curl_easy_setopt(x->easy, CURLOPT_POST, 1L);
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)p->content_length);
        curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, p->method);
    } else if (p->has_body) {
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
    strbuf_init(&x->resp_headers);
    x->refs = 1;
    x->owner = up;
    x->conn = conn;
    x->req_headers = p->headers;
    x->easy = gw_upstream_easy_get(up);
    gw_ring_init(&x->down, GW_DOWN_RING);
    gw_ring_init(&x->up, GW_UP_RING);
    if (x->easy == NULL)
        goto fail;
    snprintf(x->upstream, sizeof(x->upstream), "%s", p->upstream);
    x->header_timeout_ms = p->header_timeout_ms;
    x->started_us = gw_now_us();
    gw_xfer_restart_deadline(x, x->started_us);

    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, p->url);      /* curl keeps its own copy */
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
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, gw_cb_close);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, up);
    gw_xfer_set_method(x, p);
    if (x->buffered && gw_ring_reserve(&x->up, (size_t)p->content_length) < 0)
        goto fail;          /* room for all of it now: pushing it cannot fail */
    return x;
fail:
    gw_xfer_destroy(x);
    return NULL;
fail_headers:
    free(p->headers);
    return NULL;
}

/* Into the multi handle (a buffered body: it is all in the up ring now). */
static int gw_upstream_add(struct gw_upstream *up, struct gw_xfer *x)
{
    if (x->buffered) {
        /* nothing was taken from the ring: its bytes start at head, unwrapped */
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->up.buf + x->up.head);
        x->started_us = gw_now_us();
        gw_xfer_restart_deadline(x, x->started_us);
    }
    if (up->stopping || curl_multi_add_handle(up->multi, x->easy) != CURLM_OK)
        return -1;
    x->refs++;
    x->in_multi = true;
    x->aprev = NULL;
    x->anext = up->active;
    if (up->active != NULL)
        up->active->aprev = x;
    up->active = x;
    if (x->header_deadline_us < up->deadline_us)
        up->deadline_us = x->header_deadline_us;
    return 0;
}

int gw_upstream_submit(struct gw_upstream *up, struct gw_xfer *x)
{
    if (up->stopping)
        return -1;
    if (x->buffered && !x->up_done) {
        x->deferred = true;     /* gw_xfer_end_body adds it */
        return 0;
    }
    return gw_upstream_add(up, x);
}

size_t gw_xfer_push_body(struct gw_xfer *x, const char *data, size_t len)
{
    if (x->done)
        return len;         /* the upstream already answered: discard the rest */
    size_t n = gw_ring_put(&x->up, data, len);
    if (n > 0 && x->up_paused) {
        x->up_paused = false;
        gw_xfer_restart_deadline(x, gw_now_us());  /* the wait for the client was not the upstream's */
        gw_upstream_kick(x->owner, x);
    }
    if (n < len) {
        x->up_full = true;
        gw_xfer_suspend_client(x);
    }
    return n;
}

void gw_xfer_end_body(struct gw_xfer *x)
{
    x->up_done = true;
    if (x->deferred) {
        x->deferred = false;
        if (gw_upstream_add(x->owner, x) < 0) {
            x->done = true;     /* answered 502 by the caller */
            x->result = CURLE_SEND_ERROR;
            snprintf(x->errbuf, sizeof(x->errbuf), "gateway shutting down");
        }
        return;
    }
    if (x->up_paused) {
        x->up_paused = false;
        gw_xfer_restart_deadline(x, gw_now_us());
        gw_upstream_kick(x->owner, x);
    }
}

bool gw_xfer_wait_headers(struct gw_xfer *x)
{
    if (x->headers_done || x->done)
        return true;
    gw_xfer_suspend_client(x);
    return false;
}

ssize_t gw_xfer_pull_body(struct gw_xfer *x, char *buf, size_t max)
{
    ssize_t n = (ssize_t)gw_ring_get(&x->down, buf, max);

    if (n > 0) {
        /* resume at half empty: few pause cycles, each with room for what
         * curl kept back (a chunked body's pieces split one read) */
        if (x->down_paused && x->down.len <= x->down.max / 2) {
            x->down_paused = false;
            gw_upstream_kick(x->owner, x);
        }
        return n;
    }
    if (x->done || x->conn == NULL)
        return x->result == CURLE_OK && !x->timed_out && x->done
                   ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
    gw_xfer_suspend_client(x);
    return 0;
}

static ssize_t gw_xfer_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    return gw_xfer_pull_body(cls, buf, max);
}

static void gw_xfer_reader_free(void *cls)
{
    gw_xfer_unref(cls);
}

struct MHD_Response *gw_xfer_response(struct gw_xfer *x)
{
    struct gw_ring *d = &x->down;

    if (x->done && x->result == CURLE_OK && !x->timed_out && d->head + d->len <= d->cap) {
        /* the whole body is here in one piece: no reader, no second copy */
        if (d->len == 0)
            return MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        if (d->head != 0)
            return MHD_create_response_from_buffer(d->len, d->buf + d->head,
                                                   MHD_RESPMEM_MUST_COPY);
        struct MHD_Response *resp = MHD_create_response_from_buffer(d->len, d->buf,
                                                                    MHD_RESPMEM_MUST_FREE);
        if (resp != NULL) {
            d->buf = NULL;          /* libmicrohttpd frees it */
            d->cap = d->len = 0;
        }
        return resp;
    }
    curl_off_t clen = -1;
    curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &clen);
    size_t block = clen >= 0 && clen < GW_READER_BLOCK ? (size_t)clen + 1 : GW_READER_BLOCK;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(clen >= 0 ? (uint64_t)clen : MHD_SIZE_UNKNOWN,
                                          block < 1024 ? 1024 : block, gw_xfer_reader, x,
                                          gw_xfer_reader_free);
    if (resp != NULL)
        x->refs++;
    return resp;
}

void gw_xfer_release(struct gw_xfer *x)
{
    x->aborted = true;
    x->conn = NULL;
    x->suspended = false;
    if (!x->done)
        gw_upstream_kick(x->owner, x);
    gw_xfer_unref(x);
}

/* ---- the loop's side ----------------------------------------------------- */

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

/* The transfer is over: out of the multi handle, wake the client, drop its ref. */
static void gw_upstream_finish(struct gw_upstream *up, struct gw_xfer *x, CURLcode result,
                               bool timed_out)
{
    if (!x->in_multi)
        return;
    curl_multi_remove_handle(up->multi, x->easy);
    x->in_multi = false;
    gw_active_unlink(up, x);
    gw_metrics_latency(up->metrics, gw_now_us() - x->started_us);
    x->done = true;
    x->result = result;
    x->timed_out = timed_out;
    if (result != CURLE_OK && x->errbuf[0] == '\0')
        snprintf(x->errbuf, sizeof(x->errbuf), "%s", curl_easy_strerror(result));
    gw_xfer_wake_client(x);
    gw_xfer_unref(x);
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

static void gw_upstream_run_kicks(struct gw_upstream *up)
{
    struct gw_xfer *x, *next;

    while ((x = up->kicks) != NULL) {
        up->kicks = NULL;
        for (; x != NULL; x = next) {
            next = x->qnext;
            x->kicked = false;
            if (x->aborted)
                gw_upstream_finish(up, x, CURLE_ABORTED_BY_CALLBACK, false);
            else if (x->in_multi)
                curl_easy_pause(x->easy, CURLPAUSE_CONT);   /* may call our callbacks */
            gw_xfer_unref(x);   /* the kick's reference */
        }
    }
}

/* 504 for transfers whose upstream has not answered in time. */
static void gw_upstream_check_deadlines(struct gw_upstream *up, uint64_t now)
{
    struct gw_xfer *next;

    up->deadline_us = GW_NO_TIME;
    for (struct gw_xfer *x = up->active; x != NULL; x = next) {
        next = x->anext;
        if (x->headers_done || x->up_paused)
            continue;       /* answered, or curl waits for the client's body */
        if (now >= x->header_deadline_us) {
            snprintf(x->errbuf, sizeof(x->errbuf), "no response headers in time");
            gw_upstream_finish(up, x, CURLE_OPERATION_TIMEDOUT, true);
        } else if (x->header_deadline_us < up->deadline_us) {
            up->deadline_us = x->header_deadline_us;
        }
    }
}

void gw_upstream_on_socket(struct gw_upstream *up, int fd, uint32_t events)
{
    int flags = 0, running;

    if (fd >= 0 && (size_t)fd < up->nfds && (up->fds[fd] & GW_FD_PARKED)) {
        gw_upstream_unwatch(up, fd, &up->fds[fd]);  /* idle connection closed or spoke */
        return;
    }
    if (fd >= 0 && (size_t)fd < up->nfds && !(up->fds[fd] & GW_FD_REGISTERED))
        return;     /* unregistered earlier in this batch */

    if (events & EPOLLIN)
        flags |= CURL_CSELECT_IN;
    if (events & EPOLLOUT)
        flags |= CURL_CSELECT_OUT;
    if (events & (EPOLLERR | EPOLLHUP))
        flags |= CURL_CSELECT_ERR;
    curl_multi_socket_action(up->multi, fd, flags, &running);
    gw_upstream_reap(up);
}

bool gw_upstream_take_resumed(struct gw_upstream *up)
{
    bool r = up->resumed;
    up->resumed = false;
    return r;
}

int gw_upstream_timeout_ms(struct gw_upstream *up)
{
    if (up->kicks != NULL || up->resumed)
        return 0;
    uint64_t due = up->timer_us < up->deadline_us ? up->timer_us : up->deadline_us;
    if (due == GW_NO_TIME)
        return -1;
    uint64_t now = gw_now_us();
    if (due <= now)
        return 0;
    uint64_t ms = (due - now + 999u) / 1000u;
    return ms > 60000u ? 60000 : (int)ms;
}

void gw_upstream_run(struct gw_upstream *up)
{
    int running;

    gw_upstream_run_kicks(up);
    uint64_t now = gw_now_us();
    if (now >= up->timer_us) {
        up->timer_us = GW_NO_TIME;
        curl_multi_socket_action(up->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    if (now >= up->deadline_us)
        gw_upstream_check_deadlines(up, now);
    gw_upstream_reap(up);
}

struct gw_upstream *gw_upstream_create(int epfd, uint64_t tag, struct gw_metrics *m,
                                       char *err, size_t errlen)
{
    struct gw_upstream *up = calloc(1, sizeof(*up));

    if (up == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    up->epfd = epfd;
    up->tag = tag;
    up->metrics = m;
    up->timer_us = up->deadline_us = GW_NO_TIME;
    up->multi = curl_multi_init();
    if (up->multi == NULL) {
        snprintf(err, errlen, "curl_multi_init failed");
        free(up);
        return NULL;
    }
    curl_multi_setopt(up->multi, CURLMOPT_MAXCONNECTS, 1024L);
    curl_multi_setopt(up->multi, CURLMOPT_SOCKETFUNCTION, gw_cb_socket);
    curl_multi_setopt(up->multi, CURLMOPT_SOCKETDATA, up);
    curl_multi_setopt(up->multi, CURLMOPT_TIMERFUNCTION, gw_cb_timer);
    curl_multi_setopt(up->multi, CURLMOPT_TIMERDATA, up);
    return up;
}

void gw_upstream_stop(struct gw_upstream *up)
{
    gw_upstream_run_kicks(up);
    up->stopping = true;
    while (up->active != NULL)
        gw_upstream_finish(up, up->active, CURLE_ABORTED_BY_CALLBACK, false);
}

void gw_upstream_destroy(struct gw_upstream *up)
{
    if (up == NULL)
        return;
    gw_upstream_stop(up);
    curl_multi_cleanup(up->multi);
    while (up->nidle > 0)
        curl_easy_cleanup(up->idle[--up->nidle]);
    free(up->fds);
    free(up);
}
