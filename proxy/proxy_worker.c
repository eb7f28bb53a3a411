/*
 * proxy_worker: the event loops. Each worker thread has its own epoll, in
 * which the one listening socket is registered with EPOLLEXCLUSIVE (one
 * worker wakes per connection; no SO_REUSEPORT, so a second proxy on the
 * same port fails to start instead of silently sharing it), and an eventfd
 * the admin thread uses to ask for kills.
 *
 *   accept -> client socket (keepalive, nodelay) + non-blocking backend
 *             connect (keepalive, nodelay, connect deadline)
 *   readable client  -> cin  -> session_on_client_data
 *   readable backend -> bin  -> session_on_backend_data
 *   writable client  <- bin[start, start + bready)
 *   writable backend <- bout
 *   interest is recomputed after every event: a full buffer stops reading
 *   the side that fills it, so a slow client slows the backend, never the
 *   proxy's memory.
 *
 * Level-triggered epoll (interest sets change only when a buffer fills or
 * a side closes, so steady traffic costs no epoll_ctl); one recv and one
 * send per direction per statement; result bytes are copied once, socket
 * to bin to socket. Buffers stay while a connection is busy (no malloc per
 * statement) and are freed after a tick without traffic, so an idle client
 * costs a few hundred bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proxy/mysql_packet.h"
#include "proxy/proxy.h"
#include "proxy/proxy_inspect.h"
#include "router/log.h"

#define EVENTS_MAX 256
#define TICK_MS    100

static struct proxy_handle listen_handle = { NULL, false };
static struct proxy_handle wake_handle = { NULL, true };

int64_t proxy_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- pbuf ------------------------------------------------------------------ */

size_t pbuf_len(const struct pbuf *b)
{
    return b->end - b->start;
}

int pbuf_reserve(struct pbuf *b, size_t n)
{
    if (b->cap - b->end >= n)
        return 0;
    if (b->start > 0) {                 /* compact first */
        memmove(b->data, b->data + b->start, b->end - b->start);
        b->end -= b->start;
        b->start = 0;
        if (b->cap - b->end >= n)
            return 0;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->end < n)
        cap *= 2;
    uint8_t *d = realloc(b->data, cap);
    if (d == NULL)
        return -1;
    b->data = d;
    b->cap = cap;
    return 0;
}

int pbuf_append(struct pbuf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (pbuf_reserve(b, n) != 0)
        return -1;
    memcpy(b->data + b->end, p, n);
    b->end += n;
    return 0;
}

void pbuf_consume(struct pbuf *b, size_t n)
{
    b->start += n;
    if (b->start == b->end)
        b->start = b->end = 0;
}

void pbuf_free(struct pbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/*
 * An empty buffer gives back its memory when it is larger than keep: after
 * each response the 16 MB a large row needed goes (keep PROXY_BUF_ACTIVE,
 * so a busy connection mallocs nothing per statement), and the sweep frees
 * every empty buffer of a connection idle for a tick (keep 0).
 */
static void pbuf_trim(struct pbuf *b, size_t keep)
{
    if (b->start == b->end && b->cap > keep)
        pbuf_free(b);
}

/* ---- sockets --------------------------------------------------------------- */

static void socket_tune(int fd, const struct proxy_keepalive *k)
{
    int one = 1;

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &k->idle_s, sizeof(k->idle_s));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &k->interval_s, sizeof(k->interval_s));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &k->count, sizeof(k->count));
    if (k->user_timeout_ms > 0) {
        unsigned t = (unsigned)k->user_timeout_ms;
        setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &t, sizeof(t));
    }
}

static int listen_open(const struct sockaddr_in *addr, char *err, size_t errlen)
{
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        goto fail;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)addr, sizeof(*addr)) != 0 || listen(fd, 1024) != 0)
        goto fail;
    return fd;
