/*
 * cli: the operators' commands. Each is one or a few HTTP calls to the
 * control center (libcurl) with the API token in a header; the token comes
 * from a file, never from the command line. The exit code is the one the
 * control center puts in X-Unitroute-Exit (enum ctl_exit), or
 * CTL_EXIT_ERROR when it cannot be reached.
 */
#ifndef UR_CLI_H
#define UR_CLI_H

struct cli_ctx {
    const char *server;         /* "host:port" */
    const char *token_file;
};

/* argv[0] is the command name ("status", "cutover", ...). */
int cli_run(const struct cli_ctx *ctx, int argc, char **argv);

/* "30s", "500ms", "2m", "45" (seconds) into ms; -1 if invalid. */
long cli_parse_duration(const char *text);

#endif
