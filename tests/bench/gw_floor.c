/*
 * gw_floor.c: the floor of the libraries unitgw is built on, for
 * bench-gateway.sh. libmicrohttpd (external epoll, suspend/resume, as unitgw
 * uses it) takes each request and libcurl's multi interface (socket API,
 * kept-alive connections, as unitgw uses it) fetches UPSTREAM + path; the
 * upstream's status and body go back to the client. Nothing else: no
 * routing, no buyerId, no request or response headers copied, no limits, no
 * metrics, one thread. Whatever unitgw does on top costs more than this, so
 * this program's requests/s bound what any gateway built on the same two
 * libraries the same way can reach on the machine.
 *
 *   gw_floor PORT UPSTREAM_BASE_URL      (listens on 127.0.0.1:PORT)
 *
 * Runs until SIGTERM or SIGINT.
 */
#include <curl/curl.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#define FLOOR_EV_MHD  (UINT64_C(1) << 32)
#define FLOOR_EV_CURL (UINT64_C(2) << 32)
#define FLOOR_EV_TAG  (UINT64_C(0xffffffff) << 32)
#define FLOOR_POOL    256
#define FLOOR_NO_TIME UINT64_MAX

/* One client request: its transfer and the upstream's answer. */
struct floor_req {
    struct MHD_Connection *conn;
    CURL   *easy;
    char   *body;
    size_t  len, cap;
    long    status;
    bool    answered;       /* the transfer ended: status and body are set */
    bool    suspended;      /* waiting in MHD for the transfer's end */
};

struct floor {
    int    epfd;
    struct MHD_Daemon *mhd;
    CURLM *multi;
    uint64_t curl_timer_us;             /* when curl wants its timeout action */
    bool   resumed;                     /* a connection was resumed: run MHD */
    const char *upstream;
    CURL  *pool[FLOOR_POOL];            /* idle easy handles */
    int    npool;
};

static volatile sig_atomic_t floor_stop;

static void on_signal(int sig)
{
    (void)sig;
    floor_stop = 1;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct floor_req *r = arg;
    size_t add = size * n;

    if (r->len + add > r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        while (cap < r->len + add)
            cap *= 2;
        char *grown = realloc(r->body, cap);
        if (grown == NULL)
            return 0;
        r->body = grown;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, add);
    r->len += add;
    return add;
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *arg, void *sockp)
{
    struct floor *f = arg;
    struct epoll_event ev = { .data.u64 = FLOOR_EV_CURL | (uint32_t)fd };

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(f->epfd, EPOLL_CTL_DEL, fd, NULL);
        curl_multi_assign(f->multi, fd, NULL);
        return 0;
    }
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    if (sockp == NULL) {
        epoll_ctl(f->epfd, EPOLL_CTL_ADD, fd, &ev);
        curl_multi_assign(f->multi, fd, f);  /* any non-NULL: "registered" */
    } else {
        epoll_ctl(f->epfd, EPOLL_CTL_MOD, fd, &ev);
    }
    return 0;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int on_curl_timer(CURLM *multi, long ms, void *arg)
{
    struct floor *f = arg;

    (void)multi;
    f->curl_timer_us = ms < 0 ? FLOOR_NO_TIME : now_us() + (uint64_t)ms * 1000u;
    return 0;
}

static CURL *easy_get(struct floor *f)
{
    if (f->npool > 0)
        return f->pool[--f->npool];
    CURL *e = curl_easy_init();
    if (e != NULL) {
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    }
    return e;
}

static void easy_put(struct floor *f, CURL *e)
{
    if (f->npool < FLOOR_POOL)
        f->pool[f->npool++] = e;
    else
        curl_easy_cleanup(e);
}

static bool transfer_start(struct floor *f, struct floor_req *r, const char *url)
{
    char full[2048];

    if (snprintf(full, sizeof(full), "%s%s", f->upstream, url) >= (int)sizeof(full))
        return false;
    r->easy = easy_get(f);
    if (r->easy == NULL)
        return false;
    curl_easy_setopt(r->easy, CURLOPT_URL, full);
    curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
    if (curl_multi_add_handle(f->multi, r->easy) != CURLM_OK) {
        easy_put(f, r->easy);
        r->easy = NULL;
        return false;
    }
    return true;
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *body,
                              size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return MHD_NO;
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **ctx)
{
    struct floor *f = cls;
    struct floor_req *r = *ctx;

    (void)method;
    (void)version;
    (void)upload;
    if (r == NULL) {
        r = calloc(1, sizeof(*r));
        if (r == NULL)
            return MHD_NO;
        r->conn = c;
        *ctx = r;
        if (!transfer_start(f, r, url))
            return answer(c, 502, "floor: no transfer\n", 19);
        return MHD_YES;                 /* as unitgw: started on the headers */
    }
    if (*upload_size != 0) {
        *upload_size = 0;               /* the floor forwards no body */
        return MHD_YES;
    }
    if (r->easy != NULL) {              /* the final call: wait for the answer */
        r->suspended = true;
        MHD_suspend_connection(c);
        return MHD_YES;
    }
    if (!r->answered)
        return answer(c, 502, "floor: upstream failed\n", 23);
    return answer(c, (unsigned)r->status, r->body ? r->body : "", r->len);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **ctx,
                         enum MHD_RequestTerminationCode code)
{
    struct floor *f = cls;
    struct floor_req *r = *ctx;

