#include "topology.h"

#include <libconfig.h>
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

struct topology_ctx {
    const char *path;
    char       *err;
    size_t      errlen;
};

static void topology_fail(struct topology_ctx *c, const config_setting_t *s,
                          const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void topology_fail(struct topology_ctx *c, const config_setting_t *s,
                          const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "%s:%d: %s", c->path,
             s ? (int)config_setting_source_line(s) : 0, msg);
}

int topology_resolve_path(const char *dir, const char *path, char *out, size_t outlen)
{
    int n = path[0] == '/' || dir == NULL || dir[0] == '\0'
                ? snprintf(out, outlen, "%s", path)
                : snprintf(out, outlen, "%s/%s", dir, path);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* The whole file at path, NUL-terminated, into *text (malloc'd). 0 or -1 (err). */
static int topology_slurp(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    struct strbuf b;
    char chunk[4096];
    size_t got;

    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot read the file: %s", path, strerror(errno));
        return -1;
    }
    strbuf_init(&b);
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        strbuf_append(&b, chunk, got);
    int read_errno = ferror(f) ? errno : 0;
    fclose(f);
    *len = b.len;
    *text = b.buf != NULL ? strbuf_steal(&b) : strdup("");
    if (read_errno != 0 || *text == NULL) {
        snprintf(err, errlen, "%s: cannot read the file: %s", path,
                 read_errno ? strerror(read_errno) : "out of memory");
        free(*text);
        strbuf_deinit(&b);
        return -1;
    }
    return 0;
}

/*
 * The text is checked before libconfig 1.5 parses it, as rule documents are
 * (rules_check_config_text): it silently wraps an integer too large for its
 * type, and leaks a string token at some syntax errors (found by
 * fuzz_topology); a NUL byte would end the text early.
 */
int topology_read_config(struct config_t *cfg, const char *path, char *err, size_t errlen)
{
    char *text = NULL, why[384];
    size_t len = 0;
    int rc = -1, line = 0;

    if (topology_slurp(path, &text, &len, err, errlen) < 0)
        return -1;
    if (memchr(text, '\0', len) != NULL)
        snprintf(err, errlen, "%s: contains a NUL byte", path);
    else if (rules_check_config_text(text, len, &line, why, sizeof(why)) < 0)
        snprintf(err, errlen, "%s:%d: %s", path, line, why);
    else if (config_read_string(cfg, text) != CONFIG_TRUE)
        snprintf(err, errlen, "%s:%d: %s", path, config_error_line(cfg),
                 config_error_text(cfg) ? config_error_text(cfg) : "syntax error");
    else
        rc = 0;
    free(text);
    return rc;
}

static int topology_check_keys(struct topology_ctx *c, const config_setting_t *group,
                               const char *const *keys)
{
    for (int i = 0; i < config_setting_length(group); i++) {
        const config_setting_t *m = config_setting_get_elem(group, (unsigned)i);
        size_t k = 0;
        while (keys[k] != NULL && strcmp(keys[k], config_setting_name(m)) != 0)
            k++;
        if (keys[k] == NULL) {
            topology_fail(c, m, "unknown key '%s'", config_setting_name(m));
            return -1;
        }
    }
    return 0;
}

/* A string member copied into out; required members must be present. */
static int topology_get_string(struct topology_ctx *c, const config_setting_t *group,
                               const char *name, int required, char *out, size_t outlen)
{
    const config_setting_t *s = config_setting_get_member(group, name);

    if (s == NULL) {
        if (required)
            topology_fail(c, group, "missing '%s'", name);
        return required ? -1 : 0;
    }
    const char *v = config_setting_get_string(s);
    if (v == NULL || v[0] == '\0') {
        topology_fail(c, s, "'%s' must be a non-empty string", name);
        return -1;
    }
    if (strlen(v) >= outlen) {
        topology_fail(c, s, "'%s' is longer than %zu characters", name, outlen - 1);
        return -1;
    }
    memcpy(out, v, strlen(v) + 1);
    return 0;
}

/* A port: 1 to 5 digits, nothing else, in 1..65535 (atoi took "80x", "99999"). */
static int topology_port_valid(const char *p)
{
    size_t n = strspn(p, "0123456789");

    return n > 0 && n <= 5 && p[n] == '\0' && atoi(p) >= 1 && atoi(p) <= 65535;
}

/* An array of "host:port" strings. */
static int topology_get_addrs(struct topology_ctx *c, const config_setting_t *group,
                              const char *name, char out[][TOPOLOGY_ADDR_MAX], size_t *n)
{
    const config_setting_t *a = config_setting_get_member(group, name);

    *n = 0;
    if (a == NULL)
        return 0;
    if (config_setting_type(a) != CONFIG_TYPE_ARRAY) {
        topology_fail(c, a, "'%s' must be an array of \"host:port\" strings", name);
        return -1;
    }
    if (config_setting_length(a) > TOPOLOGY_COMPONENTS_MAX) {
        topology_fail(c, a, "'%s' lists more than %d endpoints", name, TOPOLOGY_COMPONENTS_MAX);
        return -1;
    }
    for (int i = 0; i < config_setting_length(a); i++) {
        const char *v = config_setting_get_string_elem(a, i);
        const char *colon = v ? strrchr(v, ':') : NULL;
        if (v == NULL || colon == NULL || colon == v || !topology_port_valid(colon + 1) ||
            strlen(v) >= TOPOLOGY_ADDR_MAX) {
            topology_fail(c, a, "'%s'[%d] must be \"host:port\"", name, i);
            return -1;
        }
        memcpy(out[(*n)++], v, strlen(v) + 1);
    }
    return 0;
}

static int topology_read_db(struct topology_ctx *c, const char *dir,
                            const config_setting_t *unit, struct topology_db *db)
{
    static const char *const keys[] = { "host", "port", "user", "password_file", NULL };
    const config_setting_t *g = config_setting_get_member(unit, "db");
    char pw[PATH_MAX] = "";
    int port = 0;

    if (g == NULL)
        return 0;
    if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
        topology_fail(c, g, "'db' must be a group { host = ...; port = ...; }");
        return -1;
    }
    if (topology_check_keys(c, g, keys) < 0 ||
        topology_get_string(c, g, "host", 1, db->host, sizeof(db->host)) < 0 ||
        topology_get_string(c, g, "user", 1, db->user, sizeof(db->user)) < 0 ||
        topology_get_string(c, g, "password_file", 0, pw, sizeof(pw)) < 0)
        return -1;
    if (!config_setting_lookup_int(g, "port", &port) || port <= 0 || port > 65535) {
        topology_fail(c, g, "'db.port' must be an integer in 1..65535");
        return -1;
    }
    db->port = port;
    if (pw[0] != '\0' && topology_resolve_path(dir, pw, db->password_file,
                                               sizeof(db->password_file)) < 0) {
        topology_fail(c, g, "password_file path too long");
        return -1;
    }
    return 0;
}

