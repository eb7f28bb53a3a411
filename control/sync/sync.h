/*
 * sync: how a cutover learns that the target unit's database has every write
 * the source unit accepted before the ban. Three checkers behind one
 * interface:
 *
 *   gtid     ban_point: the source's @@gtid_binlog_pos (MariaDB, the source's
 *            own domain) or @@gtid_executed (MySQL), read AFTER every ban ack;
 *            wait: MASTER_GTID_WAIT / WAIT_FOR_EXECUTED_GTID_SET on the target
 *            with the remaining timeout. preflight: the target's replication
 *            threads run and lag at most max_lag_s.
 *   command  wait: run an external program (Otter, Canal, DTS glue) with the
 *            ban time and positions in its environment; exit 0 = synced.
 *   manual   wait: until an operator runs `unitctl confirm-sync ID`.
 *
 * Library code: no logging. Status: SYNC_OK / SYNC_ERROR / SYNC_TIMEOUT /
 * SYNC_ABORTED, the reason in the caller's err buffer. Passwords are read
 * from files and never put in a message.
 */
#ifndef UR_SYNC_H
#define UR_SYNC_H

#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "router/topology.h"

#define SYNC_POS_MAX 2048

enum sync_status {
    SYNC_OK = 0,
    SYNC_ERROR = -1,
    SYNC_TIMEOUT = -2,
    SYNC_ABORTED = -3,
};

struct sync_config {
    char method[16];            /* "gtid", "command", "manual" */
    char command[PATH_MAX];     /* command: run through /bin/sh -c */
    long max_lag_s;             /* preflight: replication lag allowed */
    long connect_timeout_s;     /* database connections */
};

/* One cutover's view, filled by control/cutover.c. */
struct sync_ctx {
    const char               *cutover_id;
    const char               *selection;    /* "buckets:A-B" / "buyer:N" */
    const char               *source_unit;
    const char               *target_unit;
    const struct topology_db *source_db;
    const struct topology_db *target_db;
    uint64_t                  ban_time_ms;  /* wall clock of the last ban ack */
    atomic_int               *stop;         /* set = abort the wait */
    atomic_int               *confirmed;    /* manual: set by confirm-sync */
};

struct sync_checker {
    const char *name;
    /* Refuse a doomed cutover before banning. */
    enum sync_status (*preflight)(const struct sync_config *cfg, const struct sync_ctx *c,
                                  char *err, size_t errlen);
    /* The source position right after the ban acks ("" when not applicable). */
    enum sync_status (*ban_point)(const struct sync_config *cfg, const struct sync_ctx *c,
                                  char *pos, size_t poslen, char *err, size_t errlen);
    /* Wait until the target has applied pos, at most timeout_ms. */
    enum sync_status (*wait)(const struct sync_config *cfg, const struct sync_ctx *c,
                             const char *pos, long timeout_ms, char *err, size_t errlen);
};

/* The checker called name, or NULL. */
const struct sync_checker *sync_checker_find(const char *name);

extern const struct sync_checker sync_checker_gtid;
extern const struct sync_checker sync_checker_command;
extern const struct sync_checker sync_checker_manual;

/* Shared by the checkers (control/sync/gtid.c). */
enum sync_status sync_gtid_preflight(const struct sync_config *cfg, const struct sync_ctx *c,
                                     char *err, size_t errlen);
enum sync_status sync_gtid_ban_point(const struct sync_config *cfg, const struct sync_ctx *c,
                                     char *pos, size_t poslen, char *err, size_t errlen);
/*
 * The ban point of the command and manual checkers: the GTID position when
 * the source's database can be read (informative: passed to the command,
 * shown to the operator), "" when it cannot. Never fails.
 */
enum sync_status sync_informative_ban_point(const struct sync_config *cfg,
                                            const struct sync_ctx *c, char *pos, size_t poslen,
                                            char *err, size_t errlen);

/* Sleep up to ms in small slices; SYNC_ABORTED if stop got set. */
enum sync_status sync_sleep(atomic_int *stop, long ms);

#endif
