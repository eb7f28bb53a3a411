/*
 * tests for control/cutover (and control/push): the state machine against
 * in-process admin listeners (router/admin_http.h), manual sync, a journal
 * and a keeper in a temp dir. Most tests run two gateways; the push-order
 * tests add two proxies and record when each push arrived and was acked.
 * Ports 20401-20404.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "control/cutover.h"
#include "router/admin_http.h"

static const char base_text[] =
    "version = 1L;\nbuckets = 100;\n"
    "ranges = ( { first = 0; last = 49; unit = \"dc-a\"; },\n"
    "           { first = 50; last = 99; unit = \"dc-b\"; } );\n"
    "overrides = ( );\nbans = ( );\n";

#define FX_COMPONENTS 4    /* gateway dc-a, gateway dc-b, proxy dc-a, proxy dc-b */

/* One push a component accepted: when its hook started and ended (ns). */
struct arrival {
    int      comp;
    uint64_t version;
    uint64_t start_ns, end_ns;
};

/* What the components' after_accept hook does and saw. */
struct recorder {
    pthread_mutex_t lock;
    struct arrival  log[128];
    size_t          n;
    long            delay_ms;       /* every ack waits this long */
    uint64_t        fail_version;   /* this version is not acked (503) ... */
    atomic_int      fail_comp;      /* ... by this component; -1 = none */
};

struct fixture;

struct hook_ctx {
    struct fixture *f;
    int             comp;
};

struct fixture {
    char                 dir[64];
    char                 path[160];
    struct topology     *topo;
    struct rules_keeper  keeper;        /* the control center's */
    int                  ncomp;         /* 2 (gateways) or 4 (and proxies) */
    struct rules_keeper  comp[FX_COMPONENTS];   /* the components' */
    struct admin_http   *admin[FX_COMPONENTS];
    struct hook_ctx      hook_ctx[FX_COMPONENTS];
    struct admin_http_hooks hooks[FX_COMPONENTS];
    struct recorder      rec;
    struct journal      *journal;
    struct push_target   targets[PUSH_TARGETS_MAX];
    struct cutover_env   env;
};

static const char *fx_path(struct fixture *f, const char *name)
{
    snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, name);
    return f->path;
}

