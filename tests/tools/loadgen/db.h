/*
 * loadgen db: the databases loadgen check reads. Connects to one, waits for
 * replication between all of them and loads table unitroute.orders into
 * memory, sorted by id.
 */
#ifndef LOADGEN_DB_H
#define LOADGEN_DB_H

#include <stddef.h>
#include <stdint.h>

#include <mysql.h>

#include "tests/tools/loadgen/common.h"

/* One row of unitroute.orders. */
struct lg_row {
    int64_t id;
    int64_t buyer;
    int64_t created_us;             /* orders.created, microseconds since the epoch */
    char    unit[LG_UNIT_MAX];      /* the unit whose order service wrote it */
};

/* One database, embedded in the check's configuration; lg_db_deinit releases it. */
struct lg_db {
    char           name[LG_NAME_MAX];   /* from --db NAME=... */
    char           host[256];
    unsigned       port;
    MYSQL         *conn;            /* owned, NULL until lg_db_connect */
    struct lg_row *rows;            /* owned, sorted by id */
    size_t         nrows;
};

/*
 * Connects to db's database unitroute as user/password (the caller's
 * strings, not kept). 0, or -1 (reported on stderr); db->conn is owned by
 * db either way, for lg_db_deinit.
 */
int lg_db_connect(struct lg_db *db, const char *user, const char *password);

/*
 * Waits up to wait_s seconds in all until every one of the n connected
 * databases dbs has applied every other one's own writes (its GTID domain).
 * Returns 0, or -1 if some did not within the time or a query failed
 * (reported; the check goes on and shows what is missing).
 */
int lg_db_wait_replication(struct lg_db *dbs, size_t n, uint64_t wait_s);

/*
 * Loads every row of orders, by id, into db->rows (owned by db, also the
 * part loaded before a failure). 0, or -1 (reported on stderr).
 */
int lg_db_load_rows(struct lg_db *db);

/* The first row with order id, or NULL; points into db->rows. */
const struct lg_row *lg_db_find_row(const struct lg_db *db, int64_t id);

/* Closes the connection and frees the rows; the name and address stay. */
void lg_db_deinit(struct lg_db *db);

#endif
