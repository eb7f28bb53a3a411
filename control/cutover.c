/* The cutover state machine; the flow is drawn in cutover.h. */
#include "cutover.h"

#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "router/strbuf.h"

/* Test-only: kill -9 ourselves right after journaling this step. */
#define CUTOVER_CRASH_ENV "UNITCTL_TEST_CRASH_AT"

const char *cutover_outcome_name(enum cutover_outcome o)
{
    switch (o) {
    case CUTOVER_RUNNING: return "running";
    case CUTOVER_DONE: return "done";
    case CUTOVER_ROLLED_BACK: return "rolled_back";
    case CUTOVER_REFUSED: return "refused";
    case CUTOVER_DRY_RUN: return "dry_run";
    }
    return "?";
}

static void cutover_event(struct cutover *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void cutover_event(struct cutover *c, const char *fmt, ...)
{
    char text[CUTOVER_EVENT_LEN - 16];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    uint64_t now = journal_now_ms();
    double at = now > c->started_ms ? (double)(now - c->started_ms) / 1000.0 : 0.0;
    pthread_mutex_lock(&c->lock);
    size_t i = c->nevents < CUTOVER_EVENTS_MAX ? c->nevents++ : CUTOVER_EVENTS_MAX - 1;
    snprintf(c->events[i], CUTOVER_EVENT_LEN, "[%8.3fs] %s", at, text);
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
    if (c->env->on_event != NULL)
        c->env->on_event(c->env->ctx, c->id, text);
}

static void cutover_set_outcome(struct cutover *c, enum cutover_outcome o)
{
    pthread_mutex_lock(&c->lock);
    atomic_store(&c->outcome, (int)o);
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
}

/* Journal one step (fsynced) before it acts. Returns 0 or -1 (event says why). */
static int cutover_journal(struct cutover *c, const char *step,
                           const struct journal_field *f, size_t n)
{
    char err[256];

    if (journal_append(c->env->journal, c->id, step, 0, f, n, err, sizeof(err)) < 0) {
        cutover_event(c, "journal write failed at step %s: %s", step, err);
        return -1;
    }
    const char *crash = getenv(CUTOVER_CRASH_ENV);
    if (crash != NULL && strcmp(crash, step) == 0)
        raise(SIGKILL);
    return 0;
}

/* Sign r's canonical text and make it the control center's current set. */
static int cutover_install(struct cutover *c, const struct rules *r)
{
    char sig[RULES_SIGN_HEX_LEN + 1], err[256];
    uint64_t version;

    rules_sign(&c->env->keeper->secret, r->source, r->source_len, sig);
    enum rules_accept_status st = rules_keeper_accept(c->env->keeper, r->source, r->source_len,
                                                      sig, &version, err, sizeof(err));
    if (st != RULES_ACCEPT_APPLIED && st != RULES_ACCEPT_SAME) {
        cutover_event(c, "could not make v%" PRIu64 " current: %s (%s)", r->version,
                      rules_accept_status_name(st), err);
        return -1;
    }
    return 0;
}

/* Some of env->targets: the components one push stage goes to. */
struct cutover_batch {
    struct push_target targets[PUSH_TARGETS_MAX];
    size_t             env_idx[PUSH_TARGETS_MAX];   /* index in env->targets */
    size_t             n;
};

/*
 * The components of kind ("gateway", "proxy"; NULL = any) that have not acked
 * yet (done[env index] == 0), into b. Returns how many.
 */
static size_t cutover_batch_pick(const struct cutover *c, const char *kind,
                                 const unsigned char *done, struct cutover_batch *b)
{
    b->n = 0;
    for (size_t i = 0; i < c->env->ntargets && i < PUSH_TARGETS_MAX; i++) {
        if (done[i] || (kind != NULL && strcmp(c->env->targets[i].kind, kind) != 0))
            continue;
        b->targets[b->n] = c->env->targets[i];
        b->env_idx[b->n++] = i;
    }
    return b->n;
}

/* "unit kind addr (why)" of every batch member not acked, into out. */
static void cutover_missing(const struct cutover_batch *b, const struct push_result *res,
                            uint64_t version, char *out, size_t outlen)
{
    size_t len = 0;

    out[0] = '\0';
    for (size_t i = 0; i < b->n && len + 1 < outlen; i++) {
        if (push_result_acked(&res[i], version))
            continue;
        const struct push_target *t = &b->targets[i];
        int n = snprintf(out + len, outlen - len, "%s%s %s %s (%s%s%s)", len ? ", " : "",
                         t->unit, t->kind, t->addr, res[i].status,
                         res[i].error[0] ? ": " : "", res[i].error);
        if (n < 0)
            break;
        len += (size_t)n;
    }
    if (len >= outlen)
        out[outlen - 1] = '\0';
}

/* Where the acks of one push went, across its stages. */
struct cutover_acks {
    unsigned char done[PUSH_TARGETS_MAX];   /* by env->targets index: acked */
    uint64_t     *first;                    /* wall clock of the first ack; may be NULL */
    uint64_t     *last;                     /* ... and of the last; may be NULL */
    char          missing[1024];            /* who did not ack the last stage, and why */
};

static void cutover_acks_init(struct cutover_acks *a, uint64_t *first, uint64_t *last)
{
    memset(a, 0, sizeof(*a));
    a->first = first;
    a->last = last;
}

/*
 * One stage: push r to the batch until every member acked, the deadline
 * passed or stop (may be NULL) was set. Acks are recorded in a. Returns 1
 * when every member acked (an empty batch has).
 */
static int cutover_push(struct cutover *c, const struct rules *r,
                        const struct cutover_batch *b, uint64_t deadline, atomic_int *stop,
                        struct cutover_acks *a)
{
    struct push_result res[PUSH_TARGETS_MAX];
    char sig[RULES_SIGN_HEX_LEN + 1];

    a->missing[0] = '\0';
    if (b->n == 0)
        return 1;
    rules_sign(&c->env->keeper->secret, r->source, r->source_len, sig);
    size_t acked = push_until_acked(b->targets, b->n, r->source, r->source_len, sig,
                                    r->version, deadline, c->env->call_timeout_ms,
                                    c->env->retry_ms, stop, res);
    uint64_t mono = push_now_ms(), wall = journal_now_ms();
    for (size_t i = 0; i < b->n; i++) {
        if (!push_result_acked(&res[i], r->version))
            continue;
        uint64_t at = wall - (mono - res[i].acked_at);
        a->done[b->env_idx[i]] = 1;
        if (a->first != NULL && (*a->first == 0 || at < *a->first))
            *a->first = at;
        if (a->last != NULL && at > *a->last)
            *a->last = at;
    }
    cutover_missing(b, res, r->version, a->missing, sizeof(a->missing));
    return acked == b->n;
}

/*
 * Set a ban: every gateway first, then (once all of them acked) every proxy,
 * all within deadline. A write a gateway let through before its own ban then
 * has the time of the gateways' acks to reach its proxy before that proxy is
 * banned too (a client-visible 7403 otherwise). This narrows the race, it does
 * not close it: a gateway acks without waiting for the writes it has in
 * flight. Returns 1 when all acked.
 */
static int cutover_push_ban(struct cutover *c, const struct rules *ban, uint64_t deadline,
                            struct cutover_acks *a)
{
    struct cutover_batch b;
    uint64_t t0 = push_now_ms();

    size_t ngw = cutover_batch_pick(c, "gateway", a->done, &b);
    if (!cutover_push(c, ban, &b, deadline, &c->abort_req, a) || atomic_load(&c->abort_req))
        return 0;
    cutover_batch_pick(c, NULL, a->done, &b);
    cutover_event(c, "ban v%" PRIu64 " acked by all %zu gateways (%" PRIu64
                  " ms); pushing to %zu proxies", ban->version, ngw, push_now_ms() - t0, b.n);
    return cutover_push(c, ban, &b, deadline, &c->abort_req, a);
}

/*
 * Lift a ban (the switch, a rollback): every proxy first, then the rest, so a
 * gateway sends writes by the new rules only once the proxies accept them.
 * The proxies get at most one push timeout (push_timeout_ms): a proxy that is
 * down must not keep the gateways' held writes waiting until they time out.
 * It stays in the second stage with the gateways (the switch keeps pushing to
 * it, a rollback leaves it to the reconcile loop). Returns 1 when all acked.
 */
static int cutover_push_lift(struct cutover *c, const struct rules *r, uint64_t deadline,
                             struct cutover_acks *a)
{
    struct cutover_batch b;
    uint64_t t0 = push_now_ms(), bound = t0 + (uint64_t)c->env->call_timeout_ms;

    size_t npx = cutover_batch_pick(c, "proxy", a->done, &b);
    int proxies = cutover_push(c, r, &b, bound < deadline ? bound : deadline, NULL, a);
    if (npx > 0 && !proxies)
        cutover_event(c, "v%" PRIu64 " not acked by: %s within %ld ms; pushing to the "
                      "gateways anyway", r->version, a->missing, c->env->call_timeout_ms);
    else if (npx > 0)
        cutover_event(c, "v%" PRIu64 " acked by all %zu proxies (%" PRIu64 " ms); pushing to "
                      "the gateways", r->version, npx, push_now_ms() - t0);
    cutover_batch_pick(c, NULL, a->done, &b);
    return cutover_push(c, r, &b, deadline, NULL, a);
}

static void cutover_sync_ctx(struct cutover *c, struct sync_ctx *s)
{
    const struct topology *t = c->env->topo;
    int from = topology_unit_index(t, rules_unit_name(c->base, c->from));
    int to = topology_unit_index(t, rules_unit_name(c->base, c->to));

    memset(s, 0, sizeof(*s));
    s->cutover_id = c->id;
    s->selection = c->sel_text;
    s->source_unit = rules_unit_name(c->base, c->from);
    s->target_unit = rules_unit_name(c->base, c->to);
    s->source_db = from >= 0 ? &t->units[from].db : NULL;
    s->target_db = to >= 0 ? &t->units[to].db : NULL;
    s->stop = &c->abort_req;
    s->confirmed = &c->confirmed;
}

static void cutover_rollback(struct cutover *c, const char *reason, int journaled)
{
    char err[256], v[32];
    struct rules *rb = rule_edit_restore(c->base, err, sizeof(err));

    snprintf(v, sizeof(v), "%" PRIu64, c->base->version + 2);
    if (!journaled) {
        struct journal_field f[] = { { "version", v }, { "reason", reason } };
        cutover_journal(c, "rollback_push", f, 2);
        cutover_event(c, "rolling back: %s", reason);
    } else {
        cutover_event(c, "resuming the rollback");
    }
    if (rb == NULL) {
        cutover_event(c, "cannot build the rollback rules: %s", err);
        cutover_set_outcome(c, CUTOVER_ROLLED_BACK);
        return;
    }
    struct cutover_acks a;
    cutover_acks_init(&a, NULL, NULL);
    uint64_t t0 = push_now_ms();
    int all = cutover_install(c, rb) == 0 &&
              cutover_push_lift(c, rb, t0 + (uint64_t)c->timeout_ms, &a);
    if (all)
        cutover_event(c, "old routing v%s acked by all %zu components (%" PRIu64 " ms)", v,
                      c->env->ntargets, push_now_ms() - t0);
    else
        cutover_event(c, "old routing v%s not acked by: %s; the reconcile loop keeps pushing",
                      v, a.missing);
    struct journal_field f[] = { { "version", v }, { "unreached", all ? "" : a.missing } };
    cutover_journal(c, "rolled_back", f, 2);
    cutover_event(c, "ROLLED BACK: buyers stay in %s, no ban left", rules_unit_name(c->base, c->from));
    rules_destroy(rb);
    cutover_set_outcome(c, CUTOVER_ROLLED_BACK);
}

static void cutover_finish_summary(struct cutover *c)
{
    char window[32] = "unknown", sync_ms[32], total[32];
    uint64_t now = journal_now_ms();

    if (c->first_ban_ack_ms != 0 && c->last_switch_ack_ms >= c->first_ban_ack_ms)
        snprintf(window, sizeof(window), "%" PRIu64, c->last_switch_ack_ms - c->first_ban_ack_ms);
    snprintf(sync_ms, sizeof(sync_ms), "%" PRIu64, c->sync_wait_ms);
    snprintf(total, sizeof(total), "%" PRIu64, now - c->started_ms);
    struct journal_field f[] = { { "ban_window_ms", window }, { "sync_ms", sync_ms },
                                 { "total_ms", total } };
    cutover_journal(c, "done", f, 3);
    cutover_event(c, "DONE: %s now in %s", c->sel_text, rules_unit_name(c->base, c->to));
    cutover_event(c, "write-ban window: %s ms (first ban ack -> last new-rules ack)", window);
    cutover_event(c, "replication wait: %s ms; total %s ms", sync_ms, total);
}

/* Forward only: push the new routing until every component acked it. */
static void cutover_switch(struct cutover *c, int journaled)
{
    char err[256], v[32];
    struct rules *sw = rule_edit_switch(c->base, &c->sel, c->to, err, sizeof(err));

    atomic_store(&c->switched, 1);
    snprintf(v, sizeof(v), "%" PRIu64, c->base->version + 2);
    if (!journaled) {
        struct journal_field f[] = { { "version", v } };
        cutover_journal(c, "switch_push", f, 1);
    }
    if (sw == NULL) {
        /* cannot happen: the same derivation passed the pre-flight */
        cutover_event(c, "cannot build the new rules: %s", err);
        cutover_rollback(c, err, 0);
        return;
    }
    cutover_event(c, "switch: pushing v%s (%s -> %s, no ban)%s", v, c->sel_text,
                  rules_unit_name(c->base, c->to), journaled ? " (resumed)" : "");
    uint64_t t0 = push_now_ms();
    while (cutover_install(c, sw) < 0) {
        struct timespec ts = { 0, 200000000L };
        nanosleep(&ts, NULL);
    }
    struct cutover_acks a;
    struct cutover_batch rest;
    cutover_acks_init(&a, NULL, &c->last_switch_ack_ms);
    int all = cutover_push_lift(c, sw, push_now_ms() + (uint64_t)c->timeout_ms, &a);
    while (!all) {
        cutover_event(c, "v%s still not acked by: %s; pushing again (forward only)", v,
                      a.missing);
        cutover_batch_pick(c, NULL, a.done, &rest);
        all = cutover_push(c, sw, &rest, push_now_ms() + (uint64_t)c->timeout_ms, NULL, &a);
    }
    cutover_event(c, "new routing v%s acked by all %zu components (%" PRIu64 " ms)", v,
                  c->env->ntargets, push_now_ms() - t0);
    cutover_finish_summary(c);
    rules_destroy(sw);
    cutover_set_outcome(c, CUTOVER_DONE);
}

/*
 * Ban: journal ban_push, push v+1 (gateways, then proxies) until every ack,
 * journal ban_acked. *last gets the wall clock of the last ack. Returns 0, or
 * -1 after rolling back.
 */
static int cutover_ban(struct cutover *c, uint64_t deadline, uint64_t *last)
{
    char err[1536], v[32], num[2][32];
    struct cutover_acks a;

    struct rules *ban = rule_edit_ban(c->base, &c->sel, err, sizeof(err));
    if (ban == NULL) {
        cutover_rollback(c, err, 0);
        return -1;
    }
    snprintf(v, sizeof(v), "%" PRIu64, ban->version);
    struct journal_field fb[] = { { "version", v } };
    if (cutover_journal(c, "ban_push", fb, 1) < 0 || cutover_install(c, ban) < 0) {
        rules_destroy(ban);
        cutover_rollback(c, "could not record or install the ban", 0);
        return -1;
    }
    cutover_event(c, "ban: pushing v%s (%s banned) to %zu components, gateways first", v,
                  c->sel_text, c->env->ntargets);
    uint64_t t0 = push_now_ms();
    cutover_acks_init(&a, &c->first_ban_ack_ms, last);
    int all = cutover_push_ban(c, ban, deadline, &a);
    rules_destroy(ban);
    if (atomic_load(&c->abort_req)) {
        cutover_rollback(c, "aborted by the operator", 0);
        return -1;
    }
    if (!all) {
        snprintf(err, sizeof(err), "ban v%s not acked within %ld ms by: %s", v, c->timeout_ms,
                 a.missing);
        cutover_rollback(c, err, 0);
        return -1;
    }
    cutover_event(c, "ban v%s acked by all %zu components (%" PRIu64 " ms)", v,
                  c->env->ntargets, push_now_ms() - t0);
    snprintf(num[0], sizeof(num[0]), "%" PRIu64, c->first_ban_ack_ms);
    snprintf(num[1], sizeof(num[1]), "%" PRIu64, *last);
    struct journal_field fa[] = { { "first_ack_ms", num[0] }, { "last_ack_ms", num[1] } };
    if (cutover_journal(c, "ban_acked", fa, 2) < 0 || atomic_load(&c->abort_req)) {
        cutover_rollback(c, atomic_load(&c->abort_req) ? "aborted by the operator"
                                                       : "journal write failed", 0);
        return -1;
    }
    return 0;
}

/*
 * Sync: read the ban point (after every ban ack: no write that raced the ban
 * can be missed), journal it, wait until the target applied it. Returns 0,
 * or -1 after rolling back.
 */
static int cutover_sync(struct cutover *c, uint64_t deadline, uint64_t ban_time_ms)
{
    char err[1536], why[1700], pos[SYNC_POS_MAX];
    const struct sync_checker *chk = sync_checker_find(c->env->sync.method);
    struct sync_ctx sc;

    cutover_sync_ctx(c, &sc);
    sc.ban_time_ms = ban_time_ms;
    uint64_t t1 = push_now_ms();
    if (chk->ban_point(&c->env->sync, &sc, pos, sizeof(pos), err, sizeof(err)) != SYNC_OK) {
        snprintf(why, sizeof(why), "cannot read the ban point: %s", err);
        cutover_rollback(c, why, 0);
        return -1;
    }
    struct journal_field fp[] = { { "pos", pos } };
    if (cutover_journal(c, "ban_point", fp, 1) < 0) {
        cutover_rollback(c, "journal write failed", 0);
        return -1;
    }
    cutover_event(c, "ban point (source %s): %s", sc.source_unit, pos[0] ? pos : "(none)");
    cutover_event(c, "sync: waiting (%s) for %s to apply it", chk->name, sc.target_unit);
    uint64_t now = push_now_ms();
    long left = deadline > now ? (long)(deadline - now) : 1;
    enum sync_status st = chk->wait(&c->env->sync, &sc, pos, left, err, sizeof(err));
    c->sync_wait_ms = push_now_ms() - t1;
    if (st != SYNC_OK) {
        snprintf(why, sizeof(why), "%s: %s",
                 st == SYNC_ABORTED ? "aborted by the operator"
                 : st == SYNC_TIMEOUT ? "sync not confirmed in time" : "sync check failed",
                 err);
        cutover_rollback(c, why, 0);
        return -1;
    }
    return 0;
}

/* The forward path from a fresh begin: ban, acks, ban point, sync, switch. */
static void cutover_forward(struct cutover *c)
{
    char num[32];
    uint64_t deadline = push_now_ms() + (uint64_t)c->timeout_ms, last = 0;

    if (cutover_ban(c, deadline, &last) < 0 || cutover_sync(c, deadline, last) < 0)
        return;
    /* the point of no return: an abort either got in before it or is refused */
    pthread_mutex_lock(&c->lock);
    int aborted = atomic_load(&c->abort_req);
    if (!aborted)
        atomic_store(&c->switched, 1);
    pthread_mutex_unlock(&c->lock);
    snprintf(num, sizeof(num), "%" PRIu64, c->sync_wait_ms);
    struct journal_field fs[] = { { "wait_ms", num } };
    if (aborted || cutover_journal(c, "synced", fs, 1) < 0) {
        cutover_rollback(c, aborted ? "aborted by the operator" : "journal write failed", 0);
        return;
    }
    cutover_event(c, "sync confirmed (%" PRIu64 " ms)", c->sync_wait_ms);
    cutover_switch(c, 0);
}

static void *cutover_main(void *arg)
{
    struct cutover *c = arg;
    const char *rs = c->resume_step;
    char why[128];

    if (rs[0] == '\0') {
        cutover_forward(c);
    } else if (strcmp(rs, "synced") == 0 || strcmp(rs, "switch_push") == 0) {
        cutover_switch(c, strcmp(rs, "switch_push") == 0);
    } else if (strcmp(rs, "rollback_push") == 0) {
        cutover_rollback(c, NULL, 1);
    } else {
        snprintf(why, sizeof(why), "the control center restarted during step %s", rs);
        cutover_rollback(c, why, 0);
    }
    return NULL;
}

static struct cutover *cutover_new(const struct cutover_env *env)
{
    struct cutover *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->env = env;
    c->from = c->to = -1;
    atomic_init(&c->outcome, CUTOVER_RUNNING);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->changed, NULL);
    return c;
}

