/*
 * loadgen run: the load generator. Posts orders through the gateways with
 * libcurl, retries as told, writes every acknowledged order to the acks
 * file and prints a summary (flow in run.c).
 */
#ifndef LOADGEN_RUN_H
#define LOADGEN_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define LG_GATEWAYS_MAX   16

/* Filled by lg_run_parse; the strings point into argv (not owned). */
struct lg_run_config {
    const char *gateways[LG_GATEWAYS_MAX];  /* base URLs, no trailing slash */
    size_t      ngateways;
    uint64_t    buyers;             /* buyers are buyer_base .. +buyers-1 */
    uint64_t    buyer_base;
    uint64_t    order_base;         /* order ids are order_base + sequence */
    uint64_t    concurrency;
    double      duration_s;
    uint64_t    max_orders;         /* --max-requests */
    const char *acks_path;
    uint64_t    timeout_ms;
    uint64_t    retry_delay_ms;
    uint64_t    max_retries;
    uint64_t    grace_ms;           /* retries may go on this long after duration */
    uint64_t    seed;
    bool        retry_503;
    bool        retry_connect;
    bool        follow;
};

/* The usage text of loadgen run, on out. */
void lg_run_usage(FILE *out);

/*
 * Parses the arguments of "loadgen run" (argv[0] is "run") into cfg, which
 * keeps pointers into argv. 0 = run, 1 = help printed, -1 = bad arguments
 * (reported on stderr).
 */
int lg_run_parse(int argc, char **argv, struct lg_run_config *cfg);

/*
 * Runs the load as cfg says and prints the summary. Needs
 * curl_global_init() done. Returns the exit status: 0, or 2 if the acks
 * file or the transfers failed (reported on stderr).
 */
int lg_run_main(const struct lg_run_config *cfg);

#endif