fail:
    snprintf(err, errlen, "listen: %s", strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

/* ---- connections ----------------------------------------------------------- */

/* Send n bytes from b's start (send, not write: no VFS layer, no SIGPIPE). */
static ssize_t conn_send(int fd, const struct pbuf *b, size_t n)
{
    return send(fd, b->data + b->start, n, MSG_NOSIGNAL);
}

static bool conn_want_client_read(const struct proxy_conn *c)
{
    size_t have = pbuf_len(&c->cin);

    if (c->phase == PROXY_PHASE_CLOSING || pbuf_len(&c->bout) >= 4 * PROXY_BUF_CHUNK)
        return false;
    if (have < PROXY_BUF_CHUNK || c->discard)
        return true;
    /* a large command being gathered before it can be inspected */
    return c->phase == PROXY_PHASE_COMMAND && c->resp == PROXY_RESP_NONE && !c->client_raw;
}

static bool conn_want_backend_read(const struct proxy_conn *c)
{
    return c->bfd >= 0 && c->phase != PROXY_PHASE_CONNECTING &&
           c->phase != PROXY_PHASE_CLOSING && pbuf_len(&c->bin) < PROXY_BUF_CHUNK;
}

static void conn_update_events(struct proxy_conn *c)
{
    int epfd = c->w->epfd;
    uint32_t cm = (conn_want_client_read(c) ? EPOLLIN : 0) | (c->bready > 0 ? EPOLLOUT : 0);

    if (cm != c->cmask) {
        struct epoll_event ev = { .events = cm, .data.ptr = &c->ch };
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->cfd, &ev);
        c->cmask = cm;
    }
    if (c->bfd < 0)
        return;
    uint32_t bm = (conn_want_backend_read(c) ? EPOLLIN : 0) |
                  ((pbuf_len(&c->bout) > 0 || c->phase == PROXY_PHASE_CONNECTING) ? EPOLLOUT : 0);
    if (bm != c->bmask) {
        struct epoll_event ev = { .events = bm, .data.ptr = &c->bh };
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->bfd, &ev);
        c->bmask = bm;
    }
}

/* Close the backend side (its transaction rolls back); keep the client. */
static void conn_close_backend(struct proxy_conn *c)
{
    if (c->bfd < 0)
        return;
    close(c->bfd);
    c->bfd = -1;
    pthread_mutex_lock(&c->w->lock);
    c->nwkeys = 0;
    pthread_mutex_unlock(&c->w->lock);
    pbuf_free(&c->bout);
}

static void conn_destroy(struct proxy_conn *c)
{
    struct proxy_worker *w = c->w;
    struct proxy *px = w->px;

    conn_close_backend(c);
    close(c->cfd);
    pthread_mutex_lock(&w->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&w->lock);
    if (c->counted_trans)
        atomic_fetch_sub(&px->m.transactions, 1);
    atomic_fetch_sub(&px->m.connections, 1);
    inspect_release(c);
    pbuf_free(&c->cin);
    pbuf_free(&c->bin);
    log_debug("conn %llu closed", (unsigned long long)c->id);
    free(c);
}

/* The backend is gone: tell the client if it is waiting, then close. */
static void conn_backend_lost(struct proxy_conn *c, const char *why)
{
    char msg[256];

    atomic_fetch_add(&c->w->px->m.backend_errors, 1);
    snprintf(msg, sizeof(msg), "unitproxy: backend %s %s", c->w->px->cfg.backend, why);
    if (c->phase == PROXY_PHASE_CONNECTING ||
        (c->phase == PROXY_PHASE_GREETING && pbuf_len(&c->bin) == 0))
        session_send_error(c, 0, PROXY_ERR_BACKEND, PROXY_ERR_BACKEND_STATE, msg);
    else if (c->phase == PROXY_PHASE_COMMAND && c->resp != PROXY_RESP_NONE && c->bskip == 0 &&
             !c->bcont && c->bready == pbuf_len(&c->bin))
        session_send_error(c, 1, PROXY_ERR_BACKEND,
                           PROXY_ERR_BACKEND_STATE, msg);
    log_info("conn %llu: %s", (unsigned long long)c->id, msg);
    conn_close_backend(c);
    c->phase = PROXY_PHASE_CLOSING;
}

/* Read what is there into b; 1 = got data, 0 = EOF, -1 = error, 2 = nothing. */
static int conn_read(int fd, struct pbuf *b, size_t want)
{
    if (pbuf_reserve(b, want) != 0)
        return -1;
    ssize_t n = recv(fd, b->data + b->end, b->cap - b->end, 0);
    if (n > 0) {
        b->end += (size_t)n;
        return 1;
    }
    if (n == 0)
        return 0;
    return (errno == EAGAIN || errno == EINTR) ? 2 : -1;
}