void cutover_destroy(struct cutover *c)
{
    if (c == NULL)
        return;
    if (c->thread_started)
        pthread_join(c->thread, NULL);
    rules_destroy(c->base);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->changed);
    free(c);
}

/* A private copy of the control center's current rules, or NULL. */
static struct rules *cutover_copy_current(const struct cutover_env *env, char *err,
                                          size_t errlen)
{
    struct rules_guard g;
    const struct rules *cur = rules_store_get(&env->keeper->store, &g);
    struct rules *copy = NULL;

    if (cur == NULL)
        snprintf(err, errlen, "the control center has no rules yet");
    else
        copy = rules_parse(cur->source, cur->source_len, env->keeper->unit_names,
                           env->keeper->nunits, err, errlen);
    rules_store_put(&env->keeper->store, &g);
    return copy;
}

/* Pre-flight: problems appended to out; returns how many. */
static int cutover_preflight(struct cutover *c, struct strbuf *out)
{
    struct push_result res[PUSH_TARGETS_MAX];
    const struct cutover_env *env = c->env;
    const struct sync_checker *chk = sync_checker_find(env->sync.method);
    struct sync_ctx sc;
    char err[512];
    int problems = 0;

    push_poll_versions(env->targets, env->ntargets, env->call_timeout_ms, res);
    strbuf_printf(out, "components (%zu):\n", env->ntargets);
    for (size_t i = 0; i < env->ntargets; i++) {
        int down = res[i].http_status == 0;
        strbuf_printf(out, "  %-8s %-7s %-21s %s", env->targets[i].unit, env->targets[i].kind,
                      env->targets[i].addr, down ? "UNREACHABLE" : "reachable");
        if (!down)
            strbuf_printf(out, ", rules v%" PRIu64, res[i].version);
        else
            strbuf_printf(out, " (%s)", res[i].error);
        strbuf_puts(out, "\n");
        problems += down;
    }
    cutover_sync_ctx(c, &sc);
    strbuf_printf(out, "sync method: %s", chk->name);
    if (sc.source_db && sc.target_db && sc.source_db->host[0])
        strbuf_printf(out, " (source %s:%d -> target %s:%d)", sc.source_db->host,
                      sc.source_db->port, sc.target_db->host, sc.target_db->port);
    strbuf_puts(out, "\n");
    if (chk->preflight(&env->sync, &sc, err, sizeof(err)) != SYNC_OK) {
        strbuf_printf(out, "  replication check FAILED: %s\n", err);
        problems++;
    } else {
        strbuf_puts(out, "  replication check: ok\n");
    }
    return problems;
}

