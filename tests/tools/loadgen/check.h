/*
 * loadgen check: the invariant checker. Compares the acknowledged orders
 * of one or more acks files with the orders table of every database (flow
 * in check.c).
 */
#ifndef LOADGEN_CHECK_H
#define LOADGEN_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tests/tools/loadgen/db.h"

#define LG_DBS_MAX        9
#define LG_ACK_FILES_MAX  16

/*
 * Filled by lg_check_parse; the strings point into argv (not owned). Large
 * (the databases are embedded): keep it off the stack.
 */
struct lg_check_config {
    const char *ack_paths[LG_ACK_FILES_MAX];
    size_t      nack_paths;
    struct lg_db dbs[LG_DBS_MAX];   /* connections and rows owned by lg_check_main */
    size_t      ndbs;
    const char *user;
    char        password[256];      /* from --db-password-file */
    uint64_t    wait_s;             /* for replication to catch up */
    uint64_t    max_moves;          /* unit changes allowed per buyer */
    const char *rules_before, *rules_after, *topology;  /* all three or none */
};

/* The usage text of loadgen check, on out. */
void lg_check_usage(FILE *out);

/*
 * Parses the arguments of "loadgen check" (argv[0] is "check") into cfg,
 * which keeps pointers into argv. 0 = check, 1 = help printed, -1 = bad
 * arguments (reported on stderr).
 */
int lg_check_parse(int argc, char **argv, struct lg_check_config *cfg);

/*
 * Checks as cfg says and prints the findings. Needs mysql_library_init()
 * done. Uses the databases in cfg and releases them (lg_db_deinit) before
 * it returns. Returns the exit status: 0 all findings zero, 1 some finding,
 * 2 could not check (reported on stderr).
 */
int lg_check_main(struct lg_check_config *cfg);

#endif
