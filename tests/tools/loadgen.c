/*
 * loadgen: the load generator and the invariant checker of the demo and of
 * the invariant tests (docs/demo-tools.md).
 *
 *     loadgen run ...   --> loadgen/run.c    orders through the gateways,
 *                                            acks file, summary
 *     loadgen check ... --> loadgen/check.c  acks files against every
 *                                            database (loadgen/db.c)
 *
 * The acks file that connects the two is loadgen/acks.c. This file parses
 * the sub-command, sets up the client library it needs and dispatches.
 *
 * Exit status: run 0 done, 2 failed; check 0 all findings zero, 1 some
 * finding, 2 could not check; bad arguments 2; --help 0.
 */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <mysql.h>

#include "tests/tools/loadgen/check.h"
#include "tests/tools/loadgen/run.h"

static void lg_usage(FILE *out)
{
    fprintf(out, "usage: loadgen run ... | loadgen check ... | loadgen --help\n\n");
    lg_run_usage(out);
    fprintf(out, "\n");
    lg_check_usage(out);
}

static int lg_main_run(int argc, char **argv)
{
    struct lg_run_config cfg;
    int rc;

    switch (lg_run_parse(argc, argv, &cfg)) {
    case 1:  return 0;
    case -1: return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        return 2;
    rc = lg_run_main(&cfg);
    curl_global_cleanup();
    return rc;
}

static int lg_main_check(int argc, char **argv)
{
    static struct lg_check_config cfg;     /* large: not on the stack */
    int rc;

    switch (lg_check_parse(argc, argv, &cfg)) {
    case 1:  return 0;
    case -1: return 2;
    }
    if (mysql_library_init(0, NULL, NULL) != 0)
        return 2;
    rc = lg_check_main(&cfg);
    mysql_library_end();
    return rc;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 2 && strcmp(argv[1], "run") == 0)
        return lg_main_run(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "check") == 0)
        return lg_main_check(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        lg_usage(stdout);
        return 0;
    }
    lg_usage(stderr);
    return 2;
}
