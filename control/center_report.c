/*
 * center_report: what the control center tells about past cutovers, read from
 * the journal: `unitctl history` and the /metrics counters.
 */
#include "center.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One cutover summed up from its journal records. */
struct report_row {
    char     id[JOURNAL_ID_MAX];
    char     sel[64];
    int      from, to;
    uint64_t started_ms;
    char     outcome[16];       /* running, done, rolled_back */
    char     ban_window_ms[24];
    char     sync_ms[24];
    char     total_ms[24];
    char     reason[200];
};

struct report_acc {
    struct report_row *rows;
    size_t             n, cap;
};

static struct report_row *report_find(struct report_acc *a, const char *id)
{
    for (size_t i = a->n; i > 0; i--)
        if (strcmp(a->rows[i - 1].id, id) == 0)
            return &a->rows[i - 1];
    return NULL;
}

static int report_visit(void *ctx, const struct journal_record *r)
{
    struct report_acc *a = ctx;
    char v[64];
    struct report_row *row;

    if (strcmp(r->step, "begin") == 0) {
        if (a->n == a->cap) {
            size_t cap = a->cap ? a->cap * 2 : 32;
            struct report_row *n = realloc(a->rows, cap * sizeof(*n));
            if (n == NULL)
                return 0;
            a->rows = n;
            a->cap = cap;
        }
        row = &a->rows[a->n++];
        memset(row, 0, sizeof(*row));
        snprintf(row->id, sizeof(row->id), "%s", r->id);
        if (journal_record_get(r, "sel", row->sel, sizeof(row->sel)) == NULL)
            row->sel[0] = '\0';
        row->from = journal_record_get(r, "from", v, sizeof(v)) ? atoi(v) : -1;
        row->to = journal_record_get(r, "to", v, sizeof(v)) ? atoi(v) : -1;
        row->started_ms = r->time_ms;
        snprintf(row->outcome, sizeof(row->outcome), "running");
        return 0;
    }
    if ((row = report_find(a, r->id)) == NULL)
        return 0;
    if (strcmp(r->step, "done") == 0) {
        snprintf(row->outcome, sizeof(row->outcome), "done");
        journal_record_get(r, "ban_window_ms", row->ban_window_ms, sizeof(row->ban_window_ms));
        journal_record_get(r, "sync_ms", row->sync_ms, sizeof(row->sync_ms));
        journal_record_get(r, "total_ms", row->total_ms, sizeof(row->total_ms));
    } else if (strcmp(r->step, "rolled_back") == 0) {
        snprintf(row->outcome, sizeof(row->outcome), "rolled_back");
        snprintf(row->total_ms, sizeof(row->total_ms), "%" PRIu64,
                 r->time_ms - row->started_ms);
    } else if (strcmp(r->step, "rollback_push") == 0) {
        journal_record_get(r, "reason", row->reason, sizeof(row->reason));
    } else if (strcmp(r->step, "synced") == 0) {
        journal_record_get(r, "wait_ms", row->sync_ms, sizeof(row->sync_ms));
    }
    return 0;
}

static const char *report_unit(struct center *c, int i)
{
    return i >= 0 && (size_t)i < c->topo->nunits ? c->topo->units[i].name : "?";
}

int center_history(struct center *c, struct strbuf *out)
{
    struct report_acc a = { 0 };

    journal_foreach(c->journal, report_visit, &a);
    if (a.n == 0)
        strbuf_puts(out, "no cutovers yet\n");
    else
        strbuf_printf(out, "%-26s %-20s %-6s %-6s %-12s %-20s %8s %8s %8s\n", "id", "selection",
                      "from", "to", "outcome", "started (UTC)", "ban_ms", "sync_ms",
                      "total_ms");
    for (size_t i = 0; i < a.n; i++) {
        const struct report_row *r = &a.rows[i];
        time_t t = (time_t)(r->started_ms / 1000);
        struct tm tm;
        char when[32];
        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        strbuf_printf(out, "%-26s %-20s %-6s %-6s %-12s %-20s %8s %8s %8s\n", r->id, r->sel,
                      report_unit(c, r->from), report_unit(c, r->to), r->outcome, when,
                      r->ban_window_ms[0] ? r->ban_window_ms : "-",
                      r->sync_ms[0] ? r->sync_ms : "-", r->total_ms[0] ? r->total_ms : "-");
        if (r->reason[0])
            strbuf_printf(out, "    why: %s\n", r->reason);
    }
    free(a.rows);
    return CTL_EXIT_OK;
}

