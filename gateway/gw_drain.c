#include "gw_drain.h"

#include <time.h>

void gw_drain_lane_init(struct gw_drain_lane *l)
{
    pthread_mutex_init(&l->lock, NULL);
    l->head = NULL;
}

void gw_drain_lane_deinit(struct gw_drain_lane *l)
{
    pthread_mutex_destroy(&l->lock);
}

void gw_drain_lock(struct gw_drain_lane *l)
{
    pthread_mutex_lock(&l->lock);
}

void gw_drain_unlock(struct gw_drain_lane *l)
{
    pthread_mutex_unlock(&l->lock);
}

void gw_drain_link(struct gw_drain_lane *l, struct gw_drain_entry *e, uint64_t buyer_id)
{
    e->buyer_id = buyer_id;
    e->prev = NULL;
    e->next = l->head;
    if (l->head != NULL)
        l->head->prev = e;
    l->head = e;
    e->linked = true;
}

void gw_drain_unlink(struct gw_drain_lane *l, struct gw_drain_entry *e)
{
    /* linked only changes on the owning worker's thread: no lock to read it */
    if (!e->linked)
        return;
    pthread_mutex_lock(&l->lock);
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        l->head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    e->next = e->prev = NULL;
    e->linked = false;
    pthread_mutex_unlock(&l->lock);
}

size_t gw_drain_count(struct gw_drain_lane *lanes, size_t nlanes, const struct rules *r)
{
    size_t n = 0;

    if (r == NULL || (r->nbans == 0 && r->nbuyer_bans == 0))
        return 0;
    for (size_t i = 0; i < nlanes; i++) {
        pthread_mutex_lock(&lanes[i].lock);
        for (const struct gw_drain_entry *e = lanes[i].head; e != NULL; e = e->next)
            if (rules_is_write_banned(r, e->buyer_id))
                n++;
        pthread_mutex_unlock(&lanes[i].lock);
    }
    return n;
}

static uint64_t gw_drain_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* In flight and banned under the store's current rules. */
static size_t gw_drain_count_current(struct gw_drain_lane *lanes, size_t nlanes,
                                     struct rules_store *store)
{
    struct rules_guard g;
    const struct rules *r = rules_store_get(store, &g);
    size_t n = gw_drain_count(lanes, nlanes, r);

    rules_store_put(store, &g);
    return n;
}

size_t gw_drain_wait(struct gw_drain_lane *lanes, size_t nlanes, struct rules_store *store,
                     int timeout_ms, uint64_t *waited_ms)
{
    const struct timespec poll = { 0, GW_DRAIN_POLL_MS * 1000000L };
    uint64_t start = gw_drain_now_ms();
    uint64_t deadline = start + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    size_t n;

    while ((n = gw_drain_count_current(lanes, nlanes, store)) > 0 &&
           gw_drain_now_ms() < deadline)
        nanosleep(&poll, NULL);
    *waited_ms = gw_drain_now_ms() - start;
    return n;
}