static void cutover_make_id(struct cutover *c)
{
    time_t now = time(NULL);
    struct tm tm;
    char stamp[32];

    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
    snprintf(c->id, sizeof(c->id), "c%s-%zu", stamp, journal_count(c->env->journal) + 1);
}

static int cutover_save_base(struct cutover *c, char *err, size_t errlen)
{
    char path[PATH_MAX + 64];

    snprintf(path, sizeof(path), "%s/cutover-%s.base", c->env->state_dir, c->id);
    return rules_write_file_durable(path, NULL, 0, c->base->source, c->base->source_len, err,
                                    errlen);
}

static int cutover_launch(struct cutover *c, char *err, size_t errlen)
{
    if (pthread_create(&c->thread, NULL, cutover_main, c) != 0) {
        snprintf(err, errlen, "cannot start the cutover thread");
        return -1;
    }
    c->thread_started = 1;
    return 0;
}

struct cutover *cutover_start(const struct cutover_env *env, const struct cutover_request *req,
                              enum cutover_outcome *outcome, char *msg, size_t msglen)
{
    struct strbuf plan;
    char err[512];
    struct cutover *c = cutover_new(env);

    *outcome = CUTOVER_REFUSED;
    strbuf_init(&plan);
    if (c == NULL || (c->base = cutover_copy_current(env, err, sizeof(err))) == NULL) {
        snprintf(msg, msglen, "refused: %s", c ? err : "out of memory");
        goto fail;
    }
    c->sel = req->sel;
    rule_sel_format(&c->sel, c->sel_text, sizeof(c->sel_text));
    c->timeout_ms = req->timeout_ms;
    c->to = rules_unit_index(c->base, req->to);
    if (c->to < 0) {
        snprintf(msg, msglen, "refused: unknown unit \"%s\"", req->to);
        goto fail;
    }
    struct rules *probe = rule_edit_switch(c->base, &c->sel, c->to, err, sizeof(err));
    if (probe == NULL) {
        snprintf(msg, msglen, "refused: %s", err);
        goto fail;
    }
    rules_destroy(probe);
    c->from = rule_edit_source(c->base, &c->sel, err, sizeof(err));
    strbuf_printf(&plan, "plan: move %s (%" PRIu64 " %s) from %s to %s\n", c->sel_text,
                  rule_sel_size(&c->sel), c->sel.is_buyer ? "buyer" : "buckets",
                  rules_unit_name(c->base, c->from), rules_unit_name(c->base, c->to));
    strbuf_printf(&plan, "  v%" PRIu64 " ban (gateways, then proxies) -> every ack -> ban point"
                         " -> sync -> v%" PRIu64 " new routing (proxies, then gateways;"
                         " rollback: v%" PRIu64 " old routing, same order)\n",
                  c->base->version + 1, c->base->version + 2, c->base->version + 2);
    strbuf_printf(&plan, "  timeout %ld ms for the acks and the sync together\n",
                  c->timeout_ms);
    int problems = cutover_preflight(c, &plan);
    if (req->dry_run) {
        strbuf_printf(&plan, "dry run: nothing was changed%s\n",
                      problems && !req->force ? " (this cutover would be refused)" : "");
        *outcome = CUTOVER_DRY_RUN;
        snprintf(msg, msglen, "%s", plan.buf ? plan.buf : "");
        goto fail;
    }
    if (problems > 0 && !req->force) {
        snprintf(msg, msglen, "%srefused by the pre-flight check (%d problem%s; --force to "
                 "go ahead anyway)\n", plan.buf ? plan.buf : "", problems,
                 problems > 1 ? "s" : "");
        goto fail;
    }
    cutover_make_id(c);
    char from_s[8], to_s[8], tmo[32], bv[32];
    snprintf(from_s, sizeof(from_s), "%d", c->from);
    snprintf(to_s, sizeof(to_s), "%d", c->to);
    snprintf(tmo, sizeof(tmo), "%ld", c->timeout_ms);
    snprintf(bv, sizeof(bv), "%" PRIu64, c->base->version);
    struct journal_field f[] = { { "sel", c->sel_text }, { "from", from_s }, { "to", to_s },
                                 { "timeout_ms", tmo }, { "base_version", bv },
                                 { "method", env->sync.method },
                                 { "force", req->force ? "1" : "0" } };
    c->started_ms = journal_now_ms();
    if (cutover_save_base(c, err, sizeof(err)) < 0 ||
        journal_append(env->journal, c->id, "begin", c->started_ms, f, 7, err,
                       sizeof(err)) < 0) {
        snprintf(msg, msglen, "refused: %s", err);
        goto fail;
    }
    cutover_event(c, "cutover %s started: %s from %s to %s", c->id, c->sel_text,
                  rules_unit_name(c->base, c->from), rules_unit_name(c->base, c->to));
    const char *crash = getenv(CUTOVER_CRASH_ENV);
    if (crash != NULL && strcmp(crash, "begin") == 0)
        raise(SIGKILL);
    if (cutover_launch(c, err, sizeof(err)) < 0) {
        /* journaled: a restart resumes (rolls back) this cutover */
        snprintf(msg, msglen, "failed: %s", err);
        goto fail;
    }
    snprintf(msg, msglen, "%s", plan.buf ? plan.buf : "");
    *outcome = CUTOVER_RUNNING;
    strbuf_deinit(&plan);
    return c;

fail:
    strbuf_deinit(&plan);
    cutover_destroy(c);
    return NULL;
}

