#include "gw_worker.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "router/log.h"

#define GW_WORKER_QUIESCE 1u
#define GW_WORKER_STOP    2u

/* epoll data.u64: tag in the high half, fd in the low half */
#define GW_EV_MHD  (UINT64_C(1) << 32)
#define GW_EV_WAKE (UINT64_C(2) << 32)
#define GW_EV_CURL (UINT64_C(3) << 32)
#define GW_EV_TAG  (UINT64_C(0xffffffff) << 32)
#define GW_EVENTS  64

void gw_worker_wake(void *ctx)
{
    struct gw_worker *w = ctx;
    uint64_t one = 1;
    ssize_t n = write(w->wakefd, &one, sizeof(one));
    (void)n;    /* EAGAIN: a wake-up is pending anyway */
}

/* Milliseconds epoll may sleep: until MHD's or curl's next timed work. */
static int gw_worker_timeout(struct gw_worker *w)
{
    MHD_UNSIGNED_LONG_LONG mhd_ms;
    int ms = gw_upstream_timeout_ms(w->up);

    if (MHD_get_timeout(w->mhd, &mhd_ms) == MHD_YES && (ms < 0 || mhd_ms < (unsigned)ms))
        ms = mhd_ms > 60000u ? 60000 : (int)mhd_ms;
    return ms;
}

/* The wake eventfd fired: act on the commands. Returns false to stop. */
static bool gw_worker_commands(struct gw_worker *w, bool *quiesced)
{
    uint64_t v;
    ssize_t n = read(w->wakefd, &v, sizeof(v));
    unsigned cmd = atomic_load(&w->cmd);

    (void)n;
    if ((cmd & GW_WORKER_QUIESCE) && !*quiesced) {
        *quiesced = true;
        MHD_socket fd = MHD_quiesce_daemon(w->mhd);
        if (fd != MHD_INVALID_SOCKET)
            close(fd);
    }
    return (cmd & GW_WORKER_STOP) == 0;
}

static void *gw_worker_main(void *arg)
{
    struct gw_worker *w = arg;
    struct epoll_event evs[GW_EVENTS];
    bool quiesced = false, go = true;

    while (go) {
        int n = epoll_wait(w->epfd, evs, GW_EVENTS, gw_worker_timeout(w));
        if (n < 0 && errno != EINTR) {
            log_error("worker: epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            uint64_t tag = evs[i].data.u64 & GW_EV_TAG;
            int fd = (int)(uint32_t)evs[i].data.u64;
            if (tag == GW_EV_CURL)
                gw_upstream_on_socket(w->up, fd, evs[i].events);
            else if (tag == GW_EV_WAKE)
                go = gw_worker_commands(w, &quiesced);
        }
        gw_upstream_take_resumed(w->up);    /* this MHD_run sees those */
        MHD_run(w->mhd);
        gw_upstream_run(w->up);             /* resumes here: timeout 0 */
    }
    /* stopping: finish every transfer so no client stays suspended */
    gw_upstream_stop(w->up);
    MHD_run(w->mhd);
    return NULL;
}

struct gw_worker *gw_worker_create(void *ctx, struct gw_metrics *m, char *err, size_t errlen)
{
    struct gw_worker *w = calloc(1, sizeof(*w));
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = GW_EV_WAKE };

    if (w == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->ctx = ctx;
    w->mhd_fd = -1;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epfd < 0)
        goto fail_sys;
    w->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->wakefd < 0)
        goto fail_epoll;
    ev.data.u64 |= (uint32_t)w->wakefd;
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wakefd, &ev) < 0)
        goto fail_wake;
    w->up = gw_upstream_create(w->epfd, GW_EV_CURL, m, err, errlen);
    if (w->up == NULL)
        goto fail_wake_quiet;
    return w;
fail_wake:
    snprintf(err, errlen, "worker: %s", strerror(errno));
fail_wake_quiet:
    close(w->wakefd);
    close(w->epfd);
    free(w);
    return NULL;
fail_epoll:
    close(w->epfd);
fail_sys:
    snprintf(err, errlen, "worker: %s", strerror(errno));
    free(w);
    return NULL;
}

int gw_worker_start(struct gw_worker *w, struct MHD_Daemon *mhd, char *err, size_t errlen)
{
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_EPOLL_FD);
    struct epoll_event ev = { .events = EPOLLIN };

    if (di == NULL || di->epoll_fd < 0) {
        snprintf(err, errlen, "worker: libmicrohttpd has no epoll fd");
        return -1;
    }
    ev.data.u64 = GW_EV_MHD | (uint32_t)di->epoll_fd;
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, di->epoll_fd, &ev) < 0) {
        snprintf(err, errlen, "worker: epoll_ctl: %s", strerror(errno));
        return -1;
    }
    w->mhd = mhd;
    w->mhd_fd = di->epoll_fd;
    int rc = pthread_create(&w->thread, NULL, gw_worker_main, w);
    if (rc != 0) {
        epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->mhd_fd, NULL);
        w->mhd = NULL;
        snprintf(err, errlen, "worker: cannot start the thread: %s", strerror(rc));
        return -1;
    }
    w->running = true;
    return 0;
}

void gw_worker_quiesce(struct gw_worker *w)
{
    atomic_fetch_or(&w->cmd, GW_WORKER_QUIESCE);
    gw_worker_wake(w);
}

void gw_worker_destroy(struct gw_worker *w)
{
    if (w == NULL)
        return;
    if (w->running) {
        atomic_fetch_or(&w->cmd, GW_WORKER_STOP);
        gw_worker_wake(w);
        pthread_join(w->thread, NULL);
    }
    gw_upstream_stop(w->up);
    if (w->mhd != NULL)
        MHD_stop_daemon(w->mhd);    /* completed callbacks release their transfers */
    gw_upstream_destroy(w->up);
    close(w->wakefd);
    close(w->epfd);
    free(w);
}
