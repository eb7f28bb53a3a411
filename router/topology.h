/*
 * topology: the units, which one is the center, and where every component of
 * every unit can be reached. Every program reads the same file
 * (conf/topology.conf) and is told separately which unit it runs in.
 *
 * Relative paths in the file are taken relative to the file's directory.
 */
#ifndef UR_TOPOLOGY_H
#define UR_TOPOLOGY_H

#include <limits.h>
#include <stddef.h>

#include "rules.h"

#define TOPOLOGY_COMPONENTS_MAX 16
#define TOPOLOGY_ADDR_MAX       64   /* "host:port" */
#define TOPOLOGY_URL_MAX        256

struct topology_db {
    char host[TOPOLOGY_ADDR_MAX];
    int  port;
    char user[64];
    char password_file[PATH_MAX]; /* "" when the key is absent: no password */
};

struct topology_unit {
    char   name[RULES_UNIT_NAME_MAX];
    char   public_url[TOPOLOGY_URL_MAX];   /* clients and redirects go here */
    char   gateway_url[TOPOLOGY_URL_MAX];  /* gateway-to-gateway forwarding */
    char   gateway_admin[TOPOLOGY_COMPONENTS_MAX][TOPOLOGY_ADDR_MAX];
    size_t ngateway_admin;
    char   proxy_admin[TOPOLOGY_COMPONENTS_MAX][TOPOLOGY_ADDR_MAX];
    size_t nproxy_admin;
    struct topology_db db;                 /* replication checks (control) */
};

struct topology {
    struct topology_unit units[RULES_UNITS_MAX];
    size_t               nunits;
    int                  center;           /* index into units */
    char                 secret_file[PATH_MAX];   /* resolved against dir */
    char                 dir[PATH_MAX];    /* directory of the file */
    const char          *unit_names[RULES_UNITS_MAX]; /* -> units[i].name */
};

/* Returns a new topology (topology_destroy), or NULL with file:line in err. */
struct topology *topology_load(const char *path, char *err, size_t errlen);

void topology_destroy(struct topology *t);

/* Index of the unit called name, or -1. */
int topology_unit_index(const struct topology *t, const char *name);

/*
 * Read the libconfig file path into cfg (config_init done by the caller).
 * Returns 0, or -1 with "path: cannot read the file: why" or
 * "path:line: message" in err. Shared by every config loader.
 */
struct config_t;
int topology_read_config(struct config_t *cfg, const char *path, char *err, size_t errlen);

/*
 * Resolve path relative to dir (unless absolute) into out. Returns 0, or -1
 * if it does not fit. Shared by every config loader.
 */
int topology_resolve_path(const char *dir, const char *path, char *out, size_t outlen);

#endif