/* What resume needs from the journal: the last begun cutover and its steps. */
struct cutover_scan {
    char     id[JOURNAL_ID_MAX];
    char     last_step[JOURNAL_STEP_MAX];
    char     sel[64];
    int      from, to;
    long     timeout_ms;
    uint64_t started_ms;
    uint64_t first_ack_ms;
    uint64_t sync_ms;
};

static int cutover_scan_visit(void *ctx, const struct journal_record *r)
{
    struct cutover_scan *s = ctx;
    char v[64];

    if (strcmp(r->step, "begin") == 0) {
        memset(s, 0, sizeof(*s));
        snprintf(s->id, sizeof(s->id), "%s", r->id);
        s->started_ms = r->time_ms;
        if (journal_record_get(r, "sel", s->sel, sizeof(s->sel)) == NULL)
            s->sel[0] = '\0';
        s->from = journal_record_get(r, "from", v, sizeof(v)) ? atoi(v) : -1;
        s->to = journal_record_get(r, "to", v, sizeof(v)) ? atoi(v) : -1;
        s->timeout_ms = journal_record_get(r, "timeout_ms", v, sizeof(v)) ? atol(v) : 30000;
    }
    if (strcmp(r->id, s->id) != 0)
        return 0;
    snprintf(s->last_step, sizeof(s->last_step), "%s", r->step);
    if (strcmp(r->step, "ban_acked") == 0 && journal_record_get(r, "first_ack_ms", v, sizeof(v)))
        s->first_ack_ms = strtoull(v, NULL, 10);
    if (strcmp(r->step, "synced") == 0 && journal_record_get(r, "wait_ms", v, sizeof(v)))
        s->sync_ms = strtoull(v, NULL, 10);
    return 0;
}

