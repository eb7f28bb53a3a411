/*
 * proxy_config: table-driven reading of unitproxy's configuration.
 *
 *   file -> libconfig tree -> for each group: defaults from its key table,
 *   then every setting looked up in the table (unknown -> error) and stored
 *   at its offset after a type and range check.
 */
#include "proxy/proxy_config.h"

#include <libconfig.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "router/log.h"
#include "router/topology.h"

_Static_assert(PROXY_CONFIG_TABLES_MAX <= SQL_UPSERT_TABLES_MAX,
               "every configured table fits in the policy's upsert_tables");

enum key_type {
    KEY_STR,        /* string copied into a char array */
    KEY_PATH,       /* string resolved against the file's directory */
    KEY_INT,        /* int */
    KEY_INT64,      /* int64_t */
    KEY_KEEPALIVE,  /* the keepalive group */
    KEY_TABLES,     /* the tables list */
    KEY_BOOL,       /* bool */
    KEY_PROCS,      /* procedures_pass: a list of names */
};

struct conf_key {
    const char   *name;
    enum key_type type;
    size_t        off;
    size_t        size;     /* KEY_STR/KEY_PATH: array size */
    const char   *def_s;    /* NULL = required (strings) */
    long long     def_i;
    long long     min, max;
};

struct conf_ctx {
    const char *file;
    char        dir[PATH_MAX];
    char       *err;
    size_t      errlen;
};

#define STR(n, f, d)   { n, KEY_STR, offsetof(struct proxy_config, f), \
                         sizeof(((struct proxy_config *)0)->f), d, 0, 0, 0 }
#define PATHK(n, f, d) { n, KEY_PATH, offsetof(struct proxy_config, f), \
                         sizeof(((struct proxy_config *)0)->f), d, 0, 0, 0 }
#define INT(n, f, d, lo, hi) { n, KEY_INT, offsetof(struct proxy_config, f), 0, "", d, lo, hi }
#define KA(n, f, d, lo, hi)  { n, KEY_INT, offsetof(struct proxy_keepalive, f), 0, "", d, lo, hi }

static const struct conf_key top_keys[] = {
    STR("unit", unit, NULL),
    PATHK("topology", topology, NULL),
    STR("listen", listen, "127.0.0.1:3311"),
    STR("backend", backend, NULL),
    STR("admin", admin, NULL),
    PATHK("state_file", state_file, NULL),
    STR("log_level", log_level, "info"),
    INT("workers", workers, 1, 1, 64),
    INT("max_connections", max_connections, 4096, 1, 1000000),
    { "max_statement_bytes", KEY_INT64, offsetof(struct proxy_config, max_statement_bytes),
      0, "", 64LL << 20, 1024, 1LL << 30 },
    INT("ban_drain_ms", ban_drain_ms, 2000, 0, 600000),
    INT("connect_timeout_ms", connect_timeout_ms, 3000, 1, 600000),
    { "keepalive", KEY_KEEPALIVE, offsetof(struct proxy_config, keepalive), 0, "", 0, 0, 0 },
    { "tables", KEY_TABLES, 0, 0, "", 0, 0, 0 },
    { "allow_ddl", KEY_BOOL, offsetof(struct proxy_config, policy.allow_ddl), 0, "", 0, 0, 1 },
    { "procedures_pass", KEY_PROCS, offsetof(struct proxy_config, policy), 0, "", 0, 0, 0 },
    { NULL, KEY_STR, 0, 0, NULL, 0, 0, 0 },
};

static const struct conf_key keepalive_keys[] = {
    KA("idle_s", idle_s, 10, 1, 7200),
    KA("interval_s", interval_s, 3, 1, 600),
    KA("count", count, 3, 1, 100),
    KA("user_timeout_ms", user_timeout_ms, 20000, 0, 3600000),
    { NULL, KEY_STR, 0, 0, NULL, 0, 0, 0 },
};

static int conf_fail(struct conf_ctx *cx, const config_setting_t *s, const char *fmt,
                     const char *what) __attribute__((format(printf, 3, 0)));

/* "file:line: <fmt with one %s>" into the caller's err; returns -1. */
static int conf_fail(struct conf_ctx *cx, const config_setting_t *s, const char *fmt,
                     const char *what)
{
    char msg[256];

    snprintf(msg, sizeof(msg), fmt, what);
    snprintf(cx->err, cx->errlen, "%s:%d: %s", cx->file,
             s ? config_setting_source_line(s) : 0, msg);
    return -1;
}

static int conf_group(struct conf_ctx *cx, const config_setting_t *g,
                      const struct conf_key *keys, void *base);

