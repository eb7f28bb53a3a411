/*
 * gtid: replication positions through the mysqlclient API (libmariadb).
 *
 *   after every ban ack            on the target, remaining timeout
 *   source: @@gtid_binlog_pos  ->  MASTER_GTID_WAIT(pos, t)           MariaDB
 *           @@gtid_executed    ->  WAIT_FOR_EXECUTED_GTID_SET(pos, t)  MySQL
 *
 * MariaDB with replication both ways: the source's binlog position also
 * holds the target's own domain, which the target never "applies" as a
 * slave, so MASTER_GTID_WAIT would wait for it forever. Only the writes the
 * source accepted matter (the banned buyers live there), so the position is
 * cut down to the source's own @@gtid_domain_id.
 */
#include "sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <mysql.h>

enum sync_status sync_sleep(atomic_int *stop, long ms)
{
    while (ms > 0) {
        if (stop != NULL && atomic_load(stop))
            return SYNC_ABORTED;
        long slice = ms < 50 ? ms : 50;
        struct timespec ts = { 0, slice * 1000000L };
        nanosleep(&ts, NULL);
        ms -= slice;
    }
    return stop != NULL && atomic_load(stop) ? SYNC_ABORTED : SYNC_OK;
}

/* db->password_file was resolved against the topology's directory on load. */
static int gtid_read_password(const struct topology_db *db, char *out, size_t outlen,
                              char *err, size_t errlen)
{
    out[0] = '\0';
    if (db->password_file[0] == '\0')
        return 0;
    FILE *f = fopen(db->password_file, "r");
    if (f == NULL) {
        snprintf(err, errlen, "cannot read password file %s", db->password_file);
        return -1;
    }
    size_t n = fread(out, 1, outlen - 1, f);
    fclose(f);
    out[n] = '\0';
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    return 0;
}

/* A connection to db, or NULL (err names host:port, never the password). */
static MYSQL *gtid_connect(const struct sync_config *cfg, const struct topology_db *db,
                           long read_timeout_s, char *err, size_t errlen)
{
    char password[256];
    unsigned int ct = (unsigned int)(cfg->connect_timeout_s > 0 ? cfg->connect_timeout_s : 3);
    unsigned int rt = (unsigned int)(read_timeout_s > 0 ? read_timeout_s : 10);

    if (db->host[0] == '\0') {
        snprintf(err, errlen, "no database configured for this unit in the topology");
        return NULL;
    }
    if (gtid_read_password(db, password, sizeof(password), err, errlen) < 0)
        return NULL;
    MYSQL *m = mysql_init(NULL);
    if (m == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &rt);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &rt);
    if (mysql_real_connect(m, db->host, db->user, password, NULL, (unsigned int)db->port, NULL,
                           0) == NULL) {
        snprintf(err, errlen, "database %s:%d: %s", db->host, db->port, mysql_error(m));
        mysql_close(m);
        m = NULL;
    }
    memset(password, 0, sizeof(password));
    return m;
}

/* First column of the first row of q into out. Returns 0, 1 if NULL, -1 (err). */
static int gtid_query_value(MYSQL *m, const char *q, char *out, size_t outlen,
                            char *err, size_t errlen)
{
    if (mysql_query(m, q) != 0) {
        snprintf(err, errlen, "%s: %s", q, mysql_error(m));
        return -1;
    }
    MYSQL_RES *res = mysql_store_result(m);
    MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
    int rc = 0;
    if (row == NULL) {
        snprintf(err, errlen, "%s: no result", q);
        rc = -1;
    } else if (row[0] == NULL) {
        out[0] = '\0';
        rc = 1;
    } else {
        snprintf(out, outlen, "%s", row[0]);
    }
    mysql_free_result(res);
    return rc;
}

static int gtid_is_mariadb(MYSQL *m)
{
    const char *v = mysql_get_server_info(m);
    return v != NULL && strcasestr(v, "mariadb") != NULL;
}

