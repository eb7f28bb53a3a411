#include "center.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>

#include "control/rule_edit.h"
#include "router/log.h"
#include "router/version.h"

static void center_on_event(void *ctx, const char *id, const char *text)
{
    (void)ctx;
    log_info("cutover %s: %s", id, text);
}

/* Install r (signed) as the current rules. Returns 0 or -1 (err). */
static int center_install(struct center *c, const struct rules *r, char *err, size_t errlen)
{
    char sig[RULES_SIGN_HEX_LEN + 1];
    uint64_t version;

    rules_sign(&c->keeper.secret, r->source, r->source_len, sig);
    enum rules_accept_status st = rules_keeper_accept(&c->keeper, r->source, r->source_len, sig,
                                                      &version, err, errlen);
    return st == RULES_ACCEPT_APPLIED || st == RULES_ACCEPT_SAME ? 0 : -1;
}

/* First start: the rules come from initial_rules. */
static int center_load_initial(struct center *c, char *err, size_t errlen)
{
    FILE *f = fopen(c->cfg.initial_rules, "rb");
    char *text = malloc(RULES_BODY_MAX + 1);
    size_t len = 0;
    int rc = -1;

    if (f == NULL || text == NULL) {
        snprintf(err, errlen, "no state yet and initial_rules %s unreadable",
                 c->cfg.initial_rules);
        goto out;
    }
    len = fread(text, 1, RULES_BODY_MAX, f);
    struct rules *r = rules_parse(text, len, c->topo->unit_names, c->topo->nunits, err, errlen);
    if (r == NULL)
        goto out;
    struct rules *canon = rule_edit_with_version(r, r->version, err, errlen);
    rules_destroy(r);
    if (canon == NULL)
        goto out;
    rc = center_install(c, canon, err, errlen);
    rules_destroy(canon);
out:
    if (f != NULL)
        fclose(f);
    free(text);
    return rc;
}

static void *center_reconcile_main(void *arg);