/*
 * One tables entry into t. upsert = true (unit tables: the operator says
 * every unique key holds the sharding column) adds it to pol's upsert_tables.
 */
static int conf_table(struct conf_ctx *cx, const config_setting_t *e,
                      struct sql_table_rule *t, struct sql_policy *pol)
{
    const char *name = NULL, *cls = "unit", *column = "buyer_id";
    const config_setting_t *upsert = NULL;

    if (!config_setting_is_group(e))
        return conf_fail(cx, e, "%s", "each entry of tables must be a group { ... }");
    for (int i = 0; i < config_setting_length(e); i++) {
        config_setting_t *s = config_setting_get_elem(e, (unsigned)i);
        const char *k = config_setting_name(s), *v = config_setting_get_string(s);
        if (strcmp(k, "upsert") == 0) {
            if (config_setting_type(s) != CONFIG_TYPE_BOOL)
                return conf_fail(cx, s, "%s must be true or false", k);
            upsert = s;
            continue;
        }
        if (v == NULL)
            return conf_fail(cx, s, "%s must be a string", k);
        if (strcmp(k, "name") == 0)
            name = v;
        else if (strcmp(k, "class") == 0)
            cls = v;
        else if (strcmp(k, "column") == 0)
            column = v;
        else
            return conf_fail(cx, s, "unknown key '%s' in a table (name, class, column, upsert)", k);
    }
    if (name == NULL || name[0] == '\0')
        return conf_fail(cx, e, "%s", "a table needs a name");
    memset(t, 0, sizeof(*t));
    const char *dot = strchr(name, '.');
    if (dot) {
        snprintf(t->schema, sizeof(t->schema), "%.*s", (int)(dot - name), name);
        name = dot + 1;
    }
    if (strlen(name) >= sizeof(t->name) || strlen(column) >= sizeof(t->column) ||
        name[0] == '\0' || column[0] == '\0')
        return conf_fail(cx, e, "bad table or column name '%s'", name);
    snprintf(t->name, sizeof(t->name), "%s", name);
    if (strcmp(cls, "unit") == 0) {
        t->cls = SQL_TABLE_UNIT;
        snprintf(t->column, sizeof(t->column), "%s", column);
        if (upsert && config_setting_get_bool(upsert)) {
            struct sql_routine_name *u = &pol->upsert_tables[pol->nupsert_tables++];
            memcpy(u->schema, t->schema, sizeof(u->schema));
            memcpy(u->name, t->name, sizeof(u->name));
        }
    } else if (upsert) {
        return conf_fail(cx, upsert, "upsert is for unit tables, not class '%s'", cls);
    } else if (strcmp(cls, "center") == 0) {
        t->cls = SQL_TABLE_CENTER;
    } else {
        return conf_fail(cx, e, "class '%s' is not unit or center", cls);
    }
    return 0;
}

static int conf_tables(struct conf_ctx *cx, const config_setting_t *s, struct proxy_config *c)
{
    if (!config_setting_is_list(s) && !config_setting_is_array(s))
        return conf_fail(cx, s, "%s", "tables must be a list ( { ... }, ... )");
    int n = config_setting_length(s);
    if (n > PROXY_CONFIG_TABLES_MAX)
        return conf_fail(cx, s, "%s", "too many tables");
    for (int i = 0; i < n; i++)
        if (conf_table(cx, config_setting_get_elem(s, (unsigned)i), &c->tables[i],
                       &c->policy) != 0)
            return -1;
    c->ntables = (size_t)n;
    return 0;
}

/* procedures_pass = [ "name", "schema.name", ... ] (a list or an array) */
static int conf_procs(struct conf_ctx *cx, const config_setting_t *s, struct sql_policy *pol)
{
    if (!config_setting_is_list(s) && !config_setting_is_array(s))
        return conf_fail(cx, s, "%s", "procedures_pass must be a list of names [ \"p\", ... ]");
    int n = config_setting_length(s);
    if (n > SQL_PROCS_PASS_MAX)
        return conf_fail(cx, s, "%s", "too many procedures in procedures_pass");
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *v = config_setting_get_string(e);
        struct sql_routine_name *out = &pol->procs_pass[i];
        if (v == NULL)
            return conf_fail(cx, e, "%s", "procedures_pass entries must be strings");
        const char *dot = strchr(v, '.'), *name = dot ? dot + 1 : v;
        size_t slen = dot ? (size_t)(dot - v) : 0;
        if (name[0] == '\0' || strlen(name) >= sizeof(out->name) || strchr(name, '.') ||
            (dot && (slen == 0 || slen >= sizeof(out->schema))))
            return conf_fail(cx, e, "bad procedure name '%s' (name or schema.name)", v);
        snprintf(out->schema, sizeof(out->schema), "%.*s", (int)slen, v);
        snprintf(out->name, sizeof(out->name), "%s", name);
    }
    pol->nprocs_pass = (size_t)n;
    return 0;
}