/* Keep only the entries "D-S-N" of pos whose domain is domain. */
static void gtid_filter_domain(char *pos, const char *domain)
{
    char out[SYNC_POS_MAX] = "";
    char *save = NULL;
    size_t dlen = strlen(domain);

    for (char *tok = strtok_r(pos, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ' || *tok == '\n')
            tok++;
        if (strncmp(tok, domain, dlen) == 0 && tok[dlen] == '-')
            snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", out[0] ? "," : "",
                     tok);
    }
    strcpy(pos, out);
}

enum sync_status sync_gtid_ban_point(const struct sync_config *cfg, const struct sync_ctx *c,
                                     char *pos, size_t poslen, char *err, size_t errlen)
{
    char domain[32];
    enum sync_status st = SYNC_ERROR;
    MYSQL *m = gtid_connect(cfg, c->source_db, 10, err, errlen);

    if (m == NULL)
        return SYNC_ERROR;
    if (gtid_is_mariadb(m)) {
        if (gtid_query_value(m, "SELECT @@gtid_domain_id", domain, sizeof(domain), err,
                             errlen) != 0 ||
            gtid_query_value(m, "SELECT @@gtid_binlog_pos", pos, poslen, err, errlen) < 0)
            goto out;
        gtid_filter_domain(pos, domain);
    } else if (gtid_query_value(m, "SELECT @@GLOBAL.gtid_executed", pos, poslen, err,
                                errlen) < 0) {
        goto out;
    }
    for (char *p = pos; *p; p++)
        if (*p == '\n')
            *p = ' ';
    st = SYNC_OK;
out:
    mysql_close(m);
    return st;
}

enum sync_status sync_informative_ban_point(const struct sync_config *cfg,
                                            const struct sync_ctx *c, char *pos, size_t poslen,
                                            char *err, size_t errlen)
{
    char ignored[256];

    (void)err;
    (void)errlen;
    if (c->source_db == NULL || c->source_db->host[0] == '\0' ||
        sync_gtid_ban_point(cfg, c, pos, poslen, ignored, sizeof(ignored)) != SYNC_OK)
        pos[0] = '\0';
    return SYNC_OK;
}

/* MASTER_GTID_WAIT / WAIT_FOR_EXECUTED_GTID_SET with pos escaped. */
static enum sync_status gtid_wait(const struct sync_config *cfg, const struct sync_ctx *c,
                                  const char *pos, long timeout_ms, char *err, size_t errlen)
{
    char q[SYNC_POS_MAX * 2 + 128], esc[SYNC_POS_MAX * 2 + 1], val[32];
    enum sync_status st = SYNC_ERROR;

    if (pos[0] == '\0')
        return SYNC_OK; /* the source never wrote in its domain: nothing to wait for */
    MYSQL *m = gtid_connect(cfg, c->target_db, timeout_ms / 1000 + 5, err, errlen);
    if (m == NULL)
        return SYNC_ERROR;
    if (strlen(pos) >= SYNC_POS_MAX) {
        snprintf(err, errlen, "position too long");
        goto out;
    }
    mysql_real_escape_string(m, esc, pos, (unsigned long)strlen(pos));
    int maria = gtid_is_mariadb(m);
    snprintf(q, sizeof(q), "SELECT %s('%s', %.3f)",
             maria ? "MASTER_GTID_WAIT" : "WAIT_FOR_EXECUTED_GTID_SET", esc,
             (double)timeout_ms / 1000.0);
    int rc = gtid_query_value(m, q, val, sizeof(val), err, errlen);
    if (rc < 0)
        goto out;
    if (rc == 1) {
        snprintf(err, errlen, "the target's wait answered NULL (replication not configured?)");
        goto out;
    }
    if (strcmp(val, "0") == 0) {
        st = SYNC_OK;
    } else if (strcmp(val, maria ? "-1" : "1") == 0) {
        snprintf(err, errlen, "the target %s:%d had not applied %s within %ld ms",
                 c->target_db->host, c->target_db->port, pos, timeout_ms);
        st = SYNC_TIMEOUT;
    } else {
        snprintf(err, errlen, "unexpected wait answer %s", val);
    }
out:
    mysql_close(m);
    return st;
}