static int conn_on_client(struct proxy_conn *c, uint32_t ev)
{
    if (ev & EPOLLOUT) {
        ssize_t n = conn_send(c->cfd, &c->bin, c->bready);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
        if (n > 0) {
            pbuf_consume(&c->bin, (size_t)n);
            c->bready -= (size_t)n;
        }
        if (c->phase == PROXY_PHASE_CLOSING && c->bready == 0)
            return -1;
    }
    if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) && conn_want_client_read(c)) {
        int rc = conn_read(c->cfd, &c->cin, PROXY_BUF_KEEP / 2);
        if (rc == 0 || rc < 0)
            return -1;                  /* the client left: the backend rolls back */
        if (rc == 1 && session_on_client_data(c) != 0)
            return -1;
    } else if (ev & (EPOLLHUP | EPOLLERR)) {
        return -1;
    }
    return 0;
}

static int conn_on_backend(struct proxy_conn *c, uint32_t ev)
{
    if (c->phase == PROXY_PHASE_CONNECTING && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(c->bfd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            conn_backend_lost(c, strerror(err));
            return 0;
        }
        session_start(c);
        return 0;
    }
    if ((ev & EPOLLOUT) && pbuf_len(&c->bout) > 0) {
        ssize_t n = conn_send(c->bfd, &c->bout, pbuf_len(&c->bout));
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            conn_backend_lost(c, strerror(errno));
            return 0;
        }
        if (n > 0)
            pbuf_consume(&c->bout, (size_t)n);
        /* room in bout again: raw client bytes may flow */
        if (pbuf_len(&c->cin) > 0 && session_on_client_data(c) != 0)
            return -1;
    }
    if (c->bfd >= 0 && (((ev & EPOLLIN) && conn_want_backend_read(c)) ||
                        (ev & (EPOLLHUP | EPOLLERR)))) {
        int rc = conn_read(c->bfd, &c->bin, PROXY_BUF_CHUNK);
        if (rc == 0 || rc < 0) {
            /* deliver what was complete (an ERR before the close) */
            if (session_on_backend_data(c) != 0)
                return -1;
            conn_backend_lost(c, rc == 0 ? "closed the connection" : strerror(errno));
            return 0;
        }
        if (rc == 1 && session_on_backend_data(c) != 0)
            return -1;
    }
    return 0;
}

/*
 * Write what is queued right away: most of the time the socket takes it and
 * no EPOLLOUT round trip (two epoll_ctl calls) is needed. Returns -1 when
 * the client is gone.
 */
static int conn_flush(struct proxy_conn *c)
{
    if (c->bfd >= 0 && c->phase != PROXY_PHASE_CONNECTING && pbuf_len(&c->bout) > 0) {
        ssize_t n = conn_send(c->bfd, &c->bout, pbuf_len(&c->bout));
        if (n > 0)
            pbuf_consume(&c->bout, (size_t)n);
        else if (n < 0 && errno != EAGAIN && errno != EINTR)
            conn_backend_lost(c, strerror(errno));
    }
    if (c->bready > 0) {
        ssize_t n = conn_send(c->cfd, &c->bin, c->bready);
        if (n > 0) {
            pbuf_consume(&c->bin, (size_t)n);
            c->bready -= (size_t)n;
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            return -1;
        }
    }
    return c->phase == PROXY_PHASE_CLOSING && c->bready == 0 ? -1 : 0;
}

static int conn_after_event(struct proxy_conn *c)
{
    if (conn_flush(c) != 0)
        return -1;
    c->busy = true;
    if (c->resp == PROXY_RESP_NONE && !c->client_raw) {
        pbuf_trim(&c->cin, PROXY_BUF_ACTIVE);
        pbuf_trim(&c->bout, PROXY_BUF_ACTIVE);
        if (c->bready == 0)
            pbuf_trim(&c->bin, PROXY_BUF_ACTIVE);
    }
    conn_update_events(c);
    return 0;
}