static void fx_write(struct fixture *f, const char *name, const char *text, mode_t mode)
{
    FILE *fp = fopen(fx_path(f, name), "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    chmod(f->path, mode);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int fx_after_accept(void *ctx, uint64_t version, char *err, size_t errlen)
{
    struct hook_ctx *h = ctx;
    struct recorder *rec = &h->f->rec;
    uint64_t start = now_ns();

    if (rec->delay_ms > 0) {
        struct timespec ts = { 0, rec->delay_ms * 1000000L };
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&rec->lock);
    if (rec->n < sizeof(rec->log) / sizeof(rec->log[0]))
        rec->log[rec->n++] = (struct arrival){ h->comp, version, start, now_ns() };
    pthread_mutex_unlock(&rec->lock);
    if (version == rec->fail_version && atomic_load(&rec->fail_comp) == h->comp) {
        snprintf(err, errlen, "test: not acking v%llu", (unsigned long long)version);
        return -1;
    }
    return 0;
}

static void fx_start_admin(struct fixture *f, int i)
{
    char err[256];
    static const char *const addrs[] = { "127.0.0.1:20401", "127.0.0.1:20402",
                                         "127.0.0.1:20403", "127.0.0.1:20404" };
    static const char *const units[] = { "dc-a", "dc-b", "dc-a", "dc-b" };
    struct admin_http_config cfg = { addrs[i], i < 2 ? "gateway" : "proxy", units[i] };
    f->hook_ctx[i] = (struct hook_ctx){ f, i };
    f->hooks[i] = (struct admin_http_hooks){ &f->hook_ctx[i], fx_after_accept, NULL, NULL };
    f->admin[i] = admin_http_start(&cfg, &f->comp[i], &f->hooks[i], err, sizeof(err));
    if (f->admin[i] == NULL)
        fail_msg("admin %d: %s", i, err);
}

static int fx_setup_n(void **state, int ncomp)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char err[256], secret[160];
    const char *proxies = ncomp == FX_COMPONENTS ? "proxy_admin = [ \"127.0.0.1:20403\" ];" : "";
    const char *proxies_b = ncomp == FX_COMPONENTS ? "proxy_admin = [ \"127.0.0.1:20404\" ];" : "";
    char topo[1024];

    f->ncomp = ncomp;
    pthread_mutex_init(&f->rec.lock, NULL);
    atomic_init(&f->rec.fail_comp, -1);
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_cutover.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    fx_write(f, "secret.key", "0123456789abcdef0123456789abcdef\n", 0600);
    snprintf(secret, sizeof(secret), "%s", f->path);
    snprintf(topo, sizeof(topo),
             "secret_file = \"secret.key\";\ncenter = \"dc-a\";\nunits = (\n"
             "{ name = \"dc-a\"; public_url = \"http://127.0.0.1:1\";"
             "  gateway_admin = [ \"127.0.0.1:20401\" ]; %s },\n"
             "{ name = \"dc-b\"; public_url = \"http://127.0.0.1:2\";"
             "  gateway_admin = [ \"127.0.0.1:20402\" ]; %s }\n);\n", proxies, proxies_b);
    fx_write(f, "topology.conf", topo, 0644);
    f->topo = topology_load(f->path, err, sizeof(err));
    if (f->topo == NULL)
        fail_msg("topology: %s", err);
    assert_int_equal(rules_keeper_init(&f->keeper, secret, fx_path(f, "rules.conf"),
                                       f->topo->unit_names, 2, err, sizeof(err)), 0);
    for (int i = 0; i < ncomp; i++) {
        assert_int_equal(rules_keeper_init(&f->comp[i], secret, NULL, f->topo->unit_names, 2,
                                           err, sizeof(err)), 0);
        fx_start_admin(f, i);
    }
    char sig[RULES_SIGN_HEX_LEN + 1];
    uint64_t v;
    rules_sign(&f->keeper.secret, base_text, strlen(base_text), sig);
    assert_int_equal(rules_keeper_accept(&f->keeper, base_text, strlen(base_text), sig, &v, err,
                                         sizeof(err)), RULES_ACCEPT_APPLIED);
    f->journal = journal_open(fx_path(f, "journal.log"), NULL, err, sizeof(err));
    assert_non_null(f->journal);
    f->env.keeper = &f->keeper;
    f->env.journal = f->journal;
    f->env.topo = f->topo;
    f->env.ntargets = push_targets_from_topology(f->topo, f->targets, PUSH_TARGETS_MAX);
    assert_int_equal(f->env.ntargets, (size_t)ncomp);
    f->env.targets = f->targets;
    snprintf(f->env.sync.method, sizeof(f->env.sync.method), "manual");
    snprintf(f->env.state_dir, sizeof(f->env.state_dir), "%s", f->dir);
    f->env.call_timeout_ms = 500;
    f->env.retry_ms = 50;
    *state = f;
    return 0;
}

static int fx_setup(void **state)
{
    return fx_setup_n(state, 2);
}

/* Two gateways and two proxies; every ack takes 30 ms (a proxy draining). */
static int fx_setup4(void **state)
{
    fx_setup_n(state, FX_COMPONENTS);
    ((struct fixture *)*state)->rec.delay_ms = 30;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];

    for (int i = 0; i < f->ncomp; i++) {
        admin_http_stop(f->admin[i]);
        rules_keeper_deinit(&f->comp[i]);
    }
    pthread_mutex_destroy(&f->rec.lock);
    journal_close(f->journal);
    rules_keeper_deinit(&f->keeper);
    topology_destroy(f->topo);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static enum cutover_outcome wait_end(struct cutover *c)
{
    for (int i = 0; i < 300 && atomic_load(&c->outcome) == CUTOVER_RUNNING; i++) {
        struct timespec ts = { 0, 20 * 1000000L };
        nanosleep(&ts, NULL);
    }
    return (enum cutover_outcome)atomic_load(&c->outcome);
}

static void *confirm_soon(void *arg)
{
    struct cutover *c = arg;
    struct timespec ts = { 0, 100 * 1000000L };
    nanosleep(&ts, NULL);
    atomic_store(&c->confirmed, 1);
    return NULL;
}

struct steps {
    char text[512];
};

static int steps_visit(void *ctx, const struct journal_record *r)
{
    struct steps *s = ctx;
    size_t len = strlen(s->text);
    snprintf(s->text + len, sizeof(s->text) - len, "%s%s", len ? " " : "", r->step);
    return 0;
}

static void make_request(struct cutover_request *req, const char *buckets, const char *to,
                         long timeout_ms)
{
    char err[128];
    memset(req, 0, sizeof(*req));
    assert_int_equal(rule_sel_parse_buckets(buckets, &req->sel, err, sizeof(err)), 0);
    snprintf(req->to, sizeof(req->to), "%s", to);
    req->timeout_ms = timeout_ms;
}

/* Start a cutover of buckets to unit; it must start (running). */
static struct cutover *start_cutover(struct fixture *f, const char *buckets, const char *to,
                                     long timeout_ms, char *msg, size_t msglen)
{
    struct cutover_request req;
    enum cutover_outcome o;

    make_request(&req, buckets, to, timeout_ms);
    struct cutover *c = cutover_start(&f->env, &req, &o, msg, msglen);
    assert_non_null(c);
    assert_int_equal(o, CUTOVER_RUNNING);
    return c;
}

static void assert_component(struct fixture *f, int i, uint64_t version, int unit_of_60,
                             int banned_60)
{
    struct rules_guard g;
    const struct rules *r = rules_store_get(&f->comp[i].store, &g);
    assert_non_null(r);
    assert_int_equal(r->version, version);
    assert_int_equal(rules_unit_for_buyer(r, 60), unit_of_60);
    assert_int_equal(rules_is_write_banned(r, 60), banned_60);
    rules_store_put(&f->comp[i].store, &g);
}

/* Components 0..n-1 at version, with bucket 60's unit and ban as given. */
static void assert_components(struct fixture *f, int n, uint64_t version, int unit_of_60,
                              int banned_60)
{
    for (int i = 0; i < n; i++)
        assert_component(f, i, version, unit_of_60, banned_60);
}

static void test_full_cutover(void **state)
{
    struct fixture *f = *state;
    char msg[4096];
    pthread_t t;

    struct cutover *c = start_cutover(f, "50-69", "dc-a", 3000, msg, sizeof(msg));
    assert_non_null(strstr(msg, "move buckets:50-69 (20 buckets) from dc-b to dc-a"));
    pthread_create(&t, NULL, confirm_soon, c);
    assert_int_equal(wait_end(c), CUTOVER_DONE);
    pthread_join(t, NULL);
    assert_components(f, 2, 3, 0, 0);
    assert_int_equal(rules_store_version(&f->keeper.store), 3);

    struct strbuf ev;
    size_t next;
    strbuf_init(&ev);
    assert_int_equal(cutover_events(c, 0, 0, &ev, &next), CUTOVER_DONE);
    assert_non_null(strstr(ev.buf, "write-ban window: "));
    assert_non_null(strstr(ev.buf, "ban v2 acked by all 2 components"));
    strbuf_deinit(&ev);
    struct steps s = { "" };
    journal_foreach(f->journal, steps_visit, &s);
    assert_string_equal(s.text, "begin ban_push ban_acked ban_point synced switch_push done");
    char err[128];
    assert_int_equal(cutover_abort(c, err, sizeof(err)), -1);
    cutover_destroy(c);
}

static void test_sync_timeout_rolls_back(void **state)
{
    struct fixture *f = *state;
    char msg[4096];

    struct cutover *c = start_cutover(f, "50-69", "dc-a", 400, msg, sizeof(msg));
    assert_int_equal(wait_end(c), CUTOVER_ROLLED_BACK);
    assert_components(f, 2, 3, 1, 0);
    struct steps s = { "" };
    journal_foreach(f->journal, steps_visit, &s);
    assert_string_equal(s.text, "begin ban_push ban_acked ban_point rollback_push rolled_back");
    cutover_destroy(c);
}

static void test_abort(void **state)
{
    struct fixture *f = *state;
    struct cutover_request req;
    enum cutover_outcome o;
    char msg[4096], err[128];

    make_request(&req, "0-9", "dc-b", 10000);
    struct cutover *c = cutover_start(&f->env, &req, &o, msg, sizeof(msg));
    assert_non_null(c);
    struct timespec ts = { 0, 200 * 1000000L };
    nanosleep(&ts, NULL);
    assert_int_equal(cutover_abort(c, err, sizeof(err)), 0);
    assert_int_equal(wait_end(c), CUTOVER_ROLLED_BACK);
    struct strbuf ev;
    size_t next;
    strbuf_init(&ev);
    cutover_events(c, 0, 0, &ev, &next);
    assert_non_null(strstr(ev.buf, "aborted by the operator"));
    strbuf_deinit(&ev);
    assert_components(f, 2, 3, 1, 0);
    cutover_destroy(c);
}

static void test_refusals_and_dry_run(void **state)
{
    struct fixture *f = *state;
    struct cutover_request req;
    enum cutover_outcome o;
    char msg[4096];

    make_request(&req, "40-59", "dc-a", 1000);
    assert_null(cutover_start(&f->env, &req, &o, msg, sizeof(msg)));
    assert_int_equal(o, CUTOVER_REFUSED);
    assert_non_null(strstr(msg, "span units"));
    make_request(&req, "50-59", "dc-x", 1000);
    assert_null(cutover_start(&f->env, &req, &o, msg, sizeof(msg)));
    assert_non_null(strstr(msg, "unknown unit"));

    make_request(&req, "50-59", "dc-a", 1000);
    req.dry_run = 1;
    assert_null(cutover_start(&f->env, &req, &o, msg, sizeof(msg)));
    assert_int_equal(o, CUTOVER_DRY_RUN);
    assert_non_null(strstr(msg, "dry run: nothing was changed"));
    assert_non_null(strstr(msg, "127.0.0.1:20402       reachable"));
    assert_int_equal(journal_count(f->journal), 0);

    /* an unreachable component: refused, unless forced (then: rolled back) */
    admin_http_stop(f->admin[1]);
    f->admin[1] = NULL;
    req.dry_run = 0;
    assert_null(cutover_start(&f->env, &req, &o, msg, sizeof(msg)));
    assert_int_equal(o, CUTOVER_REFUSED);
    assert_non_null(strstr(msg, "UNREACHABLE"));
    assert_non_null(strstr(msg, "refused by the pre-flight check"));
    assert_int_equal(journal_count(f->journal), 0);
    req.force = 1;
    req.timeout_ms = 300;
    struct cutover *c = cutover_start(&f->env, &req, &o, msg, sizeof(msg));
    assert_non_null(c);
    assert_int_equal(wait_end(c), CUTOVER_ROLLED_BACK);
    assert_component(f, 0, 3, 1, 0);
    cutover_destroy(c);
    fx_start_admin(f, 1);
}

/* Journal a cutover up to `last`, as a control center killed there would. */
static void fake_journal(struct fixture *f, const char *id, const char *const *steps)
{
    char err[256];
    struct journal_field begin[] = { { "sel", "buckets:50-69" }, { "from", "1" },
                                     { "to", "0" }, { "timeout_ms", "1000" } };
    char name[96];
    snprintf(name, sizeof(name), "cutover-%s.base", id);
    fx_write(f, name, base_text, 0600);
    assert_int_equal(journal_append(f->journal, id, "begin", 0, begin, 4, err, sizeof(err)), 0);
    for (size_t i = 0; steps[i] != NULL; i++)
        assert_int_equal(journal_append(f->journal, id, steps[i], 0, NULL, 0, err,
                                        sizeof(err)), 0);
}

static void test_resume_before_sync_rolls_back(void **state)
{
    struct fixture *f = *state;
    char err[256];
    static const char *const steps[] = { "ban_push", "ban_acked", NULL };

    fake_journal(f, "c-r1", steps);
    struct cutover *c = cutover_resume(&f->env, err, sizeof(err));
    assert_non_null(c);
    assert_string_equal(c->id, "c-r1");
    assert_int_equal(wait_end(c), CUTOVER_ROLLED_BACK);
    assert_components(f, 2, 3, 1, 0);
    cutover_destroy(c);
    /* nothing left to resume */
    assert_null(cutover_resume(&f->env, err, sizeof(err)));
    assert_string_equal(err, "");
}

static void test_resume_after_sync_finishes(void **state)
{
    struct fixture *f = *state;
    char err[256];
    static const char *const steps[] = { "ban_push", "ban_acked", "ban_point", "synced",
                                         NULL };

    fake_journal(f, "c-r2", steps);
    struct cutover *c = cutover_resume(&f->env, err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(wait_end(c), CUTOVER_DONE);
    assert_components(f, 2, 3, 0, 0);
    cutover_destroy(c);
}

static void test_resume_missing_base(void **state)
{
    struct fixture *f = *state;
    char err[256];
    static const char *const steps[] = { "ban_push", NULL };

    fake_journal(f, "c-r3", steps);
    unlink(fx_path(f, "cutover-c-r3.base"));
    assert_null(cutover_resume(&f->env, err, sizeof(err)));
    assert_non_null(strstr(err, "missing"));
}

static void test_push_answers(void **state)
{
    struct fixture *f = *state;
    struct push_result res[2];
    char sig[RULES_SIGN_HEX_LEN + 1];

    /* components start empty: version 0 */
    push_poll_versions(f->targets, 2, 500, res);
    assert_int_equal(res[0].http_status, 404);
    assert_int_equal(res[0].version, 0);
    rules_sign(&f->keeper.secret, base_text, strlen(base_text), sig);
    push_rules(f->targets, 2, base_text, strlen(base_text), sig, 500, res);
    assert_true(push_result_acked(&res[0], 1));
    assert_true(push_result_acked(&res[1], 1));
    assert_string_equal(res[0].status, "applied");
    /* same again: acked, idempotent */
    push_rules(f->targets, 2, base_text, strlen(base_text), sig, 500, res);
    assert_true(push_result_acked(&res[1], 1));
    /* bad signature */
    push_rules(f->targets, 2, base_text, strlen(base_text), "00", 500, res);
    assert_int_equal(res[0].http_status, 401);
    assert_false(push_result_acked(&res[0], 1));
    push_poll_versions(f->targets, 2, 500, res);
    assert_int_equal(res[1].version, 1);
    /* unreachable: no answer, named */
    struct push_target dead = { "127.0.0.1:20409", "dc-a", "proxy" };
    push_rules(&dead, 1, base_text, strlen(base_text), sig, 300, res);
    assert_int_equal(res[0].http_status, 0);
    assert_string_equal(res[0].status, "unreachable");
    uint64_t t0 = push_now_ms();
    assert_int_equal(push_until_acked(&dead, 1, base_text, strlen(base_text), sig, 1,
                                      t0 + 300, 100, 50, NULL, res), 0);
    assert_true(push_now_ms() - t0 < 2000);
}

/* ---- push order: gateways (0, 1) and proxies (2, 3) ---------------------- */

#define GW 0, 2     /* component range [0, 2): the gateways */
#define PX 2, 4     /* [2, 4): the proxies */

/* How many pushes of version components [lo, hi) acked or refused. */
static size_t rec_count(struct fixture *f, uint64_t version, int lo, int hi)
{
    size_t n = 0;
    pthread_mutex_lock(&f->rec.lock);
    for (size_t i = 0; i < f->rec.n; i++)
        n += f->rec.log[i].version == version && f->rec.log[i].comp >= lo &&
             f->rec.log[i].comp < hi;
    pthread_mutex_unlock(&f->rec.lock);
    return n;
}

/* Earliest hook start (first = 1) or latest hook end (first = 0) of version at [lo, hi). */
static uint64_t rec_time(struct fixture *f, uint64_t version, int first, int lo, int hi)
{
    uint64_t t = first ? UINT64_MAX : 0;
    pthread_mutex_lock(&f->rec.lock);
    for (size_t i = 0; i < f->rec.n; i++) {
        const struct arrival *a = &f->rec.log[i];
        if (a->version != version || a->comp < lo || a->comp >= hi)
            continue;
        if (first && a->start_ns < t)
            t = a->start_ns;
        if (!first && a->end_ns > t)
            t = a->end_ns;
    }
    pthread_mutex_unlock(&f->rec.lock);
    return t;
}

static void assert_events_have(struct cutover *c, const char *text)
{
    struct strbuf ev;
    size_t next;
    strbuf_init(&ev);
    cutover_events(c, 0, 0, &ev, &next);
    if (strstr(ev.buf ? ev.buf : "", text) == NULL)
        fail_msg("no event \"%s\" in:\n%s", text, ev.buf ? ev.buf : "");
    strbuf_deinit(&ev);
}

/* Each push of version to [a_lo, a_hi) was acked before any of [b_lo, b_hi) got it. */
static void assert_acked_before(struct fixture *f, uint64_t version, int a_lo, int a_hi,
                                int b_lo, int b_hi)
{
    assert_true(rec_count(f, version, a_lo, a_hi) >= 2);
    assert_true(rec_count(f, version, b_lo, b_hi) >= 2);
    assert_true(rec_time(f, version, 0, a_lo, a_hi) < rec_time(f, version, 1, b_lo, b_hi));
}

/* The ban goes to the gateways, then the proxies; the switch the other way. */
static void test_push_order(void **state)
{
    struct fixture *f = *state;
    char msg[4096];
    pthread_t t;

    struct cutover *c = start_cutover(f, "50-69", "dc-a", 3000, msg, sizeof(msg));
    pthread_create(&t, NULL, confirm_soon, c);
    assert_int_equal(wait_end(c), CUTOVER_DONE);
    pthread_join(t, NULL);
    assert_components(f, FX_COMPONENTS, 3, 0, 0);
    assert_acked_before(f, 2, GW, PX);
    assert_acked_before(f, 3, PX, GW);
    assert_events_have(c, "ban v2 acked by all 2 gateways");
    assert_events_have(c, "ban v2 acked by all 4 components");
    assert_events_have(c, "v3 acked by all 2 proxies");
    cutover_destroy(c);
}

/* A rollback lifts the ban like the switch: proxies first. */
static void test_rollback_order(void **state)
{
    struct fixture *f = *state;
    char msg[4096];

    struct cutover *c = start_cutover(f, "50-69", "dc-a", 400, msg, sizeof(msg));   /* nobody confirms the sync */
    assert_int_equal(wait_end(c), CUTOVER_ROLLED_BACK);
    assert_components(f, FX_COMPONENTS, 3, 1, 0);
    assert_acked_before(f, 2, GW, PX);
    assert_acked_before(f, 3, PX, GW);
    cutover_destroy(c);
}

/* A gateway that does not ack the ban: no proxy is banned, the cutover rolls back. */
static void test_ban_waits_for_every_gateway(void **state)
{
    struct fixture *f = *state;
    char msg[4096];

    f->rec.fail_version = 2;
    atomic_store(&f->rec.fail_comp, 1);
    struct cutover *c = start_cutover(f, "50-69", "dc-a", 400, msg, sizeof(msg));
    assert_int_equal(wait_end(c), CUTOVER_ROLLED_BACK);
    assert_true(rec_count(f, 2, 1, 2) >= 1);    /* the gateway got it, did not ack */
    assert_int_equal(rec_count(f, 2, PX), 0);
    assert_events_have(c, "not acked within 400 ms by: dc-b gateway 127.0.0.1:20402");
    assert_components(f, FX_COMPONENTS, 3, 1, 0);
    cutover_destroy(c);
}

/* A proxy that does not ack the switch holds the gateways one push timeout only. */
static void test_switch_stuck_proxy_bounded(void **state)
{
    struct fixture *f = *state;
    char msg[4096];
    pthread_t t;

    f->rec.fail_version = 3;
    atomic_store(&f->rec.fail_comp, 3);
    struct cutover *c = start_cutover(f, "50-69", "dc-a", 3000, msg, sizeof(msg));
    pthread_create(&t, NULL, confirm_soon, c);
    int k;
    for (k = 0; k < 200 && rec_count(f, 3, GW) < 2; k++) {
        struct timespec ts = { 0, 20 * 1000000L };
        nanosleep(&ts, NULL);
    }
    assert_true(k < 200);
    /* the gateways have the new routing while the proxy still refuses to ack */
    assert_int_equal(rules_store_version(&f->comp[0].store), 3);
    assert_int_equal(rules_store_version(&f->comp[1].store), 3);
    assert_int_equal(atomic_load(&c->outcome), CUTOVER_RUNNING);
    uint64_t waited = rec_time(f, 3, 1, GW) - rec_time(f, 3, 1, PX);
    assert_true(waited >= 400 * 1000000ull);    /* call_timeout_ms 500, minus slack */
    assert_true(waited < 2000 * 1000000ull);
    assert_events_have(c, "pushing to the gateways anyway");
    atomic_store(&f->rec.fail_comp, -1);
    assert_int_equal(wait_end(c), CUTOVER_DONE);
    pthread_join(t, NULL);
    assert_components(f, FX_COMPONENTS, 3, 0, 0);
    cutover_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_push_answers, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_full_cutover, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sync_timeout_rolls_back, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_abort, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_refusals_and_dry_run, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_resume_before_sync_rolls_back, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_resume_after_sync_finishes, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_resume_missing_base, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_push_order, fx_setup4, fx_teardown),
        cmocka_unit_test_setup_teardown(test_rollback_order, fx_setup4, fx_teardown),
        cmocka_unit_test_setup_teardown(test_ban_waits_for_every_gateway, fx_setup4,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_switch_stuck_proxy_bounded, fx_setup4,
                                        fx_teardown),
    };
    if (push_global_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
