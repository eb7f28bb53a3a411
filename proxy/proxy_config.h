/*
 * proxy_config: unitproxy's configuration file (libconfig syntax), read
 * through a table of keys (name, type, offset, default, bounds). Unknown
 * keys, wrong types and out-of-range values are errors naming file:line.
 * See conf/proxy-a.conf for every key with its meaning.
 */
#ifndef UR_PROXY_CONFIG_H
#define UR_PROXY_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/sql_classify.h"
#include "proxy/sql_decide.h"
#include "router/rules.h"

#define PROXY_CONFIG_ADDR_MAX   64
#define PROXY_CONFIG_BACKEND_MAX 108    /* a Unix socket path fits (sun_path) */
#define PROXY_CONFIG_TABLES_MAX 256

struct proxy_keepalive {
    int idle_s;             /* TCP_KEEPIDLE: idle seconds before probes */
    int interval_s;         /* TCP_KEEPINTVL: seconds between probes */
    int count;              /* TCP_KEEPCNT: unanswered probes before reset */
    int user_timeout_ms;    /* TCP_USER_TIMEOUT: unacked data limit */
};

struct proxy_config {
    char     unit[RULES_UNIT_NAME_MAX];     /* the unit this proxy serves */
    char     topology[PATH_MAX];            /* resolved against the file's dir */
    char     listen[PROXY_CONFIG_ADDR_MAX]; /* clients connect here */
    char     backend[PROXY_CONFIG_BACKEND_MAX]; /* the unit's MariaDB/MySQL: host:port or a socket path */
    char     admin[PROXY_CONFIG_ADDR_MAX];  /* rule pushes, status, metrics */
    char     state_file[PATH_MAX];          /* persisted rules; resolved */
    char     log_level[16];
    int      workers;                       /* event-loop threads */
    int      max_connections;               /* client connections, all workers */
    int64_t  max_statement_bytes;           /* larger commands are refused */
    int      ban_drain_ms;                  /* wait for open transactions */
    int      connect_timeout_ms;            /* backend connect */
    struct proxy_keepalive keepalive;
    struct sql_table_rule tables[PROXY_CONFIG_TABLES_MAX];
    size_t   ntables;
    struct sql_policy policy;               /* allow_ddl, procedures_pass */
};

/*
 * Read path into c (all fields set: defaults for absent keys). Relative paths
 * are resolved against path's directory. Returns 0, or -1 with
 * "file:line: reason" in err.
 */
int proxy_config_load(const char *path, struct proxy_config *c, char *err, size_t errlen);

#endif