static int topology_read_unit(struct topology_ctx *c, struct topology *t,
                              const config_setting_t *g, struct topology_unit *u)
{
    static const char *const keys[] = { "name", "public_url", "gateway_url", "gateway_admin",
                                        "proxy_admin", "db", NULL };

    if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
        topology_fail(c, g, "each unit must be a group { name = ...; ... }");
        return -1;
    }
    if (topology_check_keys(c, g, keys) < 0 ||
        topology_get_string(c, g, "name", 1, u->name, sizeof(u->name)) < 0 ||
        topology_get_string(c, g, "public_url", 1, u->public_url, sizeof(u->public_url)) < 0 ||
        topology_get_string(c, g, "gateway_url", 0, u->gateway_url, sizeof(u->gateway_url)) < 0 ||
        topology_get_addrs(c, g, "gateway_admin", u->gateway_admin, &u->ngateway_admin) < 0 ||
        topology_get_addrs(c, g, "proxy_admin", u->proxy_admin, &u->nproxy_admin) < 0 ||
        topology_read_db(c, t->dir, g, &u->db) < 0)
        return -1;
    if (u->gateway_url[0] == '\0')
        memcpy(u->gateway_url, u->public_url, sizeof(u->gateway_url));
    for (size_t i = 0; i < t->nunits; i++)
        if (strcmp(t->units[i].name, u->name) == 0) {
            topology_fail(c, g, "unit \"%s\" is listed twice", u->name);
            return -1;
        }
    return 0;
}

static int topology_read(struct topology_ctx *c, struct topology *t, config_t *cfg)
{
    static const char *const keys[] = { "secret_file", "center", "units", NULL };
    const config_setting_t *root = config_root_setting(cfg);
    char center[RULES_UNIT_NAME_MAX], secret[PATH_MAX];

    if (topology_check_keys(c, root, keys) < 0 ||
        topology_get_string(c, root, "secret_file", 1, secret, sizeof(secret)) < 0 ||
        topology_get_string(c, root, "center", 1, center, sizeof(center)) < 0)
        return -1;
    if (topology_resolve_path(t->dir, secret, t->secret_file, sizeof(t->secret_file)) < 0) {
        topology_fail(c, root, "secret_file path too long");
        return -1;
    }
    const config_setting_t *units = config_setting_get_member(root, "units");
    if (units == NULL || config_setting_type(units) != CONFIG_TYPE_LIST ||
        config_setting_length(units) == 0) {
        topology_fail(c, units, "'units' must be a non-empty list ( { name = ...; }, ... )");
        return -1;
    }
    if (config_setting_length(units) > RULES_UNITS_MAX) {
        topology_fail(c, units, "more than %d units", RULES_UNITS_MAX);
        return -1;
    }
    for (int i = 0; i < config_setting_length(units); i++) {
        struct topology_unit *u = &t->units[t->nunits];
        if (topology_read_unit(c, t, config_setting_get_elem(units, (unsigned)i), u) < 0)
            return -1;
        t->unit_names[t->nunits++] = u->name;
    }
    t->center = topology_unit_index(t, center);
    if (t->center < 0) {
        topology_fail(c, config_setting_get_member(root, "center"),
                      "center \"%s\" is not one of the units", center);
        return -1;
    }
    return 0;
}

struct topology *topology_load(const char *path, char *err, size_t errlen)
{
    struct topology_ctx c = { path, err, errlen };
    struct topology *t = calloc(1, sizeof(*t));
    config_t cfg;
    char copy[PATH_MAX];

    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(copy, sizeof(copy), "%s", path);
    snprintf(t->dir, sizeof(t->dir), "%s", dirname(copy));
    config_init(&cfg);
    if (topology_read_config(&cfg, path, err, errlen) < 0)
        goto fail;
    if (topology_read(&c, t, &cfg) < 0)
        goto fail;
    config_destroy(&cfg);
    return t;
fail:
    config_destroy(&cfg);
    free(t);
    return NULL;
}

void topology_destroy(struct topology *t)
{
    free(t);
}

int topology_unit_index(const struct topology *t, const char *name)
{
    for (size_t i = 0; i < t->nunits; i++)
        if (strcmp(t->units[i].name, name) == 0)
            return (int)i;
    return -1;
}
