/*
 * gw_worker: one event loop per worker thread. A worker owns an epoll set
 * holding its libmicrohttpd daemon (external polling, its own SO_REUSEPORT
 * listen socket on the shared address) and its libcurl multi handle's
 * sockets (gw_upstream.h), so a proxied request never changes threads.
 *
 *   epoll_wait (timeout: MHD's and curl's next timed work)
 *     |-- curl socket ready -> gw_upstream_on_socket (body bytes move,
 *     |                        finished transfers resume their clients)
 *     |-- wake eventfd      -> quiesce (drain) or stop, from another thread
 *     `-- (always) MHD_run  -> handlers: route, submit, suspend ...
 *                 gw_upstream_run -> kicks, curl timers, 504 deadlines
 *
 * Other threads only reach a worker through its eventfd: gw_worker_quiesce,
 * gw_worker_destroy, and gw_worker_wake after they resumed one of its
 * connections (libmicrohttpd's own wake-up pipe is not in the epoll set of
 * an externally polled daemon, so a resume alone would wait for a timeout).
 */
#ifndef UR_GW_WORKER_H
#define UR_GW_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>

#include "gateway/gw_metrics.h"
#include "gateway/gw_upstream.h"

struct gw_worker {
    void               *ctx;        /* the server's, for its callbacks */
    struct gw_upstream *up;         /* owned; worker thread only */
    struct MHD_Daemon  *mhd;        /* owned once attached */
    int                 epfd;
    int                 wakefd;     /* eventfd */
    int                 mhd_fd;     /* the daemon's epoll fd, in ours */
    pthread_t           thread;
    bool                running;    /* the thread was started */
    atomic_uint         cmd;        /* GW_WORKER_* requests */
};

/* A worker whose callbacks get ctx; no daemon, no thread yet. NULL with err. */
struct gw_worker *gw_worker_create(void *ctx, struct gw_metrics *m, char *err, size_t errlen);

/*
 * Take mhd (started with MHD_USE_EPOLL, no internal thread, and this worker
 * as its callbacks' closure) and run the loop in a new thread. On failure
 * returns -1 with err and mhd stays the caller's.
 */
int gw_worker_start(struct gw_worker *w, struct MHD_Daemon *mhd, char *err, size_t errlen);

/*
 * Another thread resumed one of w's connections: make the loop run its
 * daemon now. Any thread; ctx is the worker (a gw_hold_entry wake).
 */
void gw_worker_wake(void *ctx);

/* Stop accepting connections (the worker closes its listen socket). */
void gw_worker_quiesce(struct gw_worker *w);

/*
 * Stop the loop (transfers finish as failed, their clients resume), close
 * every connection, free. NULL is a no-op.
 */
void gw_worker_destroy(struct gw_worker *w);

#endif