void center_metrics(struct center *c, struct strbuf *out)
{
    struct report_acc a = { 0 };
    size_t done = 0, rolled = 0;
    const char *last_window = NULL;

    journal_foreach(c->journal, report_visit, &a);
    for (size_t i = 0; i < a.n; i++) {
        if (strcmp(a.rows[i].outcome, "done") == 0) {
            done++;
            if (a.rows[i].ban_window_ms[0] && strcmp(a.rows[i].ban_window_ms, "unknown") != 0)
                last_window = a.rows[i].ban_window_ms;
        } else if (strcmp(a.rows[i].outcome, "rolled_back") == 0) {
            rolled++;
        }
    }
    strbuf_printf(out, "# HELP unitctl_rule_version Version of the control center's rules.\n"
                       "# TYPE unitctl_rule_version gauge\n"
                       "unitctl_rule_version %" PRIu64 "\n",
                  rules_store_version(&c->keeper.store));
    strbuf_puts(out, "# HELP unitctl_component_rule_version Rule version each component reported.\n"
                     "# TYPE unitctl_component_rule_version gauge\n");
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->ntargets; i++)
        strbuf_printf(out, "unitctl_component_rule_version{unit=\"%s\",kind=\"%s\",addr=\"%s\"} %"
                      PRIu64 "\n", c->targets[i].unit, c->targets[i].kind, c->targets[i].addr,
                      c->view[i].version);
    strbuf_puts(out, "# HELP unitctl_component_up 1 if the component answered the last poll.\n"
                     "# TYPE unitctl_component_up gauge\n");
    for (size_t i = 0; i < c->ntargets; i++)
        strbuf_printf(out, "unitctl_component_up{unit=\"%s\",kind=\"%s\",addr=\"%s\"} %d\n",
                      c->targets[i].unit, c->targets[i].kind, c->targets[i].addr,
                      c->view[i].http_status != 0);
    int running = c->running != NULL && atomic_load(&c->running->outcome) == CUTOVER_RUNNING;
    pthread_mutex_unlock(&c->lock);
    strbuf_printf(out, "# HELP unitctl_cutovers_total Cutovers by outcome (journal).\n"
                       "# TYPE unitctl_cutovers_total counter\n"
                       "unitctl_cutovers_total{outcome=\"done\"} %zu\n"
                       "unitctl_cutovers_total{outcome=\"rolled_back\"} %zu\n"
                       "# HELP unitctl_cutover_running 1 while a cutover runs.\n"
                       "# TYPE unitctl_cutover_running gauge\n"
                       "unitctl_cutover_running %d\n", done, rolled, running);
    if (last_window != NULL)
        strbuf_printf(out, "# HELP unitctl_last_ban_window_ms Write-ban window of the last "
                           "successful cutover.\n# TYPE unitctl_last_ban_window_ms gauge\n"
                           "unitctl_last_ban_window_ms %s\n", last_window);
    strbuf_printf(out, "# HELP unitctl_reconcile_pushes_total Re-pushes to components behind.\n"
                       "# TYPE unitctl_reconcile_pushes_total counter\n"
                       "unitctl_reconcile_pushes_total %lu\n"
                       "# HELP unitctl_api_denied_total API calls refused for a bad token.\n"
                       "# TYPE unitctl_api_denied_total counter\n"
                       "unitctl_api_denied_total %lu\n",
                  atomic_load(&c->reconcile_pushes), atomic_load(&c->api_denied));
    free(a.rows);
}
