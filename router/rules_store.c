/*
 * rules_store: hazard pointers with synchronous reclamation (see the header
 * for the picture). Readers: one CAS to claim a slot, two loads, one store.
 */
#include "rules_store.h"

#include <sched.h>
#include <stddef.h>

/* Marks a claimed slot that does not yet publish a pointer. */
static struct rules rules_store_busy_marker;
#define RULES_STORE_BUSY (&rules_store_busy_marker)

/* Where this thread found a free slot last time: usually free again. */
static _Thread_local unsigned rules_store_hint;

void rules_store_init(struct rules_store *s)
{
    atomic_init(&s->current, NULL);
    for (unsigned i = 0; i < RULES_STORE_SLOTS; i++)
        atomic_init(&s->slots[i], NULL);
    pthread_mutex_init(&s->writer, NULL);
}

void rules_store_deinit(struct rules_store *s)
{
    rules_destroy(atomic_exchange(&s->current, NULL));
    pthread_mutex_destroy(&s->writer);
}

static unsigned rules_store_claim(struct rules_store *s)
{
    unsigned i = rules_store_hint % RULES_STORE_SLOTS;

    for (unsigned tries = 1;; tries++, i = (i + 1) % RULES_STORE_SLOTS) {
        struct rules *expected = NULL;
        if (atomic_load_explicit(&s->slots[i], memory_order_relaxed) == NULL &&
            atomic_compare_exchange_strong(&s->slots[i], &expected, RULES_STORE_BUSY)) {
            rules_store_hint = i;
            return i;
        }
        if (tries % RULES_STORE_SLOTS == 0)
            sched_yield();  /* every slot taken: let a holder finish */
    }
}

const struct rules *rules_store_get(struct rules_store *s, struct rules_guard *g)
{
    struct rules *p;

    g->slot = rules_store_claim(s);
    do {
        p = atomic_load(&s->current);
        atomic_store(&s->slots[g->slot], p ? p : RULES_STORE_BUSY);
    } while (atomic_load(&s->current) != p);
    return p;
}

void rules_store_put(struct rules_store *s, struct rules_guard *g)
{
    atomic_store_explicit(&s->slots[g->slot], NULL, memory_order_release);
}

void rules_store_swap(struct rules_store *s, struct rules *next)
{
    pthread_mutex_lock(&s->writer);
    struct rules *old = atomic_exchange(&s->current, next);
    if (old != NULL) {
        for (unsigned i = 0; i < RULES_STORE_SLOTS; i++)
            while (atomic_load(&s->slots[i]) == old)
                sched_yield();
        rules_destroy(old);
    }
    pthread_mutex_unlock(&s->writer);
}

uint64_t rules_store_version(struct rules_store *s)
{
    struct rules_guard g;
    const struct rules *r = rules_store_get(s, &g);
    uint64_t v = r ? r->version : 0;

    rules_store_put(s, &g);
    return v;
}
