/*
 * unitgw: HTTP unit-routing gateway.
 * (Placeholder main: parses its command line; the real work lands with its
 * issue.)
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <libconfig.h>

#include "router/version.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: unitgw -c FILE\n"
                 "  -c, --config FILE  configuration file (libconfig syntax)\n"
                 "  -h, --help         this text\n"
                 "  -V, --version      print the version\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *conf = NULL;
    int ch;

    while ((ch = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': conf = optarg; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("unitgw %s\n", UR_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (conf == NULL) {
        usage(stderr);
        return 2;
    }
    config_t cfg;
    config_init(&cfg);
    if (config_read_file(&cfg, conf) != CONFIG_TRUE) {
        fprintf(stderr, "unitgw: %s:%d: %s\n", conf, config_error_line(&cfg),
                config_error_text(&cfg));
        config_destroy(&cfg);
        return 1;
    }
    config_destroy(&cfg);
    return 0;
}
