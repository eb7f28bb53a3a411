/*
 * loadgen db: the databases of loadgen check (see db.h). Every query error
 * is reported on stderr here, with the database's name.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/tools/loadgen/db.h"

int lg_db_connect(struct lg_db *db, const char *user, const char *password)
{
    unsigned timeout = 10;

    db->conn = mysql_init(NULL);
    if (db->conn == NULL)
        return -1;
    mysql_options(db->conn, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    if (mysql_real_connect(db->conn, db->host, user, password, "unitroute",
                           db->port, NULL, 0) == NULL) {
        fprintf(stderr, "loadgen check: %s (%s:%u): %s\n", db->name, db->host, db->port,
                mysql_error(db->conn));
        return -1;
    }
    return 0;
}

/* First column of the first row of sql into out; 0, or -1 (reported). */
static int lg_db_scalar(struct lg_db *db, const char *sql, char *out, size_t outlen)
{
    MYSQL_RES *res;
    MYSQL_ROW row;

    if (mysql_query(db->conn, sql) != 0 || (res = mysql_store_result(db->conn)) == NULL) {
        fprintf(stderr, "loadgen check: %s: %s: %s\n", db->name, sql, mysql_error(db->conn));
        return -1;
    }
    row = mysql_fetch_row(res);
    snprintf(out, outlen, "%s", row != NULL && row[0] != NULL ? row[0] : "");
    mysql_free_result(res);
    return 0;
}

/* Keeps only the GTIDs of domain in pos ("1-1-10,2-2-5" -> "2-2-5"). */
static void lg_gtid_filter_domain(const char *pos, const char *domain, char *out, size_t len)
{
    size_t dl = strlen(domain), used = 0;
    const char *p = pos;

    out[0] = '\0';
    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        if (n > dl && strncmp(p, domain, dl) == 0 && p[dl] == '-' && used + n + 1 < len) {
            used += (size_t)snprintf(out + used, len - used, "%s%.*s", used ? "," : "",
                                     (int)n, p);
        }
        p += n + (p[n] == ',');
    }
}

int lg_db_wait_replication(struct lg_db *dbs, size_t n, uint64_t wait_s)
{
    int64_t end = lg_now_us() + (int64_t)wait_s * 1000000;
    char domain[32], pos[4096], own[4096], sql[4300], got[32];
    int rc = 0;

    for (size_t i = 0; i < n; i++) {
        struct lg_db *src = &dbs[i];
        if (lg_db_scalar(src, "SELECT @@gtid_domain_id", domain, sizeof(domain)) < 0 ||
            lg_db_scalar(src, "SELECT @@gtid_binlog_pos", pos, sizeof(pos)) < 0)
            return -1;
        lg_gtid_filter_domain(pos, domain, own, sizeof(own));
        for (size_t j = 0; j < n && own[0] != '\0'; j++) {
            double left = (double)(end - lg_now_us()) / 1e6;
            if (j == i)
                continue;
            snprintf(sql, sizeof(sql), "SELECT MASTER_GTID_WAIT('%s', %.3f)", own,
                     left > 0 ? left : 0);
            if (lg_db_scalar(&dbs[j], sql, got, sizeof(got)) < 0 ||
                strcmp(got, "0") != 0) {
                printf("  replication: %s has not applied %s's position %s within %" PRIu64
                       " s\n", dbs[j].name, src->name, own, wait_s);
                rc = -1;
            }
        }
    }
    return rc;
}

static int lg_db_append_row(struct lg_db *db, size_t *cap, MYSQL_ROW row)
{
    if (db->nrows == *cap) {
        size_t n = *cap ? *cap * 2 : 4096;
        struct lg_row *p = realloc(db->rows, n * sizeof(*p));
        if (p == NULL)
            return -1;
        db->rows = p;
        *cap = n;
    }
    struct lg_row *r = &db->rows[db->nrows++];
    r->id = strtoll(row[0], NULL, 10);
    r->buyer = strtoll(row[1], NULL, 10);
    snprintf(r->unit, sizeof(r->unit), "%s", row[2]);
    r->created_us = strtoll(row[3], NULL, 10);
    return 0;
}

int lg_db_load_rows(struct lg_db *db)
{
    static const char sql[] =
        "SELECT id, buyer_id, unit, CAST(UNIX_TIMESTAMP(created) * 1000000 AS SIGNED) "
        "FROM orders ORDER BY id";
    size_t cap = 0;
    MYSQL_ROW row;
    int rc = 0;

    if (mysql_query(db->conn, sql) != 0) {
        fprintf(stderr, "loadgen check: %s: %s\n", db->name, mysql_error(db->conn));
        return -1;
    }
    MYSQL_RES *res = mysql_use_result(db->conn);
    if (res == NULL)
        return -1;
    while ((row = mysql_fetch_row(res)) != NULL)
        if (rc == 0 && lg_db_append_row(db, &cap, row) < 0)
            rc = -1;
    if (mysql_errno(db->conn) != 0) {
        fprintf(stderr, "loadgen check: %s: %s\n", db->name, mysql_error(db->conn));
        rc = -1;
    }
    mysql_free_result(res);
    return rc;
}

const struct lg_row *lg_db_find_row(const struct lg_db *db, int64_t id)
{
    size_t lo = 0, hi = db->nrows;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (db->rows[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < db->nrows && db->rows[lo].id == id ? &db->rows[lo] : NULL;
}

void lg_db_deinit(struct lg_db *db)
{
    mysql_close(db->conn);
    free(db->rows);
    db->conn = NULL;
    db->rows = NULL;
    db->nrows = 0;
}
