#include "gw_config.h"

#include <libconfig.h>
#include <libgen.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/log.h"

enum gw_key_kind {
    GW_KEY_STRING,      /* copied as is */
    GW_KEY_PATH,        /* resolved against the config file's directory */
    GW_KEY_ADDR,        /* "host:port" */
    GW_KEY_HEADER,      /* an HTTP token (header/cookie/query name), "" allowed */
    GW_KEY_INT,
    GW_KEY_INT64,
    GW_KEY_BOOL,
    GW_KEY_ENUM,        /* a string out of names[], stored as its index */
    GW_KEY_ROUTES,      /* the routes list */
    GW_KEY_ORDER,       /* buyer_order: list of source kinds */
};

struct gw_key {
    const char      *name;
    enum gw_key_kind kind;
    size_t           offset;    /* into struct gw_config; unused for ROUTES/ORDER */
    size_t           size;      /* string capacity */
    bool             required;
    const char      *def_str;   /* default of string kinds */
    long long        def;       /* default of numeric kinds */
    long long        min, max;
    const char *const *names;   /* ENUM values, NULL-terminated */
};

static const char *const gw_mode_names[] = { "forward", "redirect", NULL };
static const char *const gw_policy_names[] = { "hold", "reject", NULL };
static const char *const gw_level_names[] = { "error", "warn", "info", "debug", NULL };
static const char *const gw_order_names[] = { "header", "query", "cookie", NULL };

