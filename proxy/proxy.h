/*
 * proxy: unitproxy's runtime objects, shared by its modules.
 *
 *   struct proxy          one per process: config, rules keeper, workers,
 *    |                    metrics
 *    +-- proxy_worker[i]  one thread, one epoll (the shared listening socket
 *         |               with EPOLLEXCLUSIVE), a mutex guarding its connection
 *         |               list and their write sets (the drain reads them)
 *         +-- proxy_conn  a client socket, its backend socket, buffers,
 *                         protocol state (proxy_session.c)
 *
 * Who does what:
 *   proxy_worker.c   epoll loop, accept, backend connect, socket I/O,
 *                    keepalive options, kill requests from the drain
 *   proxy_session.c  the MySQL protocol state machine of one connection:
 *                    handshake relay, command dispatch, response tracking
 *   proxy_inspect.c  decisions on commands, prepared statements, write sets
 *   proxy_admin.c    admin hooks: ban drain, status JSON, metrics
 *
 * Threads: workers own their connections; the admin thread (libmicrohttpd)
 * only reads write sets under the worker's lock and asks for kills through
 * an atomic flag and the worker's eventfd.
 */
#ifndef UR_PROXY_H
#define UR_PROXY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "proxy/proxy_config.h"
#include "proxy/sql_classify.h"
#include "proxy/sql_decide.h"
#include "router/rules_keeper.h"

/* Errors the proxy sends that are not statement refusals (docs/proxy.md). */
#define PROXY_ERR_BACKEND        7420   /* backend unreachable / lost */
#define PROXY_ERR_BACKEND_STATE  "08S01"
#define PROXY_ERR_TOO_MANY       1040   /* as the server's ER_CON_COUNT_ERROR */
#define PROXY_ERR_TOO_MANY_STATE "08004"
#define PROXY_ERR_KILLED         7421   /* closed by a ban drain */

#define PROXY_BUF_CHUNK   (64u * 1024)  /* backend read-ahead, client soft cap */
#define PROXY_BUF_KEEP    (32u * 1024)  /* client read-ahead is half this */
#define PROXY_BUF_ACTIVE  (2 * PROXY_BUF_CHUNK) /* a busy connection keeps buffers this small */

/* A byte buffer: data[start..end) holds the bytes not yet consumed. */
struct pbuf {
    uint8_t *data;
    size_t   start, end, cap;
};

enum proxy_phase {
    PROXY_PHASE_CONNECTING,     /* backend connect in progress */
    PROXY_PHASE_GREETING,       /* waiting for the server's handshake */
    PROXY_PHASE_AUTH,           /* relaying authentication */
    PROXY_PHASE_COMMAND,        /* inspecting commands */
    PROXY_PHASE_CLOSING,        /* flush to client, then close */
};

/* What the backend's next packet is, in the current response. */
enum proxy_resp {
    PROXY_RESP_NONE,            /* no command outstanding */
    PROXY_RESP_FIRST,           /* OK / ERR / LOCAL INFILE / column count */
    PROXY_RESP_COLDEFS,         /* rcount column definitions */
    PROXY_RESP_COLDEFS_EOF,     /* the EOF after them (no DEPRECATE_EOF) */
    PROXY_RESP_ROWS,            /* rows until EOF/OK or ERR */
    PROXY_RESP_PREPARE,         /* PREPARE OK or ERR */
    PROXY_RESP_SKIP,            /* rcount packets, then done */
    PROXY_RESP_ONE,             /* any one packet, then done */
    PROXY_RESP_INFILE,          /* client streams a file; then FIRST */
    PROXY_RESP_AUTH,            /* COM_CHANGE_USER exchange */
};

struct proxy_stmt {             /* a prepared statement the server knows */
    uint32_t        id;
    uint16_t        nparams;
    struct sql_stmt *st;        /* classification (owned) */
    uint8_t        *types;      /* 2 * nparams: last bound types */
    bool            types_known;
    uint8_t        *long_data;  /* bitmap: params sent as long data */
};

