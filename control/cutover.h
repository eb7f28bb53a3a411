/*
 * cutover: moving buckets (or one buyer) from unit S to unit T without losing
 * a write and without two units accepting writes for the same buyer.
 *
 *  pre-flight (cutover_start, nothing touched on refusal)
 *      | components reachable? target replicating, lag small? (--force skips)
 *      v
 *  begin ........ base rules saved (state/cutover-ID.base), journaled
 *  ban_push ..... v+1 = base + ban: keeper, then push ------------ timeout --+
 *      |            1. to every gateway, until all acked                     |
 *      |            2. then to every proxy (acks after its ban drain)        |
 *  ban_acked .... every gateway and proxy acked v+1                          |
 *  ban_point .... source position read AFTER all the acks -------- error ---+
 *  synced ....... target applied it (gtid / command / manual) ---- timeout -+
 *  switch_push .. v+2 = new routing, no ban; forward only:                   |
 *      |            1. to every proxy, waiting at most push_timeout_ms       |
 *      |            2. then to the gateways (and any proxy not acked yet),   |
 *      |               re-pushed until every component acked                 v
 *  done           (ban window = first ban ack -> last switch ack)   rollback_push
 *                                                                  v+2 = base, no ban,
 *                                                                  proxies first as in
 *                                                                  the switch
 *                                                                        |
 *                                                                   rolled_back
 *
 * Why the order: a write a gateway let through before its ban must not meet
 * a proxy that is already banned, and a gateway must not send writes by the
 * new routing to a proxy still under the ban (either is a client-visible
 * refusal, errno 7403). Setting a ban goes gateways -> proxies, lifting it
 * proxies -> gateways. The gateways ack without waiting for their writes in
 * flight, so the first order narrows that race rather than closing it.
 *
 * Every record is appended to the journal and fsynced BEFORE its step acts;
 * every step is idempotent (the rule sets are derived deterministically from
 * the saved base), so a control center killed at any point resumes with
 * cutover_resume: before `synced` it rolls back, from `synced` on it finishes
 * the switch, a rollback in progress is finished.
 *
 * One cutover runs at a time, in its own thread. Its progress is a list of
 * events (text lines with timings) the CLI follows.
 */
#ifndef UR_CUTOVER_H
#define UR_CUTOVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "control/journal.h"
#include "control/push.h"
#include "control/rule_edit.h"
#include "control/sync/sync.h"
#include "router/rules_keeper.h"
#include "router/strbuf.h"
#include "router/topology.h"

#define CUTOVER_EVENTS_MAX 256
#define CUTOVER_EVENT_LEN  320

enum cutover_outcome {
    CUTOVER_RUNNING,
    CUTOVER_DONE,
    CUTOVER_ROLLED_BACK,
    CUTOVER_REFUSED,
    CUTOVER_DRY_RUN,
};

/* What a cutover works with; all borrowed from the control center. */
struct cutover_env {
    struct rules_keeper      *keeper;   /* the control center's current rules */
    struct journal           *journal;
    const struct topology    *topo;
    const struct push_target *targets;
    size_t                    ntargets;
    struct sync_config        sync;
    char                      state_dir[PATH_MAX];
    long                      call_timeout_ms;
    long                      retry_ms;
    /* Called for every event (the server logs it). May be NULL. */
    void                    (*on_event)(void *ctx, const char *id, const char *text);
    void                     *ctx;
};

struct cutover_request {
    struct rule_sel sel;
    char            to[RULES_UNIT_NAME_MAX];
    long            timeout_ms;
    int             force;      /* skip the pre-flight refusals */
    int             dry_run;    /* print the plan, touch nothing */
};

struct cutover {
    char                  id[JOURNAL_ID_MAX];
    char                  sel_text[64];
    struct rule_sel       sel;
    int                   from, to;         /* unit indexes */
    long                  timeout_ms;
    struct rules         *base;             /* rules at start (version v); owned */
    const struct cutover_env *env;
    atomic_int            abort_req;        /* unitctl abort */
    atomic_int            confirmed;        /* unitctl confirm-sync */
    atomic_int            switched;         /* past the point of no return */
    _Atomic int           outcome;          /* enum cutover_outcome */
    char                  resume_step[JOURNAL_STEP_MAX]; /* "" = fresh */
    uint64_t              started_ms;       /* wall clock of begin */
    uint64_t              first_ban_ack_ms; /* wall clock, 0 = none yet */
    uint64_t              last_switch_ack_ms;
    uint64_t              sync_wait_ms;
    pthread_t             thread;
    int                   thread_started;
    pthread_mutex_t       lock;             /* events */
    pthread_cond_t        changed;          /* a new event or the end */
    char                  events[CUTOVER_EVENTS_MAX][CUTOVER_EVENT_LEN];
    size_t                nevents;
};

/*
 * Check and start a cutover. On success returns a running cutover (thread
 * started, begin journaled) owned by the caller (cutover_destroy after it
 * ended). On refusal or dry run returns NULL with the reason or the plan in
 * msg and *outcome CUTOVER_REFUSED or CUTOVER_DRY_RUN.
 */
struct cutover *cutover_start(const struct cutover_env *env, const struct cutover_request *req,
                              enum cutover_outcome *outcome, char *msg, size_t msglen);

/*
 * Find in the journal a cutover that did not end and continue it (see the
 * file comment). Returns it running, NULL if there is none or it cannot be
 * resumed (err says why; err[0] == 0 when there was nothing to resume).
 */
struct cutover *cutover_resume(const struct cutover_env *env, char *err, size_t errlen);

/* Ask a running cutover to roll back. Returns 0, or -1 (err: switched, ended). */
int cutover_abort(struct cutover *c, char *err, size_t errlen);

/* Wait until the thread ended (or never started), then free. NULL is a no-op. */
void cutover_destroy(struct cutover *c);

/*
 * Copy events from index `from` into out (one per line); *next gets the index
 * after the last copied. Waits up to wait_ms for a new one. Returns the
 * outcome at that moment.
 */
enum cutover_outcome cutover_events(struct cutover *c, size_t from, long wait_ms,
                                    struct strbuf *out, size_t *next);

const char *cutover_outcome_name(enum cutover_outcome o);

#endif