/* mkdir -p with mode 0700 for what it creates. Returns 0 or -1 (errno). */
static int center_mkdir_p(const char *path)
{
    char buf[PATH_MAX];

    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

static int center_load_state(struct center *c, char *note, size_t notelen,
                             char *err, size_t errlen)
{
    char path[PATH_MAX + 32];
    struct journal_report rep;

    if (center_mkdir_p(c->cfg.state_dir) < 0) {
        snprintf(err, errlen, "state_dir %s: %s", c->cfg.state_dir, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof(path), "%s/rules.conf", c->cfg.state_dir);
    /* topology_load resolved secret_file against the topology's directory */
    if (rules_keeper_init(&c->keeper, c->topo->secret_file, path, c->topo->unit_names, c->topo->nunits, err,
                          errlen) < 0)
        return -1;
    int loaded = rules_keeper_load(&c->keeper, err, errlen);
    if (loaded < 0 || (loaded == 0 && center_load_initial(c, err, errlen) < 0)) {
        rules_keeper_deinit(&c->keeper);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/journal.log", c->cfg.state_dir);
    c->journal = journal_open(path, &rep, err, errlen);
    if (c->journal == NULL) {
        rules_keeper_deinit(&c->keeper);
        return -1;
    }
    if (rep.torn_bytes > 0)
        snprintf(note, notelen, "journal: torn last line %" PRIu64 " (%zu bytes) ignored",
                 rep.torn_line, rep.torn_bytes);
    return 0;
}

static int center_load_token(struct center *c, char *err, size_t errlen)
{
    struct rules_secret tok;

    if (rules_secret_load(&tok, c->cfg.token_file, err, errlen) < 0)
        return -1;
    memcpy(c->token, tok.key, tok.len);
    c->token_len = tok.len;
    rules_secret_clear(&tok);
    return 0;
}

struct center *center_create(const char *config_path, char *note, size_t notelen,
                             char *err, size_t errlen)
{
    char why[512];
    struct center *c = calloc(1, sizeof(*c));

    note[0] = '\0';
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (ctl_config_load(&c->cfg, config_path, err, errlen) < 0)
        goto fail_alloc;
    if ((c->topo = topology_load(c->cfg.topology, err, errlen)) == NULL)
        goto fail_alloc;
    if (center_load_token(c, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "token_file: %s", why);
        goto fail_topo;
    }
    if (center_load_state(c, note, notelen, err, errlen) < 0)
        goto fail_topo;
    c->ntargets = push_targets_from_topology(c->topo, c->targets, PUSH_TARGETS_MAX);
    c->env.keeper = &c->keeper;
    c->env.journal = c->journal;
    c->env.topo = c->topo;
    c->env.targets = c->targets;
    c->env.ntargets = c->ntargets;
    ctl_config_sync(&c->cfg, &c->env.sync);
    snprintf(c->env.state_dir, sizeof(c->env.state_dir), "%s", c->cfg.state_dir);
    c->env.call_timeout_ms = c->cfg.push_timeout_ms;
    c->env.retry_ms = c->cfg.push_retry_ms;
    c->env.on_event = center_on_event;
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->start_lock, NULL);

    struct cutover *resumed = cutover_resume(&c->env, why, sizeof(why));
    if (resumed == NULL && why[0] != '\0') {
        snprintf(err, errlen, "cannot resume the unfinished cutover: %s", why);
        goto fail_state;
    }
    if (resumed != NULL) {
        c->cutovers[c->ncutovers++] = resumed;
        c->running = resumed;
    }
    if (pthread_create(&c->reconcile, NULL, center_reconcile_main, c) != 0) {
        snprintf(err, errlen, "cannot start the reconcile thread");
        goto fail_cutover;
    }
    c->reconcile_started = 1;
    return c;

fail_cutover:
    cutover_destroy(resumed);
fail_state:
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->start_lock);
    journal_close(c->journal);
    rules_keeper_deinit(&c->keeper);
fail_topo:
    OPENSSL_cleanse(c->token, sizeof(c->token));
    topology_destroy(c->topo);
fail_alloc:
    free(c);
    return NULL;
}

void center_destroy(struct center *c)
{
    if (c == NULL)
        return;
    atomic_store(&c->stop, 1);
    if (c->reconcile_started)
        pthread_join(c->reconcile, NULL);
    /* a cutover still running is joined: callers stop the center only when
     * none runs (main exits without destroying otherwise) */
    for (size_t i = 0; i < c->ncutovers; i++)
        cutover_destroy(c->cutovers[i]);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->start_lock);
    journal_close(c->journal);
    rules_keeper_deinit(&c->keeper);
    OPENSSL_cleanse(c->token, sizeof(c->token));
    topology_destroy(c->topo);
    free(c);
}

int center_token_ok(struct center *c, const char *token)
{
    int ok = token != NULL && strlen(token) == c->token_len &&
             CRYPTO_memcmp(token, c->token, c->token_len) == 0;
    if (!ok)
        atomic_fetch_add(&c->api_denied, 1);
    return ok;
}

/* The running cutover, forgetting one that ended. Call with c->lock held. */
static struct cutover *center_running_locked(struct center *c)
{
    if (c->running != NULL && atomic_load(&c->running->outcome) != CUTOVER_RUNNING)
        c->running = NULL;
    return c->running;
}

/* ---- reconcile ------------------------------------------------------- */

/* A copy of the current document and its signature; NULL if none. */
static char *center_current(struct center *c, size_t *len, uint64_t *version,
                            char sig[RULES_SIGN_HEX_LEN + 1])
{
    struct rules_guard g;
    const struct rules *r = rules_store_get(&c->keeper.store, &g);
    char *copy = NULL;

    *version = 0;
    if (r != NULL && (copy = malloc(r->source_len + 1)) != NULL) {
        memcpy(copy, r->source, r->source_len + 1);
        *len = r->source_len;
        *version = r->version;
        snprintf(sig, RULES_SIGN_HEX_LEN + 1, "%s", r->signature);
    }
    rules_store_put(&c->keeper.store, &g);
    return copy;
}