#define STR(k, kind, req, def) \
    { #k, kind, offsetof(struct gw_config, k), sizeof(((struct gw_config *)0)->k), req, def, 0, 0, 0, NULL }
#define NUM(k, kind, def, lo, hi) \
    { #k, kind, offsetof(struct gw_config, k), 0, false, NULL, def, lo, hi, NULL }
#define ENUM(k, def, names) \
    { #k, GW_KEY_ENUM, offsetof(struct gw_config, k), 0, false, NULL, def, 0, 0, names }

static const struct gw_key gw_keys[] = {
    STR(unit, GW_KEY_STRING, true, ""),
    STR(topology_path, GW_KEY_PATH, true, ""),
    STR(listen, GW_KEY_ADDR, true, ""),
    STR(admin_listen, GW_KEY_ADDR, true, ""),
    STR(state_dir, GW_KEY_PATH, false, ""),
    STR(hop_header, GW_KEY_HEADER, false, "X-Unitroute-Hop"),
    STR(buyer_header, GW_KEY_HEADER, false, "X-Buyer-Id"),
    STR(buyer_query, GW_KEY_HEADER, false, "buyerId"),
    STR(buyer_cookie, GW_KEY_HEADER, false, "buyer_id"),
    { "buyer_order", GW_KEY_ORDER, 0, 0, false, NULL, 0, 0, 0, NULL },
    { "routes", GW_KEY_ROUTES, 0, 0, true, NULL, 0, 0, 0, NULL },
    ENUM(mode, ROUTE_MODE_FORWARD, gw_mode_names),
    ENUM(ban_policy, ROUTE_BAN_HOLD, gw_policy_names),
    NUM(ban_hold_ms, GW_KEY_INT, 5000, 0, 600000),
    NUM(ban_drain_ms, GW_KEY_INT, 1000, 0, 600000),
    NUM(retry_after_s, GW_KEY_INT, 1, 0, 3600),
    NUM(workers, GW_KEY_INT, 1, 1, 64),
    NUM(max_connections, GW_KEY_INT, 4096, 16, 1000000),
    NUM(max_header_bytes, GW_KEY_INT, 8192, 1024, 1048576),
    NUM(max_headers, GW_KEY_INT, 100, 4, 10000),
    NUM(max_url_bytes, GW_KEY_INT, 8192, 64, 1048576),
    NUM(max_body_bytes, GW_KEY_INT64, 1073741824LL, 0, 1LL << 50),
    NUM(client_timeout_s, GW_KEY_INT, 30, 1, 86400),
    NUM(upstream_connect_timeout_ms, GW_KEY_INT, 2000, 10, 600000),
    NUM(upstream_timeout_ms, GW_KEY_INT, 30000, 10, 3600000),
    NUM(drain_timeout_ms, GW_KEY_INT, 10000, 0, 600000),
    NUM(log_requests, GW_KEY_BOOL, 0, 0, 1),
    ENUM(log_level, LOG_LEVEL_INFO, gw_level_names),
};

#define GW_NKEYS (sizeof(gw_keys) / sizeof(gw_keys[0]))

/* The file calls the topology key "topology"; the struct "topology_path". */
static const char *gw_key_file_name(const struct gw_key *k)
{
    return strcmp(k->name, "topology_path") == 0 ? "topology" : k->name;
}

struct gw_ctx {
    const char *path;
    char        dir[PATH_MAX];
    char       *err;
    size_t      errlen;
};

static void gw_fail(struct gw_ctx *c, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void gw_fail(struct gw_ctx *c, const config_setting_t *s, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "%s:%d: %s", c->path,
             s ? (int)config_setting_source_line(s) : 0, msg);
}

static bool gw_is_token(const char *s)
{
    for (; *s; s++)
        if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') &&
            !(*s >= '0' && *s <= '9') && strchr("-_.", *s) == NULL)
            return false;
    return true;
}

static int gw_addr_valid(const char *v)
{
    const char *colon = strrchr(v, ':');
    if (colon == NULL || colon == v)
        return 0;
    int port = atoi(colon + 1);
    return port > 0 && port <= 65535;
}

static int gw_set_string(struct gw_ctx *c, const struct gw_key *k, const config_setting_t *s,
                         char *field)
{
    const char *v = config_setting_get_string(s);

    if (v == NULL) {
        gw_fail(c, s, "'%s' must be a string", gw_key_file_name(k));
        return -1;
    }
    if (k->kind != GW_KEY_HEADER && v[0] == '\0') {
        gw_fail(c, s, "'%s' must not be empty", gw_key_file_name(k));
        return -1;
    }
    if (k->kind == GW_KEY_ADDR && !gw_addr_valid(v)) {
        gw_fail(c, s, "'%s' must be \"host:port\"", gw_key_file_name(k));
        return -1;
    }
    if (k->kind == GW_KEY_HEADER && !gw_is_token(v)) {
        gw_fail(c, s, "'%s' must be a name of letters, digits, '-', '_' or '.'",
                gw_key_file_name(k));
        return -1;
    }
    int n = k->kind == GW_KEY_PATH ? topology_resolve_path(c->dir, v, field, k->size)
                                   : (strlen(v) < k->size ? (memcpy(field, v, strlen(v) + 1), 0) : -1);
    if (n < 0) {
        gw_fail(c, s, "'%s' is too long", gw_key_file_name(k));
        return -1;
    }
    return 0;
}

static int gw_set_number(struct gw_ctx *c, const struct gw_key *k, const config_setting_t *s,
                         void *field)
{
    int type = config_setting_type(s);
    long long v;

    if (k->kind == GW_KEY_BOOL) {
        if (type != CONFIG_TYPE_BOOL) {
            gw_fail(c, s, "'%s' must be true or false", k->name);
            return -1;
        }
        *(bool *)field = config_setting_get_bool(s);
        return 0;
    }
    if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64) {
        gw_fail(c, s, "'%s' must be an integer", k->name);
        return -1;
    }
    v = config_setting_get_int64(s);
    if (v < k->min || v > k->max) {
        gw_fail(c, s, "'%s' must be in %lld..%lld", k->name, k->min, k->max);
        return -1;
    }
    if (k->kind == GW_KEY_INT)
        *(int *)field = (int)v;
    else
        *(long long *)field = v;
    return 0;
}

static int gw_set_enum(struct gw_ctx *c, const struct gw_key *k, const config_setting_t *s,
                       int *field)
{
    const char *v = config_setting_get_string(s);

    for (int i = 0; v != NULL && k->names[i] != NULL; i++)
        if (strcmp(v, k->names[i]) == 0) {
            *field = i;
            return 0;
        }
    char list[128] = "";
    for (int i = 0; k->names[i] != NULL; i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s\"%s\"",
                 i ? ", " : "", k->names[i]);
    gw_fail(c, s, "'%s' must be one of %s", k->name, list);
    return -1;
}

static int gw_set_route(struct gw_ctx *c, const config_setting_t *g, struct route_entry *e)
{
    static const char *const keys[] = { "prefix", "type", "upstream", NULL };
    const char *prefix = NULL, *type = NULL, *upstream = NULL;

    if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
        gw_fail(c, g, "each route must be a group { prefix = ...; type = ...; upstream = ...; }");
        return -1;
    }
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
        size_t k = 0;
        while (keys[k] != NULL && strcmp(keys[k], config_setting_name(m)) != 0)
            k++;
        if (keys[k] == NULL) {
            gw_fail(c, m, "unknown route key '%s' (known: prefix, type, upstream)",
                    config_setting_name(m));
            return -1;
        }
    }
    config_setting_lookup_string(g, "prefix", &prefix);
    config_setting_lookup_string(g, "type", &type);
    config_setting_lookup_string(g, "upstream", &upstream);
    if (prefix == NULL || prefix[0] != '/' || strlen(prefix) >= sizeof(e->prefix)) {
        gw_fail(c, g, "route 'prefix' must be a path starting with '/' (under %zu characters)",
                sizeof(e->prefix));
        return -1;
    }
    int t = type ? route_type_parse(type) : -1;
    if (t < 0) {
        gw_fail(c, g, "route 'type' must be \"unit\", \"center\" or \"local\"");
        return -1;
    }
    if (upstream == NULL || strncmp(upstream, "http://", 7) != 0 ||
        strlen(upstream) >= sizeof(e->upstream)) {
        gw_fail(c, g, "route 'upstream' must be an http:// base URL (this unit's upstream)");
        return -1;
    }
    snprintf(e->prefix, sizeof(e->prefix), "%s", prefix);
    e->type = (enum route_type)t;
    snprintf(e->upstream, sizeof(e->upstream), "%s", upstream);
    /* the path is appended as is: drop one trailing slash */
    size_t n = strlen(e->upstream);
    if (n > 7 && e->upstream[n - 1] == '/')
        e->upstream[n - 1] = '\0';
    return 0;
}

