/*
 * gw_upstream: the gateway's HTTP client side. One thread runs a libcurl
 * multi handle (its connection cache keeps upstream connections alive);
 * every proxied request is one transfer (struct gw_xfer) shared between that
 * thread and the libmicrohttpd thread serving the client.
 *
 *   MHD thread (client)                       upstream thread (curl)
 *   -------------------                       ----------------------
 *   gw_xfer_create + gw_upstream_submit  -->  curl_multi_add_handle
 *   body chunk -> gw_xfer_push_body           read_cb: ring -> socket
 *     ring full: suspend client  <---resume-- (space again)
 *   gw_xfer_end_body  ---------------kick-->  read_cb: EOF
 *   wait for headers: suspend    <---resume-- first body bytes, the end, or
 *                                             20 ms after the headers
 *   content reader: gw_xfer_pull_body         write_cb: socket -> ring
 *     ring empty: suspend client <---resume-- (data again / done)
 *     ring drained  -----------------kick-->  unpause the write side
 *   request completed: gw_xfer_release -kick-> abort if still running
 *
 * Bodies never sit whole in memory: each direction is a bounded ring, and a
 * full ring pauses the producer (MHD suspend on one side, CURL_*_PAUSE on the
 * other). curl_easy_pause is only ever called on the upstream thread: the MHD
 * side "kicks" a transfer, which queues it for the upstream thread.
 *
 * Lifetime: refs counts the MHD side, the upstream thread's side and any
 * pending kick; the last release frees. Every field below `lock` is guarded
 * by it.
 */
#ifndef UR_GW_UPSTREAM_H
#define UR_GW_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include <curl/curl.h>
#include <microhttpd.h>

#include "gateway/gw_metrics.h"
#include "router/strbuf.h"

/* at most, below glibc's mmap threshold: no mmap/munmap per request */
#define GW_UP_RING   (64 * 1024)     /* request body in flight */
#define GW_DOWN_RING (64 * 1024)     /* response body in flight */
#define GW_RING_MIN  4096            /* first allocation */

struct gw_ring {
    char  *buf;     /* NULL until the first byte */
    size_t cap;
    size_t max;     /* cap never grows past this */
    size_t head;    /* next byte to read */
    size_t len;     /* bytes stored */
};

struct gw_upstream;

struct gw_xfer {
    CURL              *easy;        /* owned; used by the upstream thread once submitted */
    struct curl_slist *req_headers; /* owned */
    char              *url;         /* owned */
    char               upstream[256]; /* base URL, named in 502/504 bodies */
    uint64_t           header_deadline_us; /* 504 if no response headers by then */
    uint64_t           started_us;
    struct gw_upstream *owner;      /* runs it; its easy handle goes back there */

    pthread_mutex_t    lock;
    int                refs;
    struct MHD_Connection *conn;    /* NULL once the client side released */
    bool               suspended;   /* the client connection waits for us */
    struct gw_ring     up;          /* request body */
    bool               up_done;     /* client body complete */
    bool               up_paused;   /* read_cb returned PAUSE */
    long               status;      /* upstream status code */
    struct strbuf      resp_headers;/* "Name: value\r\n" lines, hop-by-hop kept */
    bool               headers_done;
    uint64_t           headers_us;  /* when they were complete */
    bool               headers_woken; /* the client was woken since */
    struct gw_ring     down;        /* response body */
    bool               down_paused; /* write_cb returned PAUSE */
    bool               done;        /* transfer over */
    CURLcode           result;
    bool               timed_out;   /* header deadline passed */
    bool               aborted;     /* client side gone: stop */
    char               errbuf[CURL_ERROR_SIZE];

    /* upstream thread only */
    bool               in_multi;
    bool               kicked;      /* in the kick queue (guarded by the upstream lock) */
    struct gw_xfer    *qnext;       /* add / kick queue link */
    struct gw_xfer    *anext, *aprev; /* active list */
};

struct gw_xfer_params {
    const char *method;
    const char *url;            /* full URL */
    const char *upstream;       /* base URL, for messages */
    struct curl_slist *headers; /* taken over, also on failure */
    bool        has_body;
    long long   content_length; /* -1 unknown (chunked) */
    int         connect_timeout_ms;
    int         header_timeout_ms;
};

/* Start the upstream thread. NULL with err on failure. */
struct gw_upstream *gw_upstream_create(struct gw_metrics *m, char *err, size_t errlen);

/*
 * Finish every transfer (as failed, resuming their clients) and stop the
 * thread. Later submits fail; kicks and releases stay safe until destroy.
 */
void gw_upstream_stop(struct gw_upstream *up);

/* Stop if needed and free. No MHD thread may use up any more. NULL: no-op. */
void gw_upstream_destroy(struct gw_upstream *up);

/*
 * A new transfer for conn, run by up, with one reference for the caller.
 * NULL on failure (p->headers freed either way).
 */
struct gw_xfer *gw_xfer_create(struct gw_upstream *up, const struct gw_xfer_params *p,
                               struct MHD_Connection *conn);

/* Hand x to the upstream thread. Returns 0, or -1 if it is stopping. */
int gw_upstream_submit(struct gw_upstream *up, struct gw_xfer *x);

/*
 * Client body bytes: takes what fits in the ring, returns how many. When it
 * could not take all, the client connection is suspended (the upstream
 * thread resumes it when there is room). MHD thread only.
 */
size_t gw_xfer_push_body(struct gw_upstream *up, struct gw_xfer *x, const char *data, size_t len);

/* The client body is complete. */
void gw_xfer_end_body(struct gw_upstream *up, struct gw_xfer *x);

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
ssize_t gw_xfer_pull_body(struct gw_upstream *up, struct gw_xfer *x, char *buf, size_t max);

/* Drop the MHD side's reference (aborting the transfer if still running). */
void gw_xfer_release(struct gw_upstream *up, struct gw_xfer *x);

/* Extra references, e.g. for a response object reading the body. */
void gw_xfer_ref(struct gw_xfer *x);
void gw_xfer_unref(struct gw_xfer *x);

uint64_t gw_now_us(void);

#endif