/*
 * The session changes a command makes once its statements succeed (USE,
 * COM_INIT_DB, SET NAMES ...), each with the index of the statement that
 * makes it. The server runs a query's statements in order and stops at the
 * first error; at the response's end the last change of a statement that
 * completed holds (proxy_inspect.c: inspect_response_end). Only the last
 * PROXY_PENDING_MAX changes of each kind are kept.
 */
#define PROXY_PENDING_MAX 8

struct proxy_pending {
    bool     active;            /* changes wait for the response's end */
    bool     unsure;            /* the statements could not be followed: schema unknown */
    uint32_t exact;             /* statements below this index give one result each */
    uint32_t ndb, ncs;          /* changes recorded (kept: the last PROXY_PENDING_MAX) */
    uint32_t db_stmt[PROXY_PENDING_MAX];
    char     db[PROXY_PENDING_MAX][SQL_NAME_MAX];
    bool     db_lost[PROXY_PENDING_MAX];    /* the schema after it cannot be told */
    uint32_t cs_stmt[PROXY_PENDING_MAX];
    unsigned cs[PROXY_PENDING_MAX];     /* cs_mode after that statement */
    unsigned cs_before;         /* cs_mode before the command */
};

struct proxy_worker;

struct proxy_handle {           /* epoll data: which socket of which conn */
    struct proxy_conn *c;
    bool               backend;
};

struct proxy_conn {
    struct proxy_worker *w;
    struct proxy_conn   *prev, *next;   /* the worker's list (w->lock) */
    int                  cfd, bfd;
    struct proxy_handle  ch, bh;
    uint32_t             cmask, bmask;  /* epoll events registered */
    uint64_t             id;
    enum proxy_phase     phase;
    int64_t              deadline_ms;   /* connect deadline */

    struct pbuf cin;            /* from the client, not yet handled */
    struct pbuf bout;           /* to the backend */
    struct pbuf bin;            /* from the backend, and errors for the client */
    size_t      bready;         /* bytes from bin.start scanned: may go to client */
    bool        done_pending;   /* the response ends with the packet being passed */
    bool        close_pending;  /* close once the packet being passed is sent */
    bool        discard;        /* dropping a too-large client command */
    uint8_t     discard_seq;
    uint32_t    bskip;          /* payload bytes of the current packet to pass */
    bool        bcont;          /* current backend packet continues */
    uint32_t    cskip;          /* client packet bytes to pass (raw modes) */
    bool        ccont;
    bool        client_raw;     /* forward client bytes as they come */
    bool        infile_end;     /* INFILE: the empty packet was seen */
    bool        auth_first;     /* AUTH: next client packet is the response */

    enum proxy_resp resp;
    uint8_t     cmd;            /* command being answered */
    uint64_t    rcount;
    uint16_t    status;         /* last server status flags */
    uint32_t    caps;           /* client capabilities (masked) */
    uint32_t    server_caps;    /* greeting capabilities (masked) */
    bool        deprecate_eof;
    char        db[SQL_NAME_MAX];   /* the session's schema, as the server has it */
    bool        db_unknown;     /* not known (db is ""): unqualified names match a
                                 * classified table of that name in any schema */
    unsigned long server_version; /* MariaDB version id of the greeting (0 = unknown) */
    /* how the session's client character set reads bytes above 0x7F, as
     * SQL_MODE_CHARSET_KNOWN | SQL_MODE_SPACE_* | SQL_MODE_MAYBE_* (sql_lexer.h) */
    unsigned    cs_default;     /* the greeting's (server default); 0 = unknown or unsafe */
    unsigned    cs_mode;        /* now */
    unsigned    cs_mode_hs;     /* from the handshake / COM_CHANGE_USER (reset returns here) */
    struct proxy_pending pend;  /* schema / character set changes awaiting the response */
    bool        resp_err;       /* an ERR was seen in the current response */
    uint32_t    resp_results;   /* statement results (OK or result set) completed in it */

    struct proxy_stmt *stmts;   /* prepared statements */
    size_t      nstmts, stmts_cap;
    struct sql_stmt *prep_pending; /* classified PREPARE awaiting its OK */
    uint32_t    last_stmt_id;   /* MariaDB: id 0xffffffff = the last prepared */

