/*
 * gw_upstream: the gateway's HTTP client side. Each worker (gw_worker.h) has
 * one: a libcurl multi handle driven through the socket interface from the
 * worker's own epoll loop (its connection cache keeps upstream connections
 * alive). Every proxied request is one transfer (struct gw_xfer) that lives
 * on the worker thread serving its client: no locks, no hand-off.
 *
 *   MHD side (client), worker thread          curl side, same thread
 *   --------------------------------          ----------------------
 *   gw_xfer_create + gw_upstream_submit  -->  curl_multi_add_handle
 *   body chunk -> gw_xfer_push_body           read_cb: ring -> socket
 *     ring full: suspend client  <---resume-- (space again)
 *   gw_xfer_end_body  ---------------kick-->  read_cb: EOF
 *   wait for headers: suspend    <---resume-- the response headers (and the
 *                                             body bytes of the same read)
 *   content reader: gw_xfer_pull_body         write_cb: socket -> ring
 *     ring empty: suspend client <---resume-- (data again / done)
 *     ring drained  -----------------kick-->  unpause the write side
 *   request completed: gw_xfer_release -kick-> abort if still running
 *
 * Bodies never sit whole in memory: each direction is a bounded ring, and a
 * full ring pauses the producer (MHD suspend on one side, CURL_*_PAUSE on the
 * other). The one exception is small: a request body of known length up to
 * GW_BUFFERED_BODY is collected in the up ring first, and gw_xfer_end_body
 * submits the transfer with it as POSTFIELDS (one write with the headers,
 * no read_cb). A "kick" queues the transfer for gw_upstream_run, which the loop
 * calls after MHD_run: curl is never entered from inside a libmicrohttpd
 * callback, and MHD never from inside a curl call.
 *
 * Lifetime: refs counts the MHD side, the multi handle's side, a response
 * object reading the body and a pending kick; the last unref frees.
 */
#ifndef UR_GW_UPSTREAM_H
#define UR_GW_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <microhttpd.h>

#include "gateway/gw_metrics.h"
#include "router/strbuf.h"

/*
 * Ring sizes, at most (they grow on demand, from GW_RING_MIN). The response
 * ring is larger: every time it fills, curl is paused, and whatever is left
 * of curl's current read is copied into a buffer curl allocates, so a full
 * ring must be rare on a long download.
 */
#define GW_UP_RING   (64 * 1024)     /* request body in flight */
#define GW_DOWN_RING (256 * 1024)    /* response body in flight */
#define GW_RING_MIN  4096            /* first allocation */
#define GW_BUFFERED_BODY (16 * 1024) /* a body of known length up to this is sent
                                      * with the headers once it is all here */

struct gw_ring {
    char  *buf;     /* NULL until the first byte */
    size_t cap;
    size_t max;     /* cap never grows past this */
    size_t head;    /* next byte to read */
    size_t len;     /* bytes stored */
};

struct gw_upstream;

struct gw_xfer {
    CURL              *easy;        /* owned (from the upstream's pool) */
    struct curl_slist *req_headers; /* owned: one block (gw_headers.h), free() */
    char               upstream[256]; /* base URL, named in 502/504 bodies */
    uint64_t           header_deadline_us; /* 504 if no response headers by then */
    uint64_t           started_us;
    struct gw_upstream *owner;      /* runs it; its easy handle goes back there */

    int                refs;
    struct MHD_Connection *conn;    /* NULL once the client side released */
    bool               suspended;   /* the client connection waits for us */
    struct gw_ring     up;          /* request body */
    bool               up_done;     /* client body complete */
    bool               up_paused;   /* read_cb returned PAUSE */
    bool               up_full;     /* the client waits for room in the up ring */
    bool               buffered;    /* small body: sent whole with the headers */
    bool               deferred;    /* buffered, waits for its body to be submitted */
    int                header_timeout_ms;
    long               status;      /* upstream status code */
    struct strbuf      resp_headers;/* "Name: value\r\n" lines, hop-by-hop kept */
    bool               headers_done;
    struct gw_ring     down;        /* response body */
    bool               down_paused; /* write_cb returned PAUSE */
    bool               done;        /* transfer over */
    CURLcode           result;
    bool               timed_out;   /* header deadline passed */
    bool               aborted;     /* client side gone: stop */
    char               errbuf[CURL_ERROR_SIZE];

    bool               in_multi;
    bool               kicked;      /* in the kick queue */
    struct gw_xfer    *qnext;       /* kick queue link */
    struct gw_xfer    *anext, *aprev; /* active list */
};

