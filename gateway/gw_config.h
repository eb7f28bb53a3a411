/*
 * gw_config: the gateway's configuration file (libconfig syntax, see
 * conf/gateway-a.conf for every key with its meaning and default).
 *
 * Table-driven: each key has a kind, an offsetof into struct gw_config, an
 * explicit default and bounds. Unknown keys, wrong types and out-of-range
 * values are errors naming file:line. Relative paths resolve against the
 * config file's directory. Library code: errors go to the caller's buffer.
 */
#ifndef UR_GW_CONFIG_H
#define UR_GW_CONFIG_H

#include <limits.h>
#include <stdbool.h>

#include "gateway/route.h"
#include "router/topology.h"

#define GW_CONFIG_RULES_FILE "gateway-rules.conf"  /* inside state_dir */

struct gw_config {
    char path[PATH_MAX];            /* the file read */
    char unit[RULES_UNIT_NAME_MAX]; /* this gateway's unit */
    char topology_path[PATH_MAX];   /* resolved */
    char listen[TOPOLOGY_ADDR_MAX]; /* "host:port" for clients */
    char admin_listen[TOPOLOGY_ADDR_MAX];
    char state_dir[PATH_MAX];       /* resolved; "" = rules kept in memory */
    char rules_file[PATH_MAX];      /* state_dir/GW_CONFIG_RULES_FILE or "" */
    char hop_header[ROUTE_NAME_MAX];
    char buyer_header[ROUTE_NAME_MAX];  /* "" = source disabled */
    char buyer_query[ROUTE_NAME_MAX];
    char buyer_cookie[ROUTE_NAME_MAX];
    int  mode;                      /* enum route_mode */
    int  ban_policy;                /* enum route_ban_policy */
    int  ban_hold_ms;
    int  ban_drain_ms;              /* a ban's ack waits this long for writes in flight */
    int  retry_after_s;
    int  workers;                   /* worker threads, one event loop each */
    int  max_connections;
    int  max_header_bytes;          /* request line + headers */
    int  max_headers;
    int  max_url_bytes;             /* path + query */
    long long max_body_bytes;
    int  client_timeout_s;          /* idle client connection */
    int  upstream_connect_timeout_ms;
    int  upstream_timeout_ms;       /* until the upstream's response headers */
    int  drain_timeout_ms;          /* SIGTERM: wait this long for requests */
    bool log_requests;              /* one line per request */
    int  log_level;                 /* enum log_level */
    struct route_table table;       /* routes + buyerId sources; topo set */
    struct topology   *topo;        /* owned */
    unsigned           refs;        /* references held by the server */
};

/*
 * Read and validate path, and the topology it names. Returns a new config
 * owned by the caller (gw_config_destroy), or NULL with "file:line: why" in
 * err.
 */
struct gw_config *gw_config_load(const char *path, char *err, size_t errlen);

void gw_config_destroy(struct gw_config *c);

#endif
