/*
 * unitproxy: MySQL-protocol proxy enforcing unit write rules.
 *
 *   main: config -> topology (units, center, secret) -> rules keeper (load
 *         the persisted rules) -> workers (listen, relay) -> admin listener
 *         (rule pushes, ban drain, status, metrics) -> sigwait
 *
 * Signals are blocked in every thread and taken here with sigwait: SIGTERM
 * and SIGINT stop the proxy (open connections are closed; their
 * transactions roll back).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/proxy.h"
#include "router/admin_http.h"
#include "router/log.h"
#include "router/rules_keeper.h"
#include "router/topology.h"
#include "router/version.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: unitproxy -c FILE [-t]\n"
                 "  -c, --config FILE  configuration file (libconfig syntax, see conf/proxy-a.conf)\n"
                 "  -t, --test         check the configuration (and its topology) and exit\n"
                 "  -h, --help         this text\n"
                 "  -V, --version      print the version\n"
                 "signals: SIGTERM or SIGINT stop the proxy\n");
}

/*
 * backend: "host:port" (IPv4) or the absolute path of a Unix socket (the
 * database on this host: no TCP stack on that leg). Returns 0 or -1.
 */
static int parse_backend(const char *s, struct proxy_backend *b)
{
    memset(b, 0, sizeof(*b));
    if (s[0] == '/') {
        struct sockaddr_un *un = (struct sockaddr_un *)&b->addr;
        if (strlen(s) >= sizeof(un->sun_path))
            return -1;
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, s, strlen(s) + 1);
        b->len = (socklen_t)sizeof(*un);
        b->local = true;
        return 0;
    }
    struct sockaddr_in *in = (struct sockaddr_in *)&b->addr;
    if (admin_http_parse_addr(s, in) != 0)
        return -1;
    b->len = (socklen_t)sizeof(*in);
    return 0;
}

/* Config and topology; the unit must be one of the topology's. */
static int load_all(const char *path, struct proxy *px, struct topology **topo)
{
    char err[512];

    if (proxy_config_load(path, &px->cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "unitproxy: %s\n", err);
        return -1;
    }
    *topo = topology_load(px->cfg.topology, err, sizeof(err));
    if (*topo == NULL) {
        fprintf(stderr, "unitproxy: %s\n", err);
        return -1;
    }
    int unit = topology_unit_index(*topo, px->cfg.unit);
    if (unit < 0) {
        fprintf(stderr, "unitproxy: %s: unit \"%s\" is not in %s\n", path, px->cfg.unit,
                px->cfg.topology);
        return -1;
    }
    px->is_center = unit == (*topo)->center;
    if (admin_http_parse_addr(px->cfg.listen, &px->listen_addr) != 0) {
        fprintf(stderr, "unitproxy: %s: listen must be IPv4 host:port\n", path);
        return -1;
    }
    if (parse_backend(px->cfg.backend, &px->backend) != 0) {
        fprintf(stderr, "unitproxy: %s: backend must be IPv4 host:port or the path of a Unix "
                        "socket (under %zu bytes)\n", path,
                sizeof(((struct sockaddr_un *)0)->sun_path));
        return -1;
    }
    px->tables.v = px->cfg.tables;
    px->tables.n = px->cfg.ntables;
    return 0;
}

/* Create the directories above path (mode 700) if they are missing. */
static int make_parent_dirs(const char *path)
{
    char dir[PATH_MAX];

    snprintf(dir, sizeof(dir), "%s", path);
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return 0;
}

static int keeper_start(struct rules_keeper *k, const struct proxy *px,
                        const struct topology *topo)
{
    char err[512];

    if (make_parent_dirs(px->cfg.state_file) != 0) {
        log_error("state_file %s: cannot create its directory: %s", px->cfg.state_file,
                  strerror(errno));
        return -1;
    }
    if (rules_keeper_init(k, topo->secret_file, px->cfg.state_file, topo->unit_names,
                          topo->nunits, err, sizeof(err)) != 0) {
        log_error("rules: %s", err);
        return -1;
    }
    switch (rules_keeper_load(k, err, sizeof(err))) {
    case 1:
        log_info("rules version %llu loaded from %s",
                 (unsigned long long)rules_store_version(&k->store), px->cfg.state_file);
        return 0;
    case 0:
        log_warn("no rules yet (%s absent): unit-table writes are refused until a push",
                 px->cfg.state_file);
        return 0;
    default:
        log_error("rules state %s: %s", px->cfg.state_file, err);
        rules_keeper_deinit(k);
        return -1;
    }
}

static int serve(struct proxy *px, const struct topology *topo, sigset_t *sigs)
{
    struct rules_keeper keeper;
    struct admin_http_hooks hooks;
    char err[512];
    int rc = 1;

    if (keeper_start(&keeper, px, topo) != 0)
        return 1;
    px->keeper = &keeper;
    if (proxy_workers_start(px, err, sizeof(err)) != 0) {
        log_error("%s: %s", px->cfg.listen, err);
        goto out_keeper;
    }
    proxy_admin_hooks(px, &hooks);
    struct admin_http_config acfg = { px->cfg.admin, "proxy", px->cfg.unit };
    struct admin_http *admin = admin_http_start(&acfg, &keeper, &hooks, err, sizeof(err));
    if (admin == NULL) {
        log_error("admin %s: %s", px->cfg.admin, err);
        goto out_workers;
    }
    log_info("unitproxy %s: unit %s%s, listening on %s, backend %s, admin %s, %d worker(s)",
             UR_VERSION, px->cfg.unit, px->is_center ? " (center)" : "", px->cfg.listen,
             px->cfg.backend, px->cfg.admin, px->cfg.workers);
    for (;;) {
        int sig = 0;
        if (sigwait(sigs, &sig) != 0)
            continue;
        log_info("signal %d: stopping", sig);
        break;
    }
    rc = 0;
    admin_http_stop(admin);
out_workers:
    proxy_workers_stop(px);
out_keeper:
    rules_keeper_deinit(&keeper);
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
    const char *conf = NULL;
    bool test_only = false;
    int ch;

    while ((ch = getopt_long(argc, argv, "c:thV", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': conf = optarg; break;
        case 't': test_only = true; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("unitproxy %s\n", UR_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (conf == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }
    struct proxy *px = calloc(1, sizeof(*px));
    struct topology *topo = NULL;
    if (px == NULL)
        return 1;
    int rc = 1;
    if (load_all(conf, px, &topo) != 0)
        goto out;
    if (test_only) {
        printf("unitproxy: %s is valid\n", conf);
        rc = 0;
        goto out;
    }
    log_init("unitproxy", (enum log_level)log_level_parse(px->cfg.log_level));
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    rc = serve(px, topo, &sigs);
out:
    topology_destroy(topo);
    free(px);
    return rc;
}
