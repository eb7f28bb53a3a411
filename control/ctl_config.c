#include "ctl_config.h"

#include <libconfig.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/topology.h"

enum ctl_key_type { CTL_STRING, CTL_PATH, CTL_LONG };

struct ctl_key {
    const char       *name;
    enum ctl_key_type type;
    size_t            offset;
    size_t            size;     /* strings: buffer size */
    const char       *def;      /* default, as text */
    long              min;      /* CTL_LONG bounds */
    long              max;
};

#define CTL_STR(n, t, d) { #n, t, offsetof(struct ctl_config, n), \
                           sizeof(((struct ctl_config *)0)->n), d, 0, 0 }
#define CTL_NUM(n, d, lo, hi) { #n, CTL_LONG, offsetof(struct ctl_config, n), 0, #d, lo, hi }

static const struct ctl_key ctl_keys[] = {
    CTL_STR(listen, CTL_STRING, "127.0.0.1:9000"),
    CTL_STR(topology, CTL_PATH, "topology.conf"),
    CTL_STR(state_dir, CTL_PATH, "state"),
    CTL_STR(token_file, CTL_PATH, "control.token"),
    CTL_STR(initial_rules, CTL_PATH, "rules.conf"),
    CTL_STR(sync_method, CTL_STRING, "gtid"),
    CTL_STR(sync_command, CTL_STRING, ""),
    CTL_NUM(sync_max_lag_s, 5, 0, 86400),
    CTL_NUM(db_connect_timeout_s, 3, 1, 60),
    CTL_NUM(cutover_timeout_ms, 30000, 100, 3600000),
    CTL_NUM(push_timeout_ms, 3000, 50, 600000),
    CTL_NUM(push_retry_ms, 200, 10, 60000),
    CTL_NUM(reconcile_interval_ms, 1000, 50, 600000),
    CTL_STR(log_level, CTL_STRING, "info"),
};

#define CTL_NKEYS (sizeof(ctl_keys) / sizeof(ctl_keys[0]))

static int ctl_set(struct ctl_config *cfg, const struct ctl_key *k, const char *text,
                   const char *dir, char *err, size_t errlen, const char *where)
{
    char *field = (char *)cfg + k->offset;

    if (k->type == CTL_LONG) {
        long v = strtol(text, NULL, 10);
        if (v < k->min || v > k->max) {
            snprintf(err, errlen, "%s: %s = %ld out of range %ld..%ld", where, k->name, v,
                     k->min, k->max);
            return -1;
        }
        *(long *)(void *)field = v;
        return 0;
    }
    int too_long = k->type == CTL_PATH && text[0] != '\0'
                       ? topology_resolve_path(dir, text, field, k->size) < 0
                       : (size_t)snprintf(field, k->size, "%s", text) >= k->size;
    if (too_long) {
        snprintf(err, errlen, "%s: %s is too long", where, k->name);
        return -1;
    }
    return 0;
}

int ctl_config_load(struct ctl_config *cfg, const char *path, char *err, size_t errlen)
{
    config_t c;
    char copy[PATH_MAX], dir[PATH_MAX], where[PATH_MAX + 32], num[32];
    int rc = -1;

    memset(cfg, 0, sizeof(*cfg));
    snprintf(copy, sizeof(copy), "%s", path);
    snprintf(dir, sizeof(dir), "%s", dirname(copy));
    for (size_t i = 0; i < CTL_NKEYS; i++)
        if (ctl_set(cfg, &ctl_keys[i], ctl_keys[i].def, dir, err, errlen, path) < 0)
            return -1;
    config_init(&c);
    if (topology_read_config(&c, path, err, errlen) < 0)
        goto out;
    config_setting_t *root = config_root_setting(&c);
    for (int i = 0; i < config_setting_length(root); i++) {
        config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        const struct ctl_key *k = NULL;
        snprintf(where, sizeof(where), "%s:%d", path, config_setting_source_line(s));
        for (size_t j = 0; j < CTL_NKEYS && k == NULL; j++)
            if (strcmp(ctl_keys[j].name, config_setting_name(s)) == 0)
                k = &ctl_keys[j];
        if (k == NULL) {
            snprintf(err, errlen, "%s: unknown key '%s'", where, config_setting_name(s));
            goto out;
        }
        const char *text;
        if (k->type == CTL_LONG) {
            int t = config_setting_type(s);
            if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) {
                snprintf(err, errlen, "%s: %s must be an integer", where, k->name);
                goto out;
            }
            snprintf(num, sizeof(num), "%lld", config_setting_get_int64(s));
            text = num;
        } else if ((text = config_setting_get_string(s)) == NULL) {
            snprintf(err, errlen, "%s: %s must be a string", where, k->name);
            goto out;
        }
        if (ctl_set(cfg, k, text, dir, err, errlen, where) < 0)
            goto out;
    }
    if (sync_checker_find(cfg->sync_method) == NULL) {
        snprintf(err, errlen, "%s: sync_method \"%s\": expected gtid, command or manual", path,
                 cfg->sync_method);
        goto out;
    }
    rc = 0;
out:
    config_destroy(&c);
    return rc;
}

void ctl_config_sync(const struct ctl_config *cfg, struct sync_config *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->method, sizeof(out->method), "%s", cfg->sync_method);
    snprintf(out->command, sizeof(out->command), "%s", cfg->sync_command);
    out->max_lag_s = cfg->sync_max_lag_s;
    out->connect_timeout_s = cfg->db_connect_timeout_s;
}