static int gw_set_routes(struct gw_ctx *c, const config_setting_t *s, struct gw_config *cfg)
{
    int n = config_setting_length(s);

    if (config_setting_type(s) != CONFIG_TYPE_LIST || n == 0) {
        gw_fail(c, s, "'routes' must be a non-empty list ( { prefix = ...; }, ... )");
        return -1;
    }
    if (n > ROUTE_ENTRIES_MAX) {
        gw_fail(c, s, "more than %d routes", ROUTE_ENTRIES_MAX);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(s, (unsigned)i);
        if (gw_set_route(c, g, &cfg->table.entries[i]) < 0)
            return -1;
        for (int j = 0; j < i; j++)
            if (strcmp(cfg->table.entries[j].prefix, cfg->table.entries[i].prefix) == 0) {
                gw_fail(c, g, "route prefix \"%s\" is listed twice", cfg->table.entries[i].prefix);
                return -1;
            }
    }
    cfg->table.nentries = (size_t)n;
    return 0;
}

/* buyer_order = [ "header", "query", "cookie" ]; saved as kinds, names later. */
static int gw_set_order(struct gw_ctx *c, const config_setting_t *s, struct gw_config *cfg)
{
    int n = config_setting_length(s);

    if (config_setting_type(s) != CONFIG_TYPE_ARRAY || n == 0 || n > ROUTE_SOURCES_MAX) {
        gw_fail(c, s, "'buyer_order' must be an array of 1 to 3 of \"header\", \"query\", \"cookie\"");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const char *v = config_setting_get_string_elem(s, i);
        int kind = -1;
        for (int k = 0; v != NULL && gw_order_names[k] != NULL; k++)
            if (strcmp(v, gw_order_names[k]) == 0)
                kind = k;
        for (int j = 0; j < i && kind >= 0; j++)
            if ((int)cfg->table.sources[j].kind == kind)
                kind = -2;
        if (kind < 0) {
            gw_fail(c, s, "'buyer_order'[%d] must be one of \"header\", \"query\", \"cookie\", "
                    "each at most once", i);
            return -1;
        }
        cfg->table.sources[i].kind = (enum route_source_kind)kind;
    }
    cfg->table.nsources = (size_t)n;
    return 0;
}

static int gw_set_default(const struct gw_key *k, struct gw_config *cfg)
{
    void *field = (char *)cfg + k->offset;

    switch (k->kind) {
    case GW_KEY_STRING: case GW_KEY_PATH: case GW_KEY_ADDR: case GW_KEY_HEADER:
        snprintf(field, k->size, "%s", k->def_str);
        break;
    case GW_KEY_INT: case GW_KEY_ENUM:
        *(int *)field = (int)k->def;
        break;
    case GW_KEY_INT64:
        *(long long *)field = k->def;
        break;
    case GW_KEY_BOOL:
        *(bool *)field = k->def != 0;
        break;
    case GW_KEY_ORDER:
        for (size_t i = 0; i < ROUTE_SOURCES_MAX; i++)
            cfg->table.sources[i].kind = (enum route_source_kind)i;
        cfg->table.nsources = ROUTE_SOURCES_MAX;
        break;
    case GW_KEY_ROUTES:
        break;
    }
    return 0;
}

static int gw_set_key(struct gw_ctx *c, const struct gw_key *k, const config_setting_t *s,
                      struct gw_config *cfg)
{
    void *field = (char *)cfg + k->offset;