/* Remember what every component answered (c->view), for status. */
static void center_store_view(struct center *c, const struct push_result *poll)
{
    pthread_mutex_lock(&c->lock);
    memcpy(c->view, poll, c->ntargets * sizeof(poll[0]));
    c->view_at = push_now_ms();
    pthread_mutex_unlock(&c->lock);
}

/*
 * Poll every component now: status shows what they run at this moment, not
 * what the last reconcile round saw (a cutover may have moved them since).
 */
static void center_refresh_view(struct center *c)
{
    struct push_result poll[PUSH_TARGETS_MAX];

    push_poll_versions(c->targets, c->ntargets, c->cfg.push_timeout_ms, poll);
    center_store_view(c, poll);
}

static void center_reconcile_once(struct center *c)
{
    struct push_result poll[PUSH_TARGETS_MAX], res[PUSH_TARGETS_MAX];
    struct push_target lag[PUSH_TARGETS_MAX];
    size_t lag_idx[PUSH_TARGETS_MAX], nlag = 0, len = 0;
    char sig[RULES_SIGN_HEX_LEN + 1];
    uint64_t version;

    push_poll_versions(c->targets, c->ntargets, c->cfg.push_timeout_ms, poll);
    char *doc = center_current(c, &len, &version, sig);
    for (size_t i = 0; doc != NULL && i < c->ntargets; i++)
        if (poll[i].http_status != 0 && poll[i].version < version) {
            lag[nlag] = c->targets[i];
            lag_idx[nlag++] = i;
        }
    if (nlag > 0) {
        push_rules(lag, nlag, doc, len, sig, c->cfg.push_timeout_ms, res);
        for (size_t k = 0; k < nlag; k++) {
            size_t i = lag_idx[k];
            atomic_fetch_add(&c->reconcile_pushes, 1);
            log_info("reconcile: %s %s %s had v%" PRIu64 ", pushed v%" PRIu64 ": %s %s",
                     c->targets[i].unit, c->targets[i].kind, c->targets[i].addr,
                     poll[i].version, version, res[k].status, res[k].error);
            if (push_result_acked(&res[k], version))
                poll[i].version = version;
        }
    }
    free(doc);
    center_store_view(c, poll);
    atomic_fetch_add(&c->reconcile_rounds, 1);
}