static void worker_refuse_accept(int fd, const char *msg, uint16_t code, const char *state)
{
    uint8_t pkt[512];
    size_t n = mysql_err_build(pkt, sizeof(pkt), 0, code, state, msg);

    if (write(fd, pkt, n) < 0)
        (void)0;                        /* best effort; it is closed anyway */
    close(fd);
}

static void worker_accept(struct proxy_worker *w)
{
    struct proxy *px = w->px;

    for (;;) {
        int fd = accept4(w->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if (atomic_load(&px->m.connections) >= px->cfg.max_connections) {
            worker_refuse_accept(fd, "unitproxy: too many connections (max_connections)",
                                 PROXY_ERR_TOO_MANY, PROXY_ERR_TOO_MANY_STATE);
            continue;
        }
        struct proxy_conn *c = calloc(1, sizeof(*c));
        int bfd = socket(px->backend.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c == NULL || bfd < 0) {
            free(c);
            if (bfd >= 0)
                close(bfd);
            worker_refuse_accept(fd, "unitproxy: out of resources", PROXY_ERR_BACKEND,
                                 PROXY_ERR_BACKEND_STATE);
            continue;
        }
        socket_tune(fd, &px->cfg.keepalive);
        if (!px->backend.local)     /* a Unix socket has no TCP options */
            socket_tune(bfd, &px->cfg.keepalive);
        c->w = w;
        c->cfd = fd;
        c->bfd = bfd;
        c->ch.c = c;
        c->bh.c = c;
        c->bh.backend = true;
        c->id = ((uint64_t)w->index << 48) | ++w->next_id;
        c->phase = PROXY_PHASE_CONNECTING;
        c->deadline_ms = proxy_now_ms() + px->cfg.connect_timeout_ms;
        atomic_init(&c->kill, false);
        atomic_fetch_add(&px->m.connections, 1);
        atomic_fetch_add(&px->m.connections_total, 1);
        pthread_mutex_lock(&w->lock);
        c->next = w->conns;
        if (w->conns)
            w->conns->prev = c;
        w->conns = c;
        pthread_mutex_unlock(&w->lock);

        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &c->ch };
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev);
        c->cmask = EPOLLIN;
        ev.events = EPOLLOUT;
        ev.data.ptr = &c->bh;
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, bfd, &ev);
        c->bmask = EPOLLOUT;
        if (connect(bfd, (const struct sockaddr *)&px->backend.addr, px->backend.len) != 0 &&
            errno != EINPROGRESS) {
            conn_backend_lost(c, strerror(errno));
            conn_update_events(c);
        }
    }
}

/* A connection without traffic for a tick keeps no buffers. */
static void conn_trim_idle(struct proxy_conn *c)
{
    if (c->busy) {
        c->busy = false;
        return;
    }
    if (c->resp != PROXY_RESP_NONE || c->client_raw || c->bready > 0)
        return;
    pbuf_trim(&c->cin, 0);
    pbuf_trim(&c->bout, 0);
    pbuf_trim(&c->bin, 0);
}

/* Connect deadlines, kill requests from the drain, idle buffers. */
static void worker_sweep(struct proxy_worker *w)
{
    int64_t now = proxy_now_ms();
    struct proxy_conn *c = w->conns, *next;

    for (; c; c = next) {
        next = c->next;
        conn_trim_idle(c);
        if (atomic_exchange(&c->kill, false))
            c->kill_pending = true;
        if (c->kill_pending && c->resp == PROXY_RESP_NONE && c->bfd >= 0) {
            /* a statement in flight (a COMMIT?) is waited for: it ends
             * before the ack, or the drain times out and answers 503 */
            c->kill_pending = false;
            atomic_fetch_add(&w->px->m.drain_kills, 1);
            if (c->resp == PROXY_RESP_NONE && c->bready == pbuf_len(&c->bin))
                session_send_error(c, 0, PROXY_ERR_KILLED, "40001",
                                   "unitproxy: connection closed by a write ban: its open "
                                   "transaction wrote a banned bucket and was rolled back");
            log_info("conn %llu: closed by the ban drain", (unsigned long long)c->id);
            conn_close_backend(c);
            c->phase = PROXY_PHASE_CLOSING;
            if (c->bready == 0) {
                conn_destroy(c);
                continue;
            }
            conn_update_events(c);
        } else if (c->phase == PROXY_PHASE_CONNECTING && now >= c->deadline_ms) {
            conn_backend_lost(c, "did not accept the connection in time");
            conn_update_events(c);
        }
    }
}

