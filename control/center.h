/*
 * center: the control center's state and operations, shared by its HTTP API
 * (control/ctl_http.c) and its threads.
 *
 *   state_dir/rules.conf      current rules (rules_keeper: signed, durable)
 *   state_dir/journal.log     every cutover step (control/journal.h)
 *   state_dir/cutover-ID.base the rules a cutover started from
 *
 *   reconcile thread: every interval, GET /v1/rules of every component;
 *   re-push the current rules to any whose version is lower (a restarted or
 *   new component catches up within one interval); remember what each
 *   answered for the status page.
 *
 * Operations answer with text for the CLI and a status for the exit code;
 * they never log (the caller does).
 */
#ifndef UR_CENTER_H
#define UR_CENTER_H

#include <pthread.h>
#include <stdatomic.h>

#include "control/ctl_config.h"
#include "control/cutover.h"
#include "control/journal.h"
#include "control/push.h"
#include "router/rules_keeper.h"
#include "router/strbuf.h"
#include "router/topology.h"

#define CENTER_KEEP_CUTOVERS 8

struct center {
    struct ctl_config    cfg;
    struct topology     *topo;
    struct rules_keeper  keeper;        /* current rules */
    struct journal      *journal;
    struct push_target   targets[PUSH_TARGETS_MAX];
    size_t               ntargets;
    struct cutover_env   env;
    unsigned char        token[RULES_SIGN_SECRET_MAX]; /* API token bytes */
    size_t               token_len;

    pthread_mutex_t      start_lock;    /* one cutover_start at a time */
    pthread_mutex_t      lock;          /* guards everything below */
    struct push_result   view[PUSH_TARGETS_MAX]; /* last reconcile poll */
    uint64_t             view_at;       /* push_now_ms of that poll, 0 = never */
    struct cutover      *cutovers[CENTER_KEEP_CUTOVERS]; /* recent, newest last */
    size_t               ncutovers;
    struct cutover      *running;       /* one of cutovers[], or NULL */

    pthread_t            reconcile;
    int                  reconcile_started;
    atomic_int           stop;
    atomic_ulong         reconcile_pushes;  /* re-pushes to laggards */
    atomic_ulong         reconcile_rounds;
    atomic_ulong         api_denied;        /* bad or missing token */
};

/*
 * Load config, topology, token, state (rules, journal), resume an unfinished
 * cutover and start the reconcile thread. Returns the center (center_destroy)
 * or NULL with the reason in err. Notes for the log go to note (may be "").
 */
struct center *center_create(const char *config_path, char *note, size_t notelen,
                             char *err, size_t errlen);

void center_destroy(struct center *c);

/* Constant-time check of a presented token. */
int center_token_ok(struct center *c, const char *token);

/* Operations: text into out; return value = CLI exit code (see docs/control.md). */
int center_status_text(struct center *c, struct strbuf *out);
void center_status_json(struct center *c, struct strbuf *out);
void center_status_html(struct center *c, struct strbuf *out);
void center_metrics(struct center *c, struct strbuf *out);
int center_rules_text(struct center *c, struct strbuf *out, uint64_t *version);
int center_rules_propose(struct center *c, const char *body, size_t len, struct strbuf *out);
int center_cutover_start(struct center *c, const struct cutover_request *req,
                         struct strbuf *out, char *id, size_t idlen);
int center_cutover_events(struct center *c, const char *id, size_t from, long wait_ms,
                          struct strbuf *out, size_t *next, const char **outcome);
int center_abort(struct center *c, struct strbuf *out);
int center_confirm_sync(struct center *c, const char *id, struct strbuf *out);
int center_history(struct center *c, struct strbuf *out);

/* Exit codes of the CLI (documented in docs/control.md and --help). */
enum ctl_exit {
    CTL_EXIT_OK = 0,
    CTL_EXIT_ERROR = 1,       /* control center unreachable, server-side error */
    CTL_EXIT_USAGE = 2,
    CTL_EXIT_ROLLED_BACK = 3, /* cutover rolled back (timeout, abort, failure) */
    CTL_EXIT_REFUSED = 4,     /* refused: pre-flight, another cutover, invalid */
};

#endif
