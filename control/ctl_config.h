/*
 * ctl_config: conf/control.conf, read by `unitctl serve` and by the CLI (which
 * needs listen and token_file). Table-driven: every key has a type, an offset
 * and a default; an unknown key is an error naming the file and line.
 * Relative paths are taken relative to the config file's directory.
 */
#ifndef UR_CTL_CONFIG_H
#define UR_CTL_CONFIG_H

#include <limits.h>
#include <stddef.h>

#include "control/sync/sync.h"

struct ctl_config {
    char listen[64];                /* "host:port" of the control center */
    char topology[PATH_MAX];        /* resolved path of topology.conf */
    char state_dir[PATH_MAX];       /* rules.conf, journal.log, cutover bases */
    char token_file[PATH_MAX];      /* API token (mode 600) */
    char initial_rules[PATH_MAX];   /* rules to start from when state has none */
    char sync_method[16];           /* gtid | command | manual */
    char sync_command[PATH_MAX];    /* for sync_method = command */
    long sync_max_lag_s;            /* pre-flight: replication lag allowed */
    long db_connect_timeout_s;
    long cutover_timeout_ms;        /* default --timeout */
    long push_timeout_ms;           /* one admin call */
    long push_retry_ms;             /* between re-pushes to laggards */
    long reconcile_interval_ms;     /* version polling period */
    char log_level[16];
};

/* Load path into cfg (defaults first). Returns 0, or -1 with file:line in err. */
int ctl_config_load(struct ctl_config *cfg, const char *path, char *err, size_t errlen);

/* The sync checker settings derived from cfg. */
void ctl_config_sync(const struct ctl_config *cfg, struct sync_config *out);

#endif
