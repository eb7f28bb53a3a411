#include "gw_hold.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "gateway/gw_upstream.h"

#define GW_HOLD_TICK_US 50000u  /* rule versions are polled at least this often */

struct gw_hold {
    struct rules_store   *store;    /* borrowed */
    pthread_t             thread;
    pthread_mutex_t       lock;
    pthread_cond_t        cond;     /* CLOCK_MONOTONIC */
    struct gw_hold_entry *head;
    bool                  stopping;
    bool                  joined;   /* the thread was joined */
    bool                  release_all;
};

static void gw_hold_unlink(struct gw_hold *h, struct gw_hold_entry *e)
{
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        h->head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    e->next = e->prev = NULL;
    e->parked = false;
}

/* Resume the entries that are due. Caller holds h->lock. */
static uint64_t gw_hold_scan(struct gw_hold *h, uint64_t version, uint64_t now)
{
    uint64_t next_wake = now + GW_HOLD_TICK_US;
    struct gw_hold_entry *e = h->head, *next;

    for (; e != NULL; e = next) {
        next = e->next;
        bool expired = h->release_all || now >= e->deadline_us;
        if (expired || version != e->version) {
            void (*wake)(void *) = e->wake;
            void *wake_ctx = e->wake_ctx;
            e->expired = expired;
            gw_hold_unlink(h, e);
            MHD_resume_connection(e->conn);     /* e may be gone from here */
            if (wake != NULL)
                wake(wake_ctx);
        } else if (e->deadline_us < next_wake) {
            next_wake = e->deadline_us;
        }
    }
    h->release_all = false;
    return next_wake;
}

static void *gw_hold_main(void *arg)
{
    struct gw_hold *h = arg;

    pthread_mutex_lock(&h->lock);
    while (!h->stopping) {
        uint64_t version = h->head ? rules_store_version(h->store) : 0;
        uint64_t wake = gw_hold_scan(h, version, gw_now_us());
        struct timespec ts = { (time_t)(wake / 1000000u), (long)(wake % 1000000u) * 1000 };
        pthread_cond_timedwait(&h->cond, &h->lock, &ts);
    }
    h->release_all = true;
    gw_hold_scan(h, 0, gw_now_us());
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

struct gw_hold *gw_hold_create(struct rules_store *store)
{
    struct gw_hold *h = calloc(1, sizeof(*h));
    pthread_condattr_t ca;

    if (h == NULL)
        return NULL;
    h->store = store;
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&h->thread, NULL, gw_hold_main, h) != 0) {
        pthread_cond_destroy(&h->cond);
        pthread_mutex_destroy(&h->lock);
        free(h);
        return NULL;
    }
    return h;
}

void gw_hold_stop(struct gw_hold *h)
{
    pthread_mutex_lock(&h->lock);
    bool joined = h->joined;
    h->stopping = true;
    h->joined = true;
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->lock);
    if (!joined)
        pthread_join(h->thread, NULL);
}

void gw_hold_destroy(struct gw_hold *h)
{
    if (h == NULL)
        return;
    gw_hold_stop(h);
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

int gw_hold_park(struct gw_hold *h, struct gw_hold_entry *e, struct MHD_Connection *conn,
                 uint64_t version, uint64_t deadline_us)
{
    pthread_mutex_lock(&h->lock);
    if (h->stopping) {
        pthread_mutex_unlock(&h->lock);
        return -1;
    }
    e->conn = conn;
    e->version = version;
    e->deadline_us = deadline_us;
    e->expired = false;
    e->parked = true;
    e->prev = NULL;
    e->next = h->head;
    if (h->head != NULL)
        h->head->prev = e;
    h->head = e;
    /* suspend under the lock: the hold thread cannot resume it before this */
    gw_mhd_suspend(conn);
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->lock);
    return 0;
}

void gw_hold_notify(struct gw_hold *h)
{
    pthread_mutex_lock(&h->lock);
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->lock);
}

void gw_hold_release_all(struct gw_hold *h)
{
    pthread_mutex_lock(&h->lock);
    h->release_all = true;
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->lock);
}
