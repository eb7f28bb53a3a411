/*
 * sql_decide: may this unit run a classified statement, under these rules?
 *
 *   sql_stmt + rules + this unit + policy --sql_decide()--> SQL_ALLOW | reason
 *
 * Every reason has its own MySQL error number and SQLSTATE (docs/proxy.md
 * lists them); the refusal message names the table, buyer, bucket and
 * units. Reads always pass. Never logs, never allocates.
 */
#ifndef UR_SQL_DECIDE_H
#define UR_SQL_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/sql_classify.h"
#include "router/rules.h"

enum sql_reason {
    SQL_ALLOW = 0,
    SQL_REFUSE_NO_KEY,          /* unit-table write without a sharding key */
    SQL_REFUSE_WRONG_UNIT,      /* the key's home is another unit */
    SQL_REFUSE_BANNED,          /* the key's bucket is under a write ban */
    SQL_REFUSE_CENTER,          /* center table written outside the center */
    SQL_REFUSE_KEY_MISMATCH,    /* hint and statement disagree */
    SQL_REFUSE_KEYS_SPAN,       /* keys of several units in one statement */
    SQL_REFUSE_NO_RULES,        /* the proxy has no rules yet */
    SQL_REFUSE_TXN_BANNED,      /* the open transaction wrote a banned bucket */
    SQL_REFUSE_TOO_LARGE,       /* statement larger than the proxy inspects */
    SQL_REFUSE_UNSUPPORTED,     /* command the proxy does not relay */
    SQL_REFUSE_MALFORMED,       /* a command packet that does not parse */
    SQL_REFUSE_DDL,             /* a schema change of a unit or center table */
    SQL_REFUSE_CHARSET,         /* a client character set the proxy cannot read */
    SQL_REFUSE_SQL_MODE,        /* sql_mode with ANSI_QUOTES, or not a literal */
    SQL_REFUSE_UPSERT,          /* REPLACE / ON DUPLICATE KEY UPDATE may hit another buyer's row */
    SQL_REASON_COUNT,
};

struct sql_reason_info {
    uint16_t    code;           /* MySQL error number sent to the client */
    const char *sqlstate;       /* 5 characters */
    const char *name;           /* metrics label */
    bool        retry;          /* clients should retry (after a rollback) */
};

const struct sql_reason_info *sql_reason_info(enum sql_reason r);

#define SQL_PROCS_PASS_MAX 64
#define SQL_UPSERT_TABLES_MAX 256

/* A procedure or table name: "name" (any schema) or "schema.name". */
struct sql_routine_name {
    char schema[SQL_NAME_MAX];  /* "" = any schema */
    char name[SQL_NAME_MAX];
};

/* What the configuration lets pass that the rules alone would refuse. */
struct sql_policy {
    bool allow_ddl;             /* schema changes of classified tables pass */
    struct sql_routine_name procs_pass[SQL_PROCS_PASS_MAX]; /* CALLs that pass */
    size_t nprocs_pass;
    /* unit tables (as configured: schema "" = any) whose every unique key
     * holds the sharding column: REPLACE / ON DUPLICATE KEY UPDATE pass */
    struct sql_routine_name upsert_tables[SQL_UPSERT_TABLES_MAX];
    size_t nupsert_tables;
};

/*
 * Does st leave the session readable (sql_set.c)? SQL_ALLOW, or
 * SQL_REFUSE_CHARSET / SQL_REFUSE_SQL_MODE with msg set. sql_decide checks
 * this first, for reads and writes alike.
 */
enum sql_reason sql_decide_session(const struct sql_stmt *st, char *msg, size_t msglen);

/*
 * Refusal text for a client character set named in a handshake or
 * COM_CHANGE_USER (cs_name NULL: an unknown collation id, with the server's
 * default unsafe or unknown). Returns SQL_REFUSE_CHARSET.
 */
enum sql_reason sql_decide_charset(const char *cs_name, unsigned id, char *msg, size_t msglen);

/*
 * May this unit run st? r may be NULL (no rules yet). this_unit is this
 * unit's name; is_center says whether this unit is the center; pol may be
 * NULL (nothing extra passes). On a refusal msg gets the text for the
 * client (naming table or procedure, buyer, bucket and units).
 */
enum sql_reason sql_decide(const struct sql_stmt *st, const struct rules *r,
                           const char *this_unit, bool is_center,
                           const struct sql_policy *pol, char *msg, size_t msglen);

#endif