    (void)c;
    (void)code;
    if (r == NULL)
        return;
    if (r->easy != NULL) {
        curl_multi_remove_handle(f->multi, r->easy);
        easy_put(f, r->easy);
    }
    free(r->body);
    free(r);
    *ctx = NULL;
}

/* Ended transfers: keep their answer, give the handle back, resume. */
static void transfers_done(struct floor *f)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(f->multi, &left)) != NULL) {
        struct floor_req *r;
        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (m->data.result == CURLE_OK) {
            curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &r->status);
            r->answered = true;
        }
        curl_multi_remove_handle(f->multi, r->easy);
        easy_put(f, r->easy);
        r->easy = NULL;
        if (r->suspended) {
            r->suspended = false;
            MHD_resume_connection(r->conn);
            f->resumed = true;
        }
    }
}

/* The same order as unitgw's worker loop (gateway/gw_worker.c). */
static int loop_timeout(struct floor *f)
{
    MHD_UNSIGNED_LONG_LONG mhd_ms;
    uint64_t now = now_us();
    long ms = 1000;

    if (f->resumed || f->curl_timer_us <= now)
        return 0;
    if (f->curl_timer_us != FLOOR_NO_TIME && (f->curl_timer_us - now + 999u) / 1000u < 1000u)
        ms = (long)((f->curl_timer_us - now + 999u) / 1000u);
    if (MHD_get_timeout(f->mhd, &mhd_ms) == MHD_YES && (long)mhd_ms < ms)
        ms = (long)mhd_ms;
    return (int)ms;
}

static void floor_run(struct floor *f)
{
    struct epoll_event evs[64];
    int running;

    while (!floor_stop) {
        int n = epoll_wait(f->epfd, evs, 64, loop_timeout(f));
        for (int i = 0; i < n; i++) {
            if ((evs[i].data.u64 & FLOOR_EV_TAG) != FLOOR_EV_CURL)
                continue;
            int flags = (evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                        (evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                        (evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
            curl_multi_socket_action(f->multi, (curl_socket_t)(uint32_t)evs[i].data.u64,
                                     flags, &running);
            transfers_done(f);
        }
        f->resumed = false;
        MHD_run(f->mhd);
        if (now_us() >= f->curl_timer_us) {
            f->curl_timer_us = FLOOR_NO_TIME;
            curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        }
        transfers_done(f);
    }
}

static int floor_open(struct floor *f, uint16_t port)
{
    const union MHD_DaemonInfo *di;
    struct epoll_event ev = { .events = EPOLLIN };
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

    f->epfd = epoll_create1(EPOLL_CLOEXEC);
    f->multi = curl_multi_init();
    f->curl_timer_us = FLOOR_NO_TIME;
    if (f->epfd < 0 || f->multi == NULL)
        return -1;
    curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS, 1024L);   /* as unitgw */
    curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
    curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
    f->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME,
                              port, NULL, NULL, on_request, f,
                              MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, f,
                              MHD_OPTION_CONNECTION_LIMIT, 8192u,
                              MHD_OPTION_CONNECTION_TIMEOUT, 60u,
                              MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
                              MHD_OPTION_END);
    if (f->mhd == NULL)
        return -1;
    di = MHD_get_daemon_info(f->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    if (di == NULL)
        return -1;
    ev.data.u64 = FLOOR_EV_MHD | (uint32_t)di->epoll_fd;
    return epoll_ctl(f->epfd, EPOLL_CTL_ADD, di->epoll_fd, &ev);
}

int main(int argc, char **argv)
{
    struct floor f = { 0 };
    long port;

    if (argc != 3 || (port = strtol(argv[1], NULL, 10)) <= 0 || port > 65535) {
        fprintf(stderr, "usage: gw_floor PORT UPSTREAM_BASE_URL\n");
        return 2;
    }
    f.upstream = argv[2];
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (floor_open(&f, (uint16_t)port) != 0) {
        fprintf(stderr, "gw_floor: cannot listen on 127.0.0.1:%ld: %s\n", port, strerror(errno));
        return 1;
    }
    floor_run(&f);
    MHD_stop_daemon(f.mhd);
    while (f.npool > 0)
        curl_easy_cleanup(f.pool[--f.npool]);
    curl_multi_cleanup(f.multi);
    curl_global_cleanup();
    return 0;
}
