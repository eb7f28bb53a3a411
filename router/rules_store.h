/*
 * rules_store: the current rule set of a process, shared by all its threads.
 *
 * Readers take no lock and allocate nothing. The scheme is hazard pointers
 * with synchronous reclamation:
 *
 *   reader (rules_store_get)             writer (rules_store_swap)
 *   claim a free hazard slot (CAS)       lock writers' mutex
 *   do { p = current; slot = p; }        old = exchange(current, next)
 *   while (current != p)                 wait until no slot holds old
 *   ... use p ...                        rules_destroy(old)
 *   slot = NULL (rules_store_put)        unlock
 *
 * A reader publishes the pointer it is about to use and checks it is still
 * current; a writer frees the old set only after no slot holds it, so a reader
 * never sees a half-built or freed set. All operations are sequentially
 * consistent, which is what makes "publish, then re-check" sound.
 *
 * A reader must hold a guard briefly (one request, one statement): the writer
 * waits for it. RULES_STORE_SLOTS bounds the guards held at once; a reader
 * that finds none free spins until one is (it never fails).
 */
#ifndef UR_RULES_STORE_H
#define UR_RULES_STORE_H

#include <stdatomic.h>
#include <stdint.h>
#include <pthread.h>

#include "rules.h"

#define RULES_STORE_SLOTS 256

struct rules_store {
    _Atomic(struct rules *) current;        /* NULL until rules are known */
    _Atomic(struct rules *) slots[RULES_STORE_SLOTS]; /* hazard pointers */
    pthread_mutex_t         writer;         /* serializes swaps */
};

/* A held reference: which slot to release. */
struct rules_guard {
    unsigned slot;
};

void rules_store_init(struct rules_store *s);

/* Destroys the current set. No reader may hold a guard. */
void rules_store_deinit(struct rules_store *s);

/*
 * The current rule set, or NULL if there is none yet. The pointer stays valid
 * until rules_store_put(s, g). Lock-free; no allocation.
 */
const struct rules *rules_store_get(struct rules_store *s, struct rules_guard *g);

void rules_store_put(struct rules_store *s, struct rules_guard *g);

/*
 * Make next current (the store takes ownership) and destroy the previous set
 * once no reader holds it.
 */
void rules_store_swap(struct rules_store *s, struct rules *next);

/* Version of the current set, 0 if none. Takes and drops a guard. */
uint64_t rules_store_version(struct rules_store *s);

#endif