struct gw_xfer_params {
    const char *method;
    const char *url;            /* full URL */
    const char *upstream;       /* base URL, for messages */
    struct curl_slist *headers; /* taken over (one block, free()), also on failure */
    bool        has_body;
    long long   content_length; /* -1 unknown (chunked) */
    int         connect_timeout_ms;
    int         header_timeout_ms;
};

/*
 * A client side for one worker loop. Its sockets go into epfd (borrowed) with
 * epoll data.u64 = tag | fd; the loop hands their events to
 * gw_upstream_on_socket. NULL with err on failure.
 */
struct gw_upstream *gw_upstream_create(int epfd, uint64_t tag, struct gw_metrics *m,
                                       char *err, size_t errlen);

/* An epoll event on one of our sockets (fd from the event's data). */
void gw_upstream_on_socket(struct gw_upstream *up, int fd, uint32_t events);

/*
 * True (once) when a client connection was resumed since the last call:
 * MHD_run must run (again) before the loop sleeps.
 */
bool gw_upstream_take_resumed(struct gw_upstream *up);

/* Milliseconds until gw_upstream_run has timed work (-1: none; 0 after a resume). */
int gw_upstream_timeout_ms(struct gw_upstream *up);

/*
 * Deferred work: kicks, curl's due timers, 504 deadlines, finished
 * transfers (their clients resumed). Call after MHD_run, every loop turn.
 */
void gw_upstream_run(struct gw_upstream *up);

/* Finish every transfer (as failed, resuming their clients); later submits fail. */
void gw_upstream_stop(struct gw_upstream *up);

/* Stop if needed and free. No transfer may be used any more. NULL: no-op. */
void gw_upstream_destroy(struct gw_upstream *up);

/*
 * A new transfer for conn, run by up, with one reference for the caller.
 * NULL on failure (p->headers freed either way).
 */
struct gw_xfer *gw_xfer_create(struct gw_upstream *up, const struct gw_xfer_params *p,
                               struct MHD_Connection *conn);

/*
 * Start x (a buffered body: once gw_xfer_end_body has all of it). Returns 0,
 * or -1 if up is stopping or curl refused it.
 */
int gw_upstream_submit(struct gw_upstream *up, struct gw_xfer *x);

/*
 * Client body bytes: takes what fits in the ring, returns how many. When it
 * could not take all, the client connection is suspended (resumed when
 * there is room).
 */
size_t gw_xfer_push_body(struct gw_xfer *x, const char *data, size_t len);

/* The client body is complete. */
void gw_xfer_end_body(struct gw_xfer *x);

/*
 * True when the response can be started (headers arrived) or the transfer
 * failed first; otherwise suspends the client connection and returns false.
 */
bool gw_xfer_wait_headers(struct gw_xfer *x);

/*
 * Response body bytes for the MHD content reader: > 0 bytes copied, 0 =
 * nothing yet (the client connection was suspended), or
 * MHD_CONTENT_READER_END_OF_STREAM / _END_WITH_ERROR.
 */
ssize_t gw_xfer_pull_body(struct gw_xfer *x, char *buf, size_t max);

/*
 * The response object for x's body, once its headers are in (the caller adds
 * the headers). A finished transfer whose body sits whole in the ring answers
 * from that buffer (handed over, no copy); otherwise a content reader pulls
 * the body as it streams (gw_xfer_pull_body) and holds a reference to x.
 * NULL on allocation failure.
 */
struct MHD_Response *gw_xfer_response(struct gw_xfer *x);

/* Drop the MHD side's reference (aborting the transfer if still running). */
void gw_xfer_release(struct gw_xfer *x);

/* Extra references, e.g. for a response object reading the body. */
void gw_xfer_ref(struct gw_xfer *x);
void gw_xfer_unref(struct gw_xfer *x);

uint64_t gw_now_us(void);

/*
 * Suspend a client connection from a libmicrohttpd callback, robustly.
 * libmicrohttpd 0.9.75: MHD_resume_connection on a connection that is not
 * suspended leaves it flagged "resuming", and the next MHD_suspend_connection
 * on it is then dropped silently (daemon.c, internal_suspend_connection_):
 * the connection would stay active while we wait. A suspend that did not
 * take is repeated (the first call cleared the stale flag).
 */
void gw_mhd_suspend(struct MHD_Connection *conn);

/* Resume conn only if libmicrohttpd has it suspended (its worker's thread). */
void gw_mhd_resume(struct MHD_Connection *conn);

#endif