    switch (k->kind) {
    case GW_KEY_STRING: case GW_KEY_PATH: case GW_KEY_ADDR: case GW_KEY_HEADER:
        return gw_set_string(c, k, s, field);
    case GW_KEY_INT: case GW_KEY_INT64: case GW_KEY_BOOL:
        return gw_set_number(c, k, s, field);
    case GW_KEY_ENUM:
        return gw_set_enum(c, k, s, field);
    case GW_KEY_ROUTES:
        return gw_set_routes(c, s, cfg);
    case GW_KEY_ORDER:
        return gw_set_order(c, s, cfg);
    }
    return -1;
}

/* Defaults for every key, then each key of the file; unknown keys fail. */
static int gw_read_keys(struct gw_ctx *c, config_t *file, struct gw_config *cfg)
{
    const config_setting_t *root = config_root_setting(file);
    bool seen[GW_NKEYS] = { false };

    for (size_t i = 0; i < GW_NKEYS; i++)
        gw_set_default(&gw_keys[i], cfg);
    for (int i = 0; i < config_setting_length(root); i++) {
        const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        size_t k = 0;
        while (k < GW_NKEYS && strcmp(gw_key_file_name(&gw_keys[k]), config_setting_name(s)) != 0)
            k++;
        if (k == GW_NKEYS) {
            gw_fail(c, s, "unknown key '%s'", config_setting_name(s));
            return -1;
        }
        if (gw_set_key(c, &gw_keys[k], s, cfg) < 0)
            return -1;
        seen[k] = true;
    }
    for (size_t k = 0; k < GW_NKEYS; k++)
        if (gw_keys[k].required && !seen[k]) {
            gw_fail(c, root, "missing required key '%s'", gw_key_file_name(&gw_keys[k]));
            return -1;
        }
    return 0;
}

/* Sources get their names; a source whose name is "" is dropped. */
static int gw_finish_sources(struct gw_ctx *c, struct gw_config *cfg)
{
    struct route_table *t = &cfg->table;
    size_t n = 0;

    for (size_t i = 0; i < t->nsources; i++) {
        const char *name = t->sources[i].kind == ROUTE_SOURCE_HEADER ? cfg->buyer_header
                         : t->sources[i].kind == ROUTE_SOURCE_QUERY ? cfg->buyer_query
                         : cfg->buyer_cookie;
        if (name[0] == '\0')
            continue;
        t->sources[n].kind = t->sources[i].kind;
        snprintf(t->sources[n].name, sizeof(t->sources[n].name), "%s", name);
        n++;
    }
    t->nsources = n;
    if (n == 0) {
        gw_fail(c, NULL, "no buyerId source left: set buyer_header, buyer_query or buyer_cookie");
        return -1;
    }
    return 0;
}

static int gw_finish(struct gw_ctx *c, struct gw_config *cfg)
{
    char err[512];

    if (gw_finish_sources(c, cfg) < 0)
        return -1;
    cfg->topo = topology_load(cfg->topology_path, err, sizeof(err));
    if (cfg->topo == NULL) {
        snprintf(c->err, c->errlen, "%s: topology: %s", c->path, err);
        return -1;
    }
    cfg->table.topo = cfg->topo;
    cfg->table.self = topology_unit_index(cfg->topo, cfg->unit);
    cfg->table.mode = (enum route_mode)cfg->mode;
    cfg->table.ban_policy = (enum route_ban_policy)cfg->ban_policy;
    if (cfg->table.self < 0) {
        gw_fail(c, NULL, "unit \"%s\" is not in the topology %s", cfg->unit, cfg->topology_path);
        return -1;
    }
    if (cfg->state_dir[0] != '\0' &&
        topology_resolve_path(cfg->state_dir, GW_CONFIG_RULES_FILE, cfg->rules_file,
                              sizeof(cfg->rules_file)) < 0) {
        gw_fail(c, NULL, "state_dir path too long");
        return -1;
    }
    return 0;
}

struct gw_config *gw_config_load(const char *path, char *err, size_t errlen)
{
    struct gw_ctx c = { .path = path, .err = err, .errlen = errlen };
    struct gw_config *cfg = calloc(1, sizeof(*cfg));
    char copy[PATH_MAX];
    config_t file;

    if (cfg == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(cfg->path, sizeof(cfg->path), "%s", path);
    snprintf(copy, sizeof(copy), "%s", path);
    snprintf(c.dir, sizeof(c.dir), "%s", dirname(copy));
    config_init(&file);
    if (topology_read_config(&file, path, err, errlen) < 0)
        goto fail;
    if (gw_read_keys(&c, &file, cfg) < 0 || gw_finish(&c, cfg) < 0)
        goto fail;
    config_destroy(&file);
    return cfg;
fail:
    config_destroy(&file);
    gw_config_destroy(cfg);
    return NULL;
}

void gw_config_destroy(struct gw_config *c)
{
    if (c == NULL)
        return;
    topology_destroy(c->topo);
    free(c);
}
