/*
 * unitctl: the control center (`unitctl serve`) and the operators' CLI (every
 * other command, which talks to the control center over HTTP).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "control/center.h"
#include "control/cli.h"
#include "control/ctl_config.h"
#include "control/ctl_http.h"
#include "control/push.h"
#include "router/log.h"
#include "router/version.h"

static volatile sig_atomic_t main_stop;

static void main_on_signal(int sig)
{
    (void)sig;
    main_stop = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
        "usage: unitctl [OPTIONS] COMMAND [ARGS]\n"
        "commands:\n"
        "  serve                      run the control center\n"
        "  status                     units, components and their rule versions, bucket map,\n"
        "                             running cutover\n"
        "  rules                      print the current rule set\n"
        "  rules push FILE            propose FILE as the next rule set (the control center\n"
        "                             validates it and sets its version)\n"
        "  cutover (--buckets A-B | --buyer N) --to UNIT [--dry-run] [--timeout 30s] [--force]\n"
        "                             move buckets or one buyer to UNIT, printing each step;\n"
        "                             --dry-run prints the plan; --force skips the pre-flight\n"
        "                             refusals; --timeout bounds the acks and the sync wait\n"
        "  abort                      roll back the running cutover (before its switch)\n"
        "  history                    past cutovers, outcome and timings\n"
        "  confirm-sync ID            confirm replication for cutover ID (sync_method manual)\n"
        "options (before or after the command):\n"
        "  -c, --config FILE          control center config (default conf/control.conf)\n"
        "  -s, --server HOST:PORT     control center address (default: listen in the config)\n"
        "  -t, --token-file FILE      API token file (default: token_file in the config)\n"
        "  -l, --log-level LEVEL      serve: error, warn, info, debug (default: the config)\n"
        "  -h, --help                 this text\n"
        "  -V, --version              print the version\n"
        "exit codes: 0 success, 1 error (control center unreachable, server error),\n"
        "  2 usage, 3 cutover rolled back, 4 refused (pre-flight, another cutover running,\n"
        "  invalid request)\n");
}

static int main_serve(const char *config, const char *level)
{
    char err[1024], note[512];

    if (push_global_init() < 0) {
        log_error("libcurl init failed");
        return 1;
    }
    struct center *c = center_create(config, note, sizeof(note), err, sizeof(err));
    if (c == NULL) {
        log_error("%s", err);
        return 1;
    }
    int lv = log_level_parse(level ? level : c->cfg.log_level);
    if (lv >= 0)
        log_set_level((enum log_level)lv);
    if (note[0])
        log_warn("%s", note);
    struct ctl_http *h = ctl_http_start(c, err, sizeof(err));
    if (h == NULL) {
        log_error("%s", err);
        center_destroy(c);
        return 1;
    }
    signal(SIGTERM, main_on_signal);
    signal(SIGINT, main_on_signal);
    signal(SIGPIPE, SIG_IGN);
    log_info("control center listening on %s, rules v%llu, %zu components, sync %s",
             c->cfg.listen, (unsigned long long)rules_store_version(&c->keeper.store),
             c->ntargets, c->cfg.sync_method);
    while (!main_stop)
        pause();
    log_info("stopping");
    ctl_http_stop(h);
    pthread_mutex_lock(&c->lock);
    struct cutover *run = c->running;
    int busy = run != NULL && atomic_load(&run->outcome) == CUTOVER_RUNNING;
    pthread_mutex_unlock(&c->lock);
    if (busy) {
        /* its thread may wait for minutes; the journal has every step, and
         * the next start resumes it exactly as after a crash */
        log_warn("cutover %s is still running: it resumes on the next start", run->id);
        fflush(stderr);
        _exit(0);
    }
    center_destroy(c);
    return 0;
}

/*
 * Global options may also follow the command (`unitctl serve -c FILE`,
 * `unitctl status -s HOST:PORT`): move them before it so one getopt pass sees
 * them. Only exact global option names move; a command's own options stay.
 */
static void main_hoist_global_options(int argc, char **argv)
{
    static const char *const with_arg[] = { "-c", "--config", "-s", "--server", "-t",
                                            "--token-file", "-l", "--log-level", NULL };
    int cmd = 1;

    while (cmd < argc && argv[cmd][0] == '-') {   /* skip globals before the command */
        for (int k = 0; with_arg[k]; k++)
            if (strcmp(argv[cmd], with_arg[k]) == 0 && cmd + 1 < argc)
                cmd++;
        cmd++;
    }
    for (int i = cmd + 1; i < argc; i++) {
        int n = 0;
        for (int k = 0; with_arg[k] && n == 0; k++) {
            size_t len = strlen(with_arg[k]);
            if (strcmp(argv[i], with_arg[k]) == 0 && i + 1 < argc)
                n = 2;
            else if (with_arg[k][1] == '-' && strncmp(argv[i], with_arg[k], len) == 0 &&
                     argv[i][len] == '=')
                n = 1;
        }
        if (n == 0)
            continue;
        /* rotate argv[cmd..i+n-1] so the option lands just before the command */
        char *moved[2] = { argv[i], n == 2 ? argv[i + 1] : NULL };
        memmove(&argv[cmd + n], &argv[cmd], (size_t)(i - cmd) * sizeof(char *));
        argv[cmd] = moved[0];
        if (n == 2)
            argv[cmd + 1] = moved[1];
        cmd += n;
        i += n - 1;
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "server", required_argument, NULL, 's' },
        { "token-file", required_argument, NULL, 't' },
        { "log-level", required_argument, NULL, 'l' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *config = "conf/control.conf", *server = NULL, *token = NULL, *level = NULL;
    int ch;

    log_init("unitctl", LOG_LEVEL_INFO);
    main_hoist_global_options(argc, argv);
    while ((ch = getopt_long(argc, argv, "+c:s:t:l:hV", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': config = optarg; break;
        case 's': server = optarg; break;
        case 't': token = optarg; break;
        case 'l':
            if (log_level_parse(optarg) < 0) {
                fprintf(stderr, "unitctl: log level %s: expected error, warn, info, debug\n",
                        optarg);
                return CTL_EXIT_USAGE;
            }
            level = optarg;
            break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("unitctl %s\n", UR_VERSION); return 0;
        default: usage(stderr); return CTL_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return CTL_EXIT_USAGE;
    }
    if (strcmp(argv[optind], "serve") == 0) {
        if (optind + 1 != argc) {
            usage(stderr);
            return CTL_EXIT_USAGE;
        }
        return main_serve(config, level);
    }

    struct ctl_config cfg;
    char err[1024];
    int have_cfg = ctl_config_load(&cfg, config, err, sizeof(err)) == 0;
    if (!have_cfg && (server == NULL || token == NULL)) {
        fprintf(stderr, "unitctl: %s\n(give --server and --token-file, or a readable -c FILE)\n",
                err);
        return CTL_EXIT_ERROR;
    }
    if (push_global_init() < 0)
        return CTL_EXIT_ERROR;
    struct cli_ctx ctx = { server ? server : cfg.listen, token ? token : cfg.token_file };
    int rc = cli_run(&ctx, argc - optind, argv + optind);
    curl_global_cleanup();
    return rc;
}