/* Wait in slices so an abort is noticed; each slice is one server-side wait. */
static enum sync_status sync_gtid_wait(const struct sync_config *cfg, const struct sync_ctx *c,
                                       const char *pos, long timeout_ms, char *err,
                                       size_t errlen)
{
    long left = timeout_ms;

    for (;;) {
        long slice = left < 1000 ? left : 1000;
        enum sync_status st = gtid_wait(cfg, c, pos, slice > 0 ? slice : 1, err, errlen);
        left -= slice;
        if (st != SYNC_TIMEOUT)
            return st;
        if (c->stop != NULL && atomic_load(c->stop))
            return SYNC_ABORTED;
        if (left <= 0) {
            snprintf(err, errlen, "the target %s:%d had not applied %s within %ld ms",
                     c->target_db->host, c->target_db->port, pos, timeout_ms);
            return SYNC_TIMEOUT;
        }
    }
}

/* Both replication threads of row run; lag (or -1 if unknown) into *lag. */
static int gtid_slave_row_ok(MYSQL_RES *res, MYSQL_ROW row, long *lag, int *port)
{
    unsigned int nf = mysql_num_fields(res);
    MYSQL_FIELD *f = mysql_fetch_fields(res);
    int io = 0, sql = 0;

    *lag = -1;
    *port = 0;
    for (unsigned int i = 0; i < nf; i++) {
        const char *v = row[i] ? row[i] : "";
        if (strcmp(f[i].name, "Slave_IO_Running") == 0)
            io = strcmp(v, "Yes") == 0;
        else if (strcmp(f[i].name, "Slave_SQL_Running") == 0)
            sql = strcmp(v, "Yes") == 0;
        else if (strcmp(f[i].name, "Seconds_Behind_Master") == 0 && row[i] != NULL)
            *lag = atol(v);
        else if (strcmp(f[i].name, "Master_Port") == 0)
            *port = atoi(v);
    }
    return io && sql;
}

enum sync_status sync_gtid_preflight(const struct sync_config *cfg, const struct sync_ctx *c,
                                     char *err, size_t errlen)
{
    enum sync_status st = SYNC_ERROR;
    MYSQL *src = gtid_connect(cfg, c->source_db, 5, err, errlen);
    if (src == NULL)
        return SYNC_ERROR;
    mysql_close(src);
    MYSQL *m = gtid_connect(cfg, c->target_db, 5, err, errlen);
    if (m == NULL)
        return SYNC_ERROR;
    const char *q = gtid_is_mariadb(m) ? "SHOW ALL SLAVES STATUS" : "SHOW SLAVE STATUS";
    if (mysql_query(m, q) != 0) {
        snprintf(err, errlen, "target %s: %s", q, mysql_error(m));
        goto out;
    }
    MYSQL_RES *res = mysql_store_result(m);
    MYSQL_ROW row;
    int rows = 0, found = 0;
    while (res != NULL && (row = mysql_fetch_row(res)) != NULL) {
        long lag;
        int port;
        int ok = gtid_slave_row_ok(res, row, &lag, &port);
        rows++;
        if (port != c->source_db->port)
            continue; /* another replication stream: not the one that matters */
        found = 1;
        if (!ok) {
            snprintf(err, errlen, "replication %s:%d -> %s:%d is not running",
                     c->source_db->host, c->source_db->port, c->target_db->host,
                     c->target_db->port);
        } else if (lag < 0 || lag > cfg->max_lag_s) {
            snprintf(err, errlen, "replication to %s:%d lags %lds (max %lds)",
                     c->target_db->host, c->target_db->port, lag, cfg->max_lag_s);
        } else {
            st = SYNC_OK;
        }
        break;
    }
    if (!found)
        snprintf(err, errlen, "the target %s:%d does not replicate from %s:%d",
                 c->target_db->host, c->target_db->port, c->source_db->host,
                 c->source_db->port);
    mysql_free_result(res);
out:
    mysql_close(m);
    return st;
}

const struct sync_checker sync_checker_gtid = {
    "gtid", sync_gtid_preflight, sync_gtid_ban_point, sync_gtid_wait,
};

const struct sync_checker *sync_checker_find(const char *name)
{
    static const struct sync_checker *const all[] = {
        &sync_checker_gtid, &sync_checker_command, &sync_checker_manual,
    };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}