static void *center_reconcile_main(void *arg)
{
    struct center *c = arg;

    while (!atomic_load(&c->stop)) {
        center_reconcile_once(c);
        for (long slept = 0; slept < c->cfg.reconcile_interval_ms && !atomic_load(&c->stop);
             slept += 20) {
            struct timespec ts = { 0, 20 * 1000000L };
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

/* ---- operations --------------------------------------------------------- */

static void center_put_rules_summary(const struct rules *r, struct strbuf *out)
{
    strbuf_printf(out, "rules v%" PRIu64 ", %u buckets\n", r->version, r->buckets);
    strbuf_puts(out, "bucket map:\n");
    for (size_t i = 0; i < r->nranges; i++)
        strbuf_printf(out, "  %6u-%-6u -> %s (%u buckets)\n", r->ranges[i].first,
                      r->ranges[i].last, rules_unit_name(r, r->ranges[i].unit),
                      r->ranges[i].last - r->ranges[i].first + 1);
    strbuf_printf(out, "overrides: %zu\n", r->noverrides);
    for (size_t i = 0; i < r->noverrides && i < 20; i++)
        strbuf_printf(out, "  buyer %" PRIu64 " -> %s\n", r->overrides[i].buyer_id,
                      rules_unit_name(r, r->overrides[i].unit));
    strbuf_printf(out, "write bans: %s\n", r->nbans + r->nbuyer_bans ? "" : "none");
    for (size_t i = 0; i < r->nbans; i++)
        strbuf_printf(out, "  buckets %u-%u\n", r->bans[i].first, r->bans[i].last);
    for (size_t i = 0; i < r->nbuyer_bans; i++)
        strbuf_printf(out, "  buyer %" PRIu64 "\n", r->buyer_bans[i]);
}

int center_status_text(struct center *c, struct strbuf *out)
{
    center_refresh_view(c);
    struct rules_guard g;
    const struct rules *r = rules_store_get(&c->keeper.store, &g);
    uint64_t version = r ? r->version : 0;

    strbuf_printf(out, "unitctl %s control center on %s\n", UR_VERSION, c->cfg.listen);
    strbuf_puts(out, "units:");
    for (size_t i = 0; i < c->topo->nunits; i++)
        strbuf_printf(out, " %s%s", c->topo->units[i].name,
                      (int)i == c->topo->center ? " (center)" : "");
    strbuf_puts(out, "\n");
    if (r != NULL)
        center_put_rules_summary(r, out);
    else
        strbuf_puts(out, "no rules\n");
    rules_store_put(&c->keeper.store, &g);

    pthread_mutex_lock(&c->lock);
    uint64_t age = c->view_at ? push_now_ms() - c->view_at : 0;
    strbuf_printf(out, "components (polled %s%.1fs ago):\n", c->view_at ? "" : "never, ",
                  (double)age / 1000.0);
    for (size_t i = 0; i < c->ntargets; i++) {
        const struct push_result *v = &c->view[i];
        strbuf_printf(out, "  %-8s %-7s %-21s ", c->targets[i].unit, c->targets[i].kind,
                      c->targets[i].addr);
        if (c->view_at == 0)
            strbuf_puts(out, "unknown\n");
        else if (v->http_status == 0)
            strbuf_printf(out, "UNREACHABLE (%s)\n", v->error);
        else
            strbuf_printf(out, "v%-6" PRIu64 " %s\n", v->version,
                          v->version == version ? "up to date"
                          : v->version < version ? "BEHIND" : "AHEAD");
    }
    struct cutover *run = center_running_locked(c);
    if (run != NULL)
        strbuf_printf(out, "cutover: %s RUNNING (%s -> %s)%s\n", run->id, run->sel_text,
                      rules_unit_name(run->base, run->to),
                      atomic_load(&run->switched) ? ", switched" : "");
    else
        strbuf_puts(out, "cutover: none running\n");
    pthread_mutex_unlock(&c->lock);
    return CTL_EXIT_OK;
}

void center_status_json(struct center *c, struct strbuf *out)
{
    center_refresh_view(c);
    pthread_mutex_lock(&c->lock);
    strbuf_printf(out, "{\"rule_version\": %" PRIu64 ", \"components\": [",
                  rules_store_version(&c->keeper.store));
    for (size_t i = 0; i < c->ntargets; i++) {
        strbuf_printf(out, "%s{\"unit\": ", i ? ", " : "");
        strbuf_json_string(out, c->targets[i].unit);
        strbuf_puts(out, ", \"kind\": ");
        strbuf_json_string(out, c->targets[i].kind);
        strbuf_puts(out, ", \"addr\": ");
        strbuf_json_string(out, c->targets[i].addr);
        strbuf_printf(out, ", \"reachable\": %s, \"version\": %" PRIu64 "}",
                      c->view[i].http_status ? "true" : "false", c->view[i].version);
    }
    struct cutover *run = center_running_locked(c);
    strbuf_puts(out, "], \"cutover\": ");
    if (run != NULL)
        strbuf_json_string(out, run->id);
    else
        strbuf_puts(out, "null");
    strbuf_puts(out, "}\n");
    pthread_mutex_unlock(&c->lock);
}

static void center_html_escape(struct strbuf *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '<')
            strbuf_puts(out, "&lt;");
        else if (*s == '>')
            strbuf_puts(out, "&gt;");
        else if (*s == '&')
            strbuf_puts(out, "&amp;");
        else
            strbuf_append(out, s, 1);
    }
}

void center_status_html(struct center *c, struct strbuf *out)
{
    struct strbuf text;

    strbuf_init(&text);
    center_status_text(c, &text);
    strbuf_puts(&text, "\nhistory:\n");
    center_history(c, &text);
    strbuf_puts(out, "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
                     "<meta http-equiv=\"refresh\" content=\"2\">"
                     "<title>unitroute control center</title>"
                     "<style>body{font-family:sans-serif;margin:2em}"
                     "pre{background:#f4f4f4;padding:1em}</style></head><body>"
                     "<h1>unitroute control center</h1><pre>");
    center_html_escape(out, text.buf ? text.buf : "");
    strbuf_puts(out, "</pre></body></html>\n");
    strbuf_deinit(&text);
}

int center_rules_text(struct center *c, struct strbuf *out, uint64_t *version)
{
    struct rules_guard g;
    const struct rules *r = rules_store_get(&c->keeper.store, &g);
    int rc = CTL_EXIT_OK;

    *version = 0;
    if (r == NULL) {
        strbuf_puts(out, "no rules\n");
        rc = CTL_EXIT_ERROR;
    } else {
        strbuf_append(out, r->source, r->source_len);
        *version = r->version;
    }
    rules_store_put(&c->keeper.store, &g);
    return rc;
}

static void center_put_push_results(struct center *c, const struct push_result *res,
                                    uint64_t version, struct strbuf *out)
{
    size_t acked = 0;

    for (size_t i = 0; i < c->ntargets; i++) {
        int ok = push_result_acked(&res[i], version);
        acked += ok;
        strbuf_printf(out, "  %-8s %-7s %-21s %s (%" PRIu64 " ms)%s%s\n", c->targets[i].unit,
                      c->targets[i].kind, c->targets[i].addr, ok ? "acked" : res[i].status,
                      res[i].ms, res[i].error[0] ? ": " : "", res[i].error);
    }
    strbuf_printf(out, "%zu/%zu components acked v%" PRIu64 "%s\n", acked, c->ntargets,
                  version, acked < c->ntargets ? "; the reconcile loop keeps pushing" : "");
}

int center_rules_propose(struct center *c, const char *body, size_t len, struct strbuf *out)
{
    char err[512], sig[RULES_SIGN_HEX_LEN + 1];
    struct push_result res[PUSH_TARGETS_MAX];
    int rc = CTL_EXIT_REFUSED;

    pthread_mutex_lock(&c->start_lock);
    pthread_mutex_lock(&c->lock);
    struct cutover *run = center_running_locked(c);
    pthread_mutex_unlock(&c->lock);
    if (run != NULL) {
        strbuf_printf(out, "refused: cutover %s is running\n", run->id);
        goto out;
    }
    struct rules *r = rules_parse(body, len, c->topo->unit_names, c->topo->nunits, err,
                                  sizeof(err));
    if (r == NULL) {
        strbuf_printf(out, "refused: invalid rules: %s\n", err);
        goto out;
    }
    uint64_t version = rules_store_version(&c->keeper.store) + 1;
    struct rules *next = rule_edit_with_version(r, version, err, sizeof(err));
    rules_destroy(r);
    if (next == NULL || center_install(c, next, err, sizeof(err)) < 0) {
        strbuf_printf(out, "failed: %s\n", err);
        rules_destroy(next);
        rc = CTL_EXIT_ERROR;
        goto out;
    }
    rules_sign(&c->keeper.secret, next->source, next->source_len, sig);
    push_rules(c->targets, c->ntargets, next->source, next->source_len, sig,
               c->cfg.push_timeout_ms, res);
    strbuf_printf(out, "rules v%" PRIu64 " is now current; pushed:\n", version);
    center_put_push_results(c, res, version, out);
    rules_destroy(next);
    rc = CTL_EXIT_OK;
out:
    pthread_mutex_unlock(&c->start_lock);
    return rc;
}

int center_cutover_start(struct center *c, const struct cutover_request *req,
                         struct strbuf *out, char *id, size_t idlen)
{
    char msg[8192];
    enum cutover_outcome outcome;
    int rc = CTL_EXIT_REFUSED;

    id[0] = '\0';
    pthread_mutex_lock(&c->start_lock);
    pthread_mutex_lock(&c->lock);
    struct cutover *run = center_running_locked(c);
    pthread_mutex_unlock(&c->lock);
    if (run != NULL) {
        strbuf_printf(out, "refused: cutover %s is running (one at a time)\n", run->id);
        goto out;
    }
    struct cutover *co = cutover_start(&c->env, req, &outcome, msg, sizeof(msg));
    strbuf_puts(out, msg);
    if (co == NULL) {
        rc = outcome == CUTOVER_DRY_RUN ? CTL_EXIT_OK : CTL_EXIT_REFUSED;
        goto out;
    }
    pthread_mutex_lock(&c->lock);
    if (c->ncutovers == CENTER_KEEP_CUTOVERS) {
        cutover_destroy(c->cutovers[0]);
        memmove(c->cutovers, c->cutovers + 1, (c->ncutovers - 1) * sizeof(c->cutovers[0]));
        c->ncutovers--;
    }
    c->cutovers[c->ncutovers++] = co;
    c->running = co;
    pthread_mutex_unlock(&c->lock);
    snprintf(id, idlen, "%s", co->id);
    rc = CTL_EXIT_OK;
out:
    pthread_mutex_unlock(&c->start_lock);
    return rc;
}

int center_cutover_events(struct center *c, const char *id, size_t from, long wait_ms,
                          struct strbuf *out, size_t *next, const char **outcome)
{
    struct cutover *co = NULL;

    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->ncutovers; i++)
        if (strcmp(c->cutovers[i]->id, id) == 0)
            co = c->cutovers[i];
    pthread_mutex_unlock(&c->lock);
    if (co == NULL) {
        strbuf_printf(out, "no cutover %s in memory (see unitctl history)\n", id);
        *outcome = "unknown";
        return CTL_EXIT_ERROR;
    }
    /* co stays valid: only a new cutover start evicts, and it evicts the oldest ended one */
    *outcome = cutover_outcome_name(cutover_events(co, from, wait_ms, out, next));
    return CTL_EXIT_OK;
}

int center_abort(struct center *c, struct strbuf *out)
{
    char err[256];
    int rc = CTL_EXIT_REFUSED;

    pthread_mutex_lock(&c->lock);
    struct cutover *run = center_running_locked(c);
    if (run == NULL)
        strbuf_puts(out, "refused: no cutover is running\n");
    else if (cutover_abort(run, err, sizeof(err)) < 0)
        strbuf_printf(out, "refused: %s\n", err);
    else {
        strbuf_printf(out, "abort requested: cutover %s rolls back\n", run->id);
        rc = CTL_EXIT_OK;
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int center_confirm_sync(struct center *c, const char *id, struct strbuf *out)
{
    int rc = CTL_EXIT_REFUSED;

    pthread_mutex_lock(&c->lock);
    struct cutover *run = center_running_locked(c);
    if (run == NULL || strcmp(run->id, id) != 0) {
        strbuf_printf(out, "refused: cutover %s is not running\n", id);
    } else {
        atomic_store(&run->confirmed, 1);
        strbuf_printf(out, "sync confirmed for cutover %s\n", id);
        rc = CTL_EXIT_OK;
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}