struct cutover *cutover_resume(const struct cutover_env *env, char *err, size_t errlen)
{
    struct cutover_scan s;
    char path[PATH_MAX + 64];

    memset(&s, 0, sizeof(s));
    err[0] = '\0';
    journal_foreach(env->journal, cutover_scan_visit, &s);
    if (s.id[0] == '\0' || strcmp(s.last_step, "done") == 0 ||
        strcmp(s.last_step, "rolled_back") == 0)
        return NULL;
    struct cutover *c = cutover_new(env);
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(c->id, sizeof(c->id), "%s", s.id);
    snprintf(c->resume_step, sizeof(c->resume_step), "%s", s.last_step);
    c->from = s.from;
    c->to = s.to;
    c->timeout_ms = s.timeout_ms;
    c->started_ms = s.started_ms;
    c->first_ban_ack_ms = s.first_ack_ms;
    c->sync_wait_ms = s.sync_ms;
    snprintf(path, sizeof(path), "%s/cutover-%s.base", env->state_dir, c->id);
    FILE *f = fopen(path, "rb");
    char *text = malloc(RULES_BODY_MAX + 1);
    size_t len = f && text ? fread(text, 1, RULES_BODY_MAX, f) : 0;
    if (f != NULL)
        fclose(f);
    if (f == NULL || text == NULL || rule_sel_parse(s.sel, &c->sel, err, errlen) < 0 ||
        (c->base = rules_parse(text, len, env->keeper->unit_names, env->keeper->nunits, err,
                               errlen)) == NULL) {
        if (f == NULL || text == NULL)
            snprintf(err, errlen, "cutover %s: base rules %s missing", c->id, path);
        free(text);
        cutover_destroy(c);
        return NULL;
    }
    free(text);
    snprintf(c->sel_text, sizeof(c->sel_text), "%s", s.sel);
    cutover_event(c, "control center restarted: resuming cutover %s after step %s", c->id,
                  c->resume_step);
    if (cutover_launch(c, err, errlen) < 0) {
        cutover_destroy(c);
        return NULL;
    }
    return c;
}