static int conf_set(struct conf_ctx *cx, const config_setting_t *s,
                    const struct conf_key *k, void *base)
{
    char *at = (char *)base + k->off;

    switch (k->type) {
    case KEY_STR:
    case KEY_PATH: {
        const char *v = config_setting_get_string(s);
        if (v == NULL)
            return conf_fail(cx, s, "%s must be a string", k->name);
        if (k->type == KEY_PATH)
            return topology_resolve_path(cx->dir, v, at, k->size) == 0 ? 0 :
                   conf_fail(cx, s, "%s: path too long", k->name);
        if (strlen(v) >= k->size)
            return conf_fail(cx, s, "%s: value too long", k->name);
        memcpy(at, v, strlen(v) + 1);
        return 0;
    }
    case KEY_INT:
    case KEY_INT64: {
        int t = config_setting_type(s);
        if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
            return conf_fail(cx, s, "%s must be an integer", k->name);
        long long v = config_setting_get_int64(s);
        if (v < k->min || v > k->max)
            return conf_fail(cx, s, "%s out of range", k->name);
        if (k->type == KEY_INT)
            *(int *)(void *)at = (int)v;
        else
            *(int64_t *)(void *)at = v;
        return 0;
    }
    case KEY_KEEPALIVE:
        if (!config_setting_is_group(s))
            return conf_fail(cx, s, "%s must be a group { ... }", k->name);
        return conf_group(cx, s, keepalive_keys, at);
    case KEY_TABLES:
        return conf_tables(cx, s, base);
    case KEY_BOOL:
        if (config_setting_type(s) != CONFIG_TYPE_BOOL)
            return conf_fail(cx, s, "%s must be true or false", k->name);
        *(bool *)(void *)at = config_setting_get_bool(s) != 0;
        return 0;
    case KEY_PROCS:
        return conf_procs(cx, s, (struct sql_policy *)(void *)at);
    }
    return -1;
}

/* Defaults, then every setting of g through the key table. */
static int conf_group(struct conf_ctx *cx, const config_setting_t *g,
                      const struct conf_key *keys, void *base)
{
    for (const struct conf_key *k = keys; k->name; k++) {
        char *at = (char *)base + k->off;
        if ((k->type == KEY_STR || k->type == KEY_PATH) && k->def_s)
            snprintf(at, k->size, "%s", k->def_s);
        else if (k->type == KEY_INT)
            *(int *)(void *)at = (int)k->def_i;
        else if (k->type == KEY_INT64)
            *(int64_t *)(void *)at = k->def_i;
        else if (k->type == KEY_KEEPALIVE && conf_group(cx, NULL, keepalive_keys, at) != 0)
            return -1;
    }
    for (int i = 0; g && i < config_setting_length(g); i++) {
        config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        const struct conf_key *k = keys;
        while (k->name && strcmp(k->name, config_setting_name(s)) != 0)
            k++;
        if (k->name == NULL)
            return conf_fail(cx, s, "unknown key '%s'", config_setting_name(s));
        if (conf_set(cx, s, k, base) != 0)
            return -1;
    }
    for (const struct conf_key *k = keys; g && k->name; k++)
        if ((k->type == KEY_STR || k->type == KEY_PATH) && k->def_s == NULL &&
            config_setting_get_member(g, k->name) == NULL)
            return conf_fail(cx, g, "missing required key '%s'", k->name);
    return 0;
}

int proxy_config_load(const char *path, struct proxy_config *c, char *err, size_t errlen)
{
    struct conf_ctx cx = { .file = path, .err = err, .errlen = errlen };
    config_t cfg;
    char tmp[PATH_MAX];
    int rc = -1;

    memset(c, 0, sizeof(*c));
    snprintf(tmp, sizeof(tmp), "%s", path);
    snprintf(cx.dir, sizeof(cx.dir), "%s", dirname(tmp));
    config_init(&cfg);
    if (topology_read_config(&cfg, path, err, errlen) < 0)
        goto out;
    if (conf_group(&cx, config_root_setting(&cfg), top_keys, c) != 0)
        goto out;
    if (log_level_parse(c->log_level) < 0) {
        snprintf(err, errlen, "%s: log_level '%s' is not error, warn, info or debug",
                 path, c->log_level);
        goto out;
    }
    rc = 0;
out:
    config_destroy(&cfg);
    return rc;
}
