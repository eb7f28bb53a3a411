/*
 * admin_stub: a stand-in gateway or proxy for the control center's tests. It
 * runs only the admin listener (router/admin_http.h) over a rules_keeper, so
 * it accepts, persists and serves rules exactly like the real components.
 *
 *   admin_stub --listen HOST:PORT --unit NAME --topology FILE --state FILE
 *              [--component gateway|proxy] [--ack-delay-ms N]
 *
 * --state is the persisted rule file (loaded on start). --ack-delay-ms makes
 * every accepted push wait before its ack, like a proxy draining. Stops on
 * SIGTERM or SIGINT.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "router/admin_http.h"
#include "router/rules_keeper.h"
#include "router/topology.h"

static volatile sig_atomic_t stub_stop;

static void stub_on_signal(int sig)
{
    (void)sig;
    stub_stop = 1;
}

static int stub_after_accept(void *ctx, uint64_t version, char *err, size_t errlen)
{
    long ms = *(long *)ctx;

    (void)version;
    (void)err;
    (void)errlen;
    if (ms > 0) {
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
    }
    return 0;
}

static void stub_usage(FILE *out)
{
    fprintf(out, "usage: admin_stub --listen HOST:PORT --unit NAME --topology FILE "
                 "--state FILE [--component gateway|proxy] [--ack-delay-ms N]\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "listen", required_argument, NULL, 'l' },
        { "unit", required_argument, NULL, 'u' },
        { "topology", required_argument, NULL, 't' },
        { "state", required_argument, NULL, 's' },
        { "component", required_argument, NULL, 'c' },
        { "ack-delay-ms", required_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *listen = NULL, *unit = NULL, *topo_path = NULL, *state = NULL;
    const char *component = "stub";
    long delay_ms = 0;
    char err[512];
    int ch, rc = 1;

    while ((ch = getopt_long(argc, argv, "l:u:t:s:c:d:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'l': listen = optarg; break;
        case 'u': unit = optarg; break;
        case 't': topo_path = optarg; break;
        case 's': state = optarg; break;
        case 'c': component = optarg; break;
        case 'd': delay_ms = atol(optarg); break;
        case 'h': stub_usage(stdout); return 0;
        default: stub_usage(stderr); return 2;
        }
    }
    if (listen == NULL || unit == NULL || topo_path == NULL || state == NULL) {
        stub_usage(stderr);
        return 2;
    }
    struct topology *topo = topology_load(topo_path, err, sizeof(err));
    if (topo == NULL) {
        fprintf(stderr, "admin_stub: %s\n", err);
        return 1;
    }
    struct rules_keeper k;
    if (rules_keeper_init(&k, topo->secret_file, state, topo->unit_names, topo->nunits, err,
                          sizeof(err)) < 0) {
        fprintf(stderr, "admin_stub: %s\n", err);
        goto out_topo;
    }
    if (rules_keeper_load(&k, err, sizeof(err)) < 0)
        fprintf(stderr, "admin_stub: persisted rules not loaded: %s\n", err);
    struct admin_http_hooks hooks = { &delay_ms, stub_after_accept, NULL, NULL };
    struct admin_http_config cfg = { listen, component, unit };
    struct admin_http *a = admin_http_start(&cfg, &k, &hooks, err, sizeof(err));
    if (a == NULL) {
        fprintf(stderr, "admin_stub: %s\n", err);
        goto out_keeper;
    }
    signal(SIGTERM, stub_on_signal);
    signal(SIGINT, stub_on_signal);
    fprintf(stderr, "admin_stub: %s %s listening on %s, rule version %llu\n", component, unit,
            listen, (unsigned long long)rules_store_version(&k.store));
    while (!stub_stop)
        pause();
    admin_http_stop(a);
    rc = 0;
out_keeper:
    rules_keeper_deinit(&k);
out_topo:
    topology_destroy(topo);
    return rc;
}