int cutover_abort(struct cutover *c, char *err, size_t errlen)
{
    int rc = -1;

    pthread_mutex_lock(&c->lock);
    if (atomic_load(&c->outcome) != CUTOVER_RUNNING)
        snprintf(err, errlen, "cutover %s already ended (%s)", c->id,
                 cutover_outcome_name((enum cutover_outcome)atomic_load(&c->outcome)));
    else if (atomic_load(&c->switched))
        snprintf(err, errlen, "cutover %s already switched to the new routing: it can only "
                 "go forward", c->id);
    else {
        atomic_store(&c->abort_req, 1);
        rc = 0;
    }
    pthread_mutex_unlock(&c->lock);
    if (rc == 0)
        cutover_event(c, "abort requested by the operator");
    return rc;
}

enum cutover_outcome cutover_events(struct cutover *c, size_t from, long wait_ms,
                                    struct strbuf *out, size_t *next)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->lock);
    while (c->nevents <= from && atomic_load(&c->outcome) == CUTOVER_RUNNING && wait_ms > 0)
        if (pthread_cond_timedwait(&c->changed, &c->lock, &until) != 0)
            break;
    size_t i = from;
    for (; i < c->nevents; i++) {
        strbuf_puts(out, c->events[i]);
        strbuf_puts(out, "\n");
    }
    *next = i;
    enum cutover_outcome o = (enum cutover_outcome)atomic_load(&c->outcome);
    pthread_mutex_unlock(&c->lock);
    return o;
}
