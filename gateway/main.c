/*
 * unitgw: the HTTP unit-routing gateway.
 *
 *   main: config -> rules keeper (load persisted rules) -> server (clients)
 *         -> admin listener (rule pushes, status, metrics)
 *         -> sigwait: SIGHUP reload the config, SIGTERM/SIGINT drain + exit
 *
 * Signals are blocked in every thread and taken here with sigwait, so no
 * handler runs inside library code.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gateway/gw_config.h"
#include "gateway/gw_server.h"
#include "router/admin_http.h"
#include "router/log.h"
#include "router/rules_keeper.h"
#include "router/version.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: unitgw -c FILE [-t]\n"
                 "  -c, --config FILE  configuration file (libconfig syntax, see conf/gateway-a.conf)\n"
                 "  -t, --test         check the configuration (and its topology) and exit\n"
                 "  -h, --help         this text\n"
                 "  -V, --version      print the version\n"
                 "signals: SIGHUP reloads the configuration; SIGTERM or SIGINT drains\n"
                 "requests in flight (up to drain_timeout_ms) and exits.\n");
}

/* mkdir -p; returns 0 or -1 (errno). */
static int make_dirs(const char *path)
{
    char buf[PATH_MAX];

    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

static int keeper_start(struct rules_keeper *k, const struct gw_config *cfg)
{
    char err[512];

    if (cfg->state_dir[0] != '\0' && make_dirs(cfg->state_dir) < 0) {
        log_error("state_dir %s: %s", cfg->state_dir, strerror(errno));
        return -1;
    }
    if (rules_keeper_init(k, cfg->topo->secret_file, cfg->rules_file[0] ? cfg->rules_file : NULL,
                          cfg->topo->unit_names, cfg->topo->nunits, err, sizeof(err)) < 0) {
        log_error("rules: %s", err);
        return -1;
    }
    switch (rules_keeper_load(k, err, sizeof(err))) {
    case 1:
        log_info("rules: loaded version %llu from %s",
                 (unsigned long long)rules_store_version(&k->store), cfg->rules_file);
        break;
    case 0:
        log_warn("rules: none yet%s%s; unit routes answer 503 until a push arrives",
                 cfg->rules_file[0] ? " in " : " (state_dir unset: memory only)",
                 cfg->rules_file);
        break;
    default:
        log_error("rules: PERSISTED RULE FILE IS UNUSABLE, starting WITHOUT rules: %s", err);
        log_error("rules: unit routes answer 503 until a push arrives; the file is kept for "
                  "inspection");
        break;
    }
    return 0;
}

/* A reload may change routing and limits, not where we listen or the units. */
static int reload_compatible(const struct gw_config *a, const struct gw_config *b)
{
    if (strcmp(a->unit, b->unit) != 0 || strcmp(a->listen, b->listen) != 0 ||
        strcmp(a->admin_listen, b->admin_listen) != 0 ||
        strcmp(a->rules_file, b->rules_file) != 0 || a->workers != b->workers ||
        a->max_connections != b->max_connections || a->client_timeout_s != b->client_timeout_s ||
        a->max_header_bytes != b->max_header_bytes || a->topo->nunits != b->topo->nunits) {
        log_error("reload refused: unit, listen, admin_listen, state_dir, workers, "
                  "max_connections, client_timeout_s and max_header_bytes need a restart");
        return 0;
    }
    for (size_t i = 0; i < a->topo->nunits; i++)
        if (strcmp(a->topo->units[i].name, b->topo->units[i].name) != 0) {
            log_error("reload refused: the topology's units changed; restart instead");
            return 0;
        }
    return 1;
}

static void reload(struct gw_server *s, const struct gw_config *boot, const char *path)
{
    char err[512];
    struct gw_config *next = gw_config_load(path, err, sizeof(err));

    if (next == NULL) {
        log_error("reload failed, keeping the running configuration: %s", err);
        return;
    }
    if (!reload_compatible(boot, next)) {
        gw_config_destroy(next);
        return;
    }
    log_set_level((enum log_level)next->log_level);
    gw_server_reload(s, next);
    log_info("configuration reloaded from %s", path);
}

static int serve(struct gw_config *cfg, const char *path, sigset_t *sigs)
{
    struct rules_keeper keeper;
    char err[512];
    int rc = 1;

    if (keeper_start(&keeper, cfg) < 0)
        return 1;
    struct gw_server *s = gw_server_start(cfg, &keeper, err, sizeof(err));
    if (s == NULL) {
        log_error("%s", err);
        goto out_keeper;
    }
    struct admin_http_hooks hooks = { s, gw_server_after_accept, gw_server_status_json,
                                      gw_server_metrics };
    struct admin_http_config acfg = { cfg->admin_listen, "gateway", cfg->unit };
    struct admin_http *admin = admin_http_start(&acfg, &keeper, &hooks, err, sizeof(err));
    if (admin == NULL) {
        log_error("admin listener: %s", err);
        goto out_server;
    }
    log_info("unitgw %s unit %s listening on %s, admin on %s, mode %s", UR_VERSION, cfg->unit,
             cfg->listen, cfg->admin_listen, cfg->mode == ROUTE_MODE_FORWARD ? "forward" : "redirect");
    for (;;) {
        int sig = 0;
        if (sigwait(sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            reload(s, cfg, path);
            continue;
        }
        log_info("signal %d: draining (up to %d ms)", sig, cfg->drain_timeout_ms);
        break;
    }
    gw_server_drain(s, cfg->drain_timeout_ms);
    rc = 0;
    admin_http_stop(admin);
out_server:
    gw_server_destroy(s);
out_keeper:
    rules_keeper_deinit(&keeper);
    log_info("stopped");
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "test", no_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *path = NULL;
    int ch, test = 0;
    char err[512];

    while ((ch = getopt_long(argc, argv, "c:thV", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': path = optarg; break;
        case 't': test = 1; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("unitgw %s\n", UR_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (path == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }
    log_init("unitgw", LOG_LEVEL_INFO);
    struct gw_config *cfg = gw_config_load(path, err, sizeof(err));
    if (cfg == NULL) {
        fprintf(stderr, "unitgw: %s\n", err);
        return 1;
    }
    if (test) {
        printf("unitgw: %s: configuration ok (unit %s, %zu routes)\n", path, cfg->unit,
               cfg->table.nentries);
        gw_config_destroy(cfg);
        return 0;
    }
    log_set_level((enum log_level)cfg->log_level);

    /* every thread inherits the mask: signals only reach sigwait */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    cfg->refs = 1;      /* ours; the server takes its own */
    int rc = serve(cfg, path, &sigs);
    if (--cfg->refs == 0)
        gw_config_destroy(cfg);
    curl_global_cleanup();
    return rc;
}