static void *worker_main(void *arg)
{
    struct proxy_worker *w = arg;
    struct epoll_event evs[EVENTS_MAX];
    int64_t next_sweep = proxy_now_ms() + TICK_MS;

    while (!atomic_load(&w->stop)) {
        int n = epoll_wait(w->epfd, evs, EVENTS_MAX, TICK_MS);
        for (int i = 0; i < n; i++) {
            struct proxy_handle *h = evs[i].data.ptr;
            if (h == NULL)
                continue;               /* its connection was closed above */
            if (h == &listen_handle) {
                worker_accept(w);
                continue;
            }
            if (h == &wake_handle) {
                uint64_t v;
                if (read(w->evfd, &v, sizeof(v)) < 0)
                    (void)0;
                w->sweep_due = true;
                continue;
            }
            struct proxy_conn *c = h->c;
            int rc = h->backend ? conn_on_backend(c, evs[i].events)
                                : conn_on_client(c, evs[i].events);
            if (rc == 0)
                rc = conn_after_event(c);
            if (rc != 0) {
                /* later events in this batch may name c: mark them stale */
                for (int k = i + 1; k < n; k++) {
                    struct proxy_handle *o = evs[k].data.ptr;
                    if (o == &c->ch || o == &c->bh)
                        evs[k].data.ptr = NULL;
                }
                conn_destroy(c);
            }
        }
        int64_t now = proxy_now_ms();
        if (now >= next_sweep || w->sweep_due) {
            w->sweep_due = false;
            worker_sweep(w);
            next_sweep = now + TICK_MS;
        }
    }
    while (w->conns)
        conn_destroy(w->conns);
    return NULL;
}

void proxy_worker_wake(struct proxy_worker *w)
{
    uint64_t one = 1;

    if (write(w->evfd, &one, sizeof(one)) < 0)
        (void)0;                        /* the counter is full: already woken */
}

int proxy_workers_start(struct proxy *px, char *err, size_t errlen)
{
    px->workers = calloc((size_t)px->cfg.workers, sizeof(*px->workers));
    if (px->workers == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    px->lfd = listen_open(&px->listen_addr, err, errlen);
    if (px->lfd < 0) {
        free(px->workers);
        px->workers = NULL;
        return -1;
    }
    for (int i = 0; i < px->cfg.workers; i++) {
        struct proxy_worker *w = &px->workers[i];
        w->px = px;
        w->index = i;
        w->epfd = w->evfd = -1;
        w->lfd = px->lfd;
        w->epfd = epoll_create1(EPOLL_CLOEXEC);
        w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        pthread_mutex_init(&w->lock, NULL);
        atomic_init(&w->stop, false);
        if (w->epfd < 0 || w->evfd < 0) {
            px->nworkers = i + 1;
            snprintf(err, errlen, "epoll/eventfd: %s", strerror(errno));
            proxy_workers_stop(px);
            return -1;
        }
        struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE,
                                  .data.ptr = &listen_handle };
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->lfd, &ev);
        ev.events = EPOLLIN;
        ev.data.ptr = &wake_handle;
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev);
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            snprintf(err, errlen, "pthread_create failed");
            px->nworkers = i + 1;
            proxy_workers_stop(px);
            return -1;
        }
        w->thread_started = true;
        px->nworkers = i + 1;
    }
    return 0;
}

void proxy_workers_stop(struct proxy *px)
{
    for (int i = 0; i < px->nworkers; i++) {
        struct proxy_worker *w = &px->workers[i];
        atomic_store(&w->stop, true);
        if (w->thread_started) {
            proxy_worker_wake(w);
            pthread_join(w->thread, NULL);
        }
        if (w->epfd >= 0)
            close(w->epfd);
        if (w->evfd >= 0)
            close(w->evfd);
        pthread_mutex_destroy(&w->lock);
    }
    if (px->lfd >= 0)
        close(px->lfd);
    px->lfd = -1;
    free(px->workers);
    px->workers = NULL;
    px->nworkers = 0;
}