    /* keys written in the open transaction, or by a write in flight
     * (w->lock; the drain reads them) */
    uint64_t   *wkeys;
    size_t      nwkeys, wkeys_cap;

    atomic_bool kill;           /* the drain asks the worker to close it */
    bool        kill_pending;   /* close once the statement in flight ends */
    bool        counted_trans;  /* counted in open_transactions */
    bool        busy;           /* had traffic since the last sweep */
};

struct proxy_metrics {
    atomic_ullong statements[2][2];     /* [read=0/write=1][allowed=0/refused=1] */
    atomic_ullong refusals[SQL_REASON_COUNT];
    atomic_llong  connections;          /* open client connections */
    atomic_ullong connections_total;
    atomic_llong  transactions;         /* connections inside a transaction */
    atomic_ullong backend_errors;
    atomic_ullong drains;
    atomic_ullong drain_ms_total;
    atomic_ullong drain_ms_last;
    atomic_ullong drain_kills;
};

struct proxy;

struct proxy_worker {
    struct proxy      *px;
    int                index;
    pthread_t          thread;
    int                epfd;
    int                lfd;             /* the shared listening socket */
    int                evfd;            /* wakeups: kills, stop */
    pthread_mutex_t    lock;            /* conns list + write sets */
    struct proxy_conn *conns;
    atomic_bool        stop;
    bool               thread_started;
    bool               sweep_due;       /* woken: sweep after this batch */
    uint64_t           next_id;
};

/* Where backend connections go: TCP (IPv4) or a Unix socket on this host. */
struct proxy_backend {
    struct sockaddr_storage addr;
    socklen_t               len;
    bool                    local;      /* Unix socket: no TCP options to set */
};

struct proxy {
    struct proxy_config  cfg;
    struct rules_keeper *keeper;        /* borrowed */
    bool                 is_center;
    struct proxy_backend backend;
    struct sockaddr_in   listen_addr;
    struct sql_tables    tables;
    struct proxy_worker *workers;
    int                  nworkers;
    int                  lfd;           /* listening socket (owned) */
    struct proxy_metrics m;
};

/* ---- proxy_worker.c ---- */

/* Start cfg.workers threads listening on cfg.listen. 0, or -1 with err. */
int proxy_workers_start(struct proxy *px, char *err, size_t errlen);

/* Stop and join every worker, close every connection. */
void proxy_workers_stop(struct proxy *px);

/* Wake a worker to act on kill flags. */
void proxy_worker_wake(struct proxy_worker *w);

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t proxy_now_ms(void);

/* ---- pbuf (proxy_worker.c) ---- */

size_t pbuf_len(const struct pbuf *b);
/* Make room for n more bytes at end. 0 or -1 (ENOMEM). */
int pbuf_reserve(struct pbuf *b, size_t n);
int pbuf_append(struct pbuf *b, const void *p, size_t n);
void pbuf_consume(struct pbuf *b, size_t n);
void pbuf_free(struct pbuf *b);

/* ---- proxy_admin.c ---- */

struct admin_http_hooks;

/* Fill hooks for admin_http: ban drain, status JSON, metrics (ctx = px). */
void proxy_admin_hooks(struct proxy *px, struct admin_http_hooks *hooks);

/*
 * The ban drain: returns once no connection holds an open transaction (or a
 * write in flight) that wrote a bucket banned in the current rules; after
 * ban_drain_ms such connections are closed. 0, or -1 with err if some could
 * not be closed in time.
 */
int proxy_drain(struct proxy *px, char *err, size_t errlen);

/* ---- proxy_session.c ---- */

/* A backend connection is up: the session starts waiting for the greeting. */
void session_start(struct proxy_conn *c);

/*
 * New bytes in c->cin / c->bin: run the state machine. Returns 0, or -1 when
 * the connection must be closed (after flushing what is queued for the
 * client, if phase is PROXY_PHASE_CLOSING).
 */
int session_on_client_data(struct proxy_conn *c);
int session_on_backend_data(struct proxy_conn *c);

/* Send an ERR packet to the client (sequence seq) and queue it. */
void session_send_error(struct proxy_conn *c, uint8_t seq, uint16_t code,
                        const char *sqlstate, const char *msg);


#endif
