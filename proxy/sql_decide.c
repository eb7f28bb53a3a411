/*
 * sql_decide: the allow/refuse decision and the refusal codes. See
 * sql_decide.h. Order of checks: a SET that would make the session unreadable
 * (character set, sql_mode) -> charset / sql_mode; XA -> unsupported; not a write -> allow;
 * a schema change of a classified table -> ddl unless allow_ddl; CALL ->
 * a listed procedure passes, else its hint is checked as a unit write's
 * key; center table outside the center; then for unit tables: an upsert
 * (REPLACE / ON DUPLICATE KEY UPDATE) its table's rule does not allow or
 * that moves the row to a buyer not named, every row (TRUNCATE), deferred
 * (SQL PREPARE), hints, no key, no rules, keys of several units, key homed
 * elsewhere, bucket banned.
 */
#include "proxy/sql_decide.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct sql_reason_info reasons[SQL_REASON_COUNT] = {
    [SQL_ALLOW]               = { 0,    "00000", "allowed",       false },
    [SQL_REFUSE_NO_KEY]       = { 7401, "UR001", "no_key",        false },
    [SQL_REFUSE_WRONG_UNIT]   = { 7402, "UR002", "wrong_unit",    false },
    [SQL_REFUSE_BANNED]       = { 7403, "UR003", "banned",        true },
    [SQL_REFUSE_CENTER]       = { 7404, "UR004", "center",        false },
    [SQL_REFUSE_KEY_MISMATCH] = { 7405, "UR005", "key_mismatch",  false },
    [SQL_REFUSE_KEYS_SPAN]    = { 7406, "UR006", "keys_span",     false },
    [SQL_REFUSE_NO_RULES]     = { 7407, "UR007", "no_rules",      true },
    [SQL_REFUSE_TXN_BANNED]   = { 7408, "UR008", "txn_banned",    true },
    [SQL_REFUSE_TOO_LARGE]    = { 7409, "UR009", "too_large",     false },
    [SQL_REFUSE_UNSUPPORTED]  = { 7410, "UR010", "unsupported",   false },
    [SQL_REFUSE_MALFORMED]    = { 7411, "UR011", "malformed",     false },
    [SQL_REFUSE_DDL]          = { 7412, "UR012", "ddl",           false },
    [SQL_REFUSE_CHARSET]      = { 7413, "UR013", "charset",       false },
    [SQL_REFUSE_SQL_MODE]     = { 7414, "UR014", "sql_mode",      false },
    [SQL_REFUSE_UPSERT]       = { 7415, "UR015", "upsert",        false },
};

const struct sql_reason_info *sql_reason_info(enum sql_reason r)
{
    return (unsigned)r < SQL_REASON_COUNT ? &reasons[r] : &reasons[SQL_REFUSE_MALFORMED];
}

static enum sql_reason refuse(enum sql_reason r, char *msg, size_t msglen,
                              const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum sql_reason refuse(enum sql_reason r, char *msg, size_t msglen,
                              const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(msg, msglen, "unitproxy %s: ", reasons[r].name);

    if (n < 0 || (size_t)n >= msglen)
        return r;
    va_start(ap, fmt);
    vsnprintf(msg + n, msglen - (size_t)n, fmt, ap);
    va_end(ap);
    return r;
}

/*
 * Every key of a unit-table write: home here, not banned, all one unit.
 * what names the write in messages ("write to unit table `t`").
 */
static enum sql_reason decide_keys(const struct sql_stmt *st, const struct rules *r,
                                   const char *this_unit, const char *what,
                                   char *msg, size_t msglen)
{
    size_t n = st->nkeys + (st->has_hint ? 1 : 0);
    int first_unit = RULES_NO_UNIT;
    uint64_t first_key = 0;

    for (size_t i = 0; i < n; i++) {
        uint64_t key = i < st->nkeys ? st->keys[i] : st->hint;
        int unit = rules_unit_for_buyer(r, key);
        if (i == 0) {
            first_unit = unit;
            first_key = key;
        } else if (unit != first_unit) {
            return refuse(SQL_REFUSE_KEYS_SPAN, msg, msglen,
                          "%s names buyers of several units: "
                          "buyer %llu (bucket %u) is homed in %s, buyer %llu "
                          "(bucket %u) in %s; split the statement per unit",
                          what, (unsigned long long)first_key,
                          rules_bucket_of(r, first_key), rules_unit_name(r, first_unit),
                          (unsigned long long)key, rules_bucket_of(r, key),
                          rules_unit_name(r, unit));
        }
    }
    if (n > 0 && strcmp(rules_unit_name(r, first_unit), this_unit) != 0)
        return refuse(SQL_REFUSE_WRONG_UNIT, msg, msglen,
                      "%s for buyer %llu (bucket %u): its home "
                      "unit is %s, this proxy serves %s",
                      what, (unsigned long long)first_key,
                      rules_bucket_of(r, first_key), rules_unit_name(r, first_unit),
                      this_unit);
    for (size_t i = 0; i < n; i++) {
        uint64_t key = i < st->nkeys ? st->keys[i] : st->hint;
        if (rules_is_write_banned(r, key))
            return refuse(SQL_REFUSE_BANNED, msg, msglen,
                          "writes for buyer %llu (bucket %u, home unit %s, this unit "
                          "%s) are banned while it moves between units (rules "
                          "version %llu); retry shortly",
                          (unsigned long long)key, rules_bucket_of(r, key),
                          rules_unit_name(r, first_unit), this_unit,
                          (unsigned long long)r->version);
    }
    return SQL_ALLOW;
}

/* Is the called procedure listed in procedures_pass? */
static bool decide_proc_passes(const struct sql_stmt *st, const struct sql_policy *pol)
{
    for (size_t i = 0; pol && i < pol->nprocs_pass; i++) {
        const struct sql_routine_name *n = &pol->procs_pass[i];
        if (strcasecmp(n->name, st->routine) == 0 &&
            (n->schema[0] == '\0' || strcasecmp(n->schema, st->routine_db) == 0))
            return true;
    }
    return false;
}

static enum sql_reason decide_ddl(const struct sql_stmt *st, const char *this_unit,
                                  char *msg, size_t msglen)
{
    if (st->table[0] == '\0')           /* DROP TRIGGER: no table named */
        return refuse(SQL_REFUSE_DDL, msg, msglen,
                      "%s `%s` refused: the statement does not name the trigger's "
                      "table, which may be a unit or center table; schema changes "
                      "of classified tables go through the operators' DDL path, "
                      "not through unitproxy (unit %s)",
                      st->ddl_what, st->routine, this_unit);
    if (strstr(st->ddl_what, " VIEW") || strstr(st->ddl_what, " PROCEDURE") ||
        strstr(st->ddl_what, " FUNCTION") || strstr(st->ddl_what, " EVENT") ||
        strstr(st->ddl_what, " PACKAGE") || strcmp(st->ddl_what, "CREATE TRIGGER") == 0)
        return refuse(SQL_REFUSE_DDL, msg, msglen,
                      "%s naming classified table `%s` refused: a view or stored program "
                      "over unit or center tables writes them later, unchecked; it goes "
                      "through the operators' DDL path, not through unitproxy, created "
                      "directly on the database (a view over a unit table must itself be "
                      "listed in tables, with the sharding column, to be written through "
                      "unitproxy) (unit %s)", st->ddl_what, st->table, this_unit);
    return refuse(SQL_REFUSE_DDL, msg, msglen,
                  "%s on classified table `%s` refused: schema changes of unit and "
                  "center tables go through the operators' DDL path, not through "
                  "unitproxy (unit %s)", st->ddl_what, st->table, this_unit);
}

/*
 * REPLACE / INSERT ... ON DUPLICATE KEY UPDATE: the existing row it replaces
 * or updates is found by any unique key (an id), so it may belong to
 * another buyer, of another unit, unless every unique key holds the
 * sharding column (the operator says so: upsert = true). Even then an
 * assignment to the sharding column moves the row: it must name a key.
 */
static bool decide_upsert_allowed(const struct sql_stmt *st, const struct sql_policy *pol)
{
    const struct sql_table_rule *t = st->upsert_table;

    for (size_t i = 0; t && pol && i < pol->nupsert_tables; i++) {
        const struct sql_routine_name *n = &pol->upsert_tables[i];
        if (strcasecmp(n->name, t->name) == 0 && strcasecmp(n->schema, t->schema) == 0)
            return true;
    }
    return false;
}

static enum sql_reason decide_upsert(const struct sql_stmt *st, const struct sql_policy *pol,
                                     char *msg, size_t msglen)
{
    if ((st->upsert || st->verb == SQL_VERB_REPLACE) && !decide_upsert_allowed(st, pol))
        return refuse(SQL_REFUSE_UPSERT, msg, msglen,
                      "REPLACE / INSERT ... ON DUPLICATE KEY UPDATE into unit table `%s` "
                      "refused: the row it replaces or updates is found by any unique "
                      "key, so it may be another buyer's, homed in another unit; use "
                      "INSERT and UPDATE ... WHERE %s = N, or, if every unique key of "
                      "`%s` includes `%s` (e.g. PRIMARY KEY (%s, id)), say so with "
                      "upsert = true in its tables entry of the proxy configuration",
                      st->table, st->column, st->table, st->column, st->column);
    if (st->upsert_move_unknown)
        return refuse(SQL_REFUSE_UPSERT, msg, msglen,
                      "ON DUPLICATE KEY UPDATE of unit table `%s` sets `%s` to a value "
                      "that is not a literal buyer: the row would move to a buyer the "
                      "proxy cannot check; assign a number (or keep `%s = VALUES(%s)`)",
                      st->table, st->column, st->column, st->column);
    return SQL_ALLOW;
}

/*
 * CALL: the proxy cannot see what a procedure writes. A listed one passes;
 * else the hint is the caller's statement of the buyer it writes, checked
 * like a unit-table write's key.
 */
static enum sql_reason decide_call(const struct sql_stmt *st, const struct rules *r,
                                   const char *this_unit, const struct sql_policy *pol,
                                   char *msg, size_t msglen)
{
    char what[2 * SQL_NAME_MAX + 16];

    if (decide_proc_passes(st, pol))
        return SQL_ALLOW;
    snprintf(what, sizeof(what), "CALL `%s%s%s`", st->routine_db,
             st->routine_db[0] ? "." : "", st->routine);
    if (st->deferred)
        return refuse(SQL_REFUSE_NO_KEY, msg, msglen,
                      "SQL-level PREPARE of %s: it would run later, unchecked; send "
                      "the CALL itself with a /* sharding_key=N */ hint", what);
    if (st->hint_conflict)
        return refuse(SQL_REFUSE_KEY_MISMATCH, msg, msglen,
                      "%s: the sharding_key hints disagree or are not numbers", what);
    if (!st->has_hint)
        return refuse(SQL_REFUSE_NO_KEY, msg, msglen,
                      "%s needs a /* sharding_key=N */ hint naming the buyer whose rows "
                      "the procedure writes (mysql CLI: start it with --comments); the "
                      "proxy cannot see what a procedure writes", what);
    if (r == NULL)
        return refuse(SQL_REFUSE_NO_RULES, msg, msglen,
                      "this proxy (unit %s) has no rules yet: unit-table writes "
                      "are refused until the control center pushes them", this_unit);
    return decide_keys(st, r, this_unit, what, msg, msglen);
}

enum sql_reason sql_decide_session(const struct sql_stmt *st, char *msg, size_t msglen)
{
    switch (st->unsafe) {
    case SQL_UNSAFE_CHARSET:
        return refuse(SQL_REFUSE_CHARSET, msg, msglen,
                      "client character set %s refused: %s", st->unsafe_value,
                      st->unsafe_why ? st->unsafe_why : "");
    case SQL_UNSAFE_SQL_MODE:
        return refuse(SQL_REFUSE_SQL_MODE, msg, msglen, "sql_mode %s refused: %s",
                      st->unsafe_value, st->unsafe_why ? st->unsafe_why : "");
    case SQL_UNSAFE_NONE:
        break;
    }
    return SQL_ALLOW;
}

enum sql_reason sql_decide_charset(const char *cs_name, unsigned id, char *msg, size_t msglen)
{
    if (cs_name == NULL)
        return refuse(SQL_REFUSE_CHARSET, msg, msglen,
                      "collation id %u is not one the proxy knows, and the server's "
                      "default character set (which MariaDB would use) is not one it can "
                      "read; connect with utf8mb4", id);
    return refuse(SQL_REFUSE_CHARSET, msg, msglen,
                  "client character set %s (collation id %u) refused: its two-byte "
                  "characters may end in a `\\` or `'` byte (as do big5, cp932, gbk and "
                  "sjis), so the proxy would read statements differently from the "
                  "server; connect with utf8mb4", cs_name, id);
}

enum sql_reason sql_decide(const struct sql_stmt *st, const struct rules *r,
                           const char *this_unit, bool is_center,
                           const struct sql_policy *pol, char *msg, size_t msglen)
{
    char what[SQL_NAME_MAX + 32];
    enum sql_reason why = sql_decide_session(st, msg, msglen);

    if (why != SQL_ALLOW)
        return why;

    if (st->verb == SQL_VERB_XA)
        return refuse(SQL_REFUSE_UNSUPPORTED, msg, msglen,
                      "XA transactions are not relayed: a prepared XA transaction "
                      "outlives its connection, so a write ban could not roll it back");
    if (!st->is_write)
        return SQL_ALLOW;
    if (st->ddl)
        return pol && pol->allow_ddl ? SQL_ALLOW : decide_ddl(st, this_unit, msg, msglen);
    if (st->call)
        return decide_call(st, r, this_unit, pol, msg, msglen);
    if (st->center_table && !is_center)
        return refuse(SQL_REFUSE_CENTER, msg, msglen,
                      "write to center table `%s` refused: this unit (%s) is not "
                      "the center", st->table, this_unit);
    if (!st->unit_table)
        return SQL_ALLOW;
    if ((why = decide_upsert(st, pol, msg, msglen)) != SQL_ALLOW)
        return why;
    if (st->all_rows)
        return refuse(SQL_REFUSE_NO_KEY, msg, msglen,
                      "TRUNCATE of unit table `%s` is a write without a sharding key: "
                      "it removes every buyer's rows, of every unit; delete one "
                      "buyer's rows with DELETE ... WHERE %s = N",
                      st->table, st->column);
    if (st->deferred)
        return refuse(SQL_REFUSE_NO_KEY, msg, msglen,
                      "SQL-level PREPARE of a write to unit table `%s`: it would run "
                      "later, unchecked; use plain statements, EXECUTE IMMEDIATE or "
                      "the binary protocol's prepared statements", st->table);
    if (st->key_move_unknown)
        return refuse(SQL_REFUSE_NO_KEY, msg, msglen,
                      "write to unit table `%s` sets `%s` to an expression: the rows "
                      "would move to a buyer the proxy cannot check, and a hint only "
                      "vouches for the buyer written; assign a literal buyer",
                      st->table, st->column);
    if (st->hint_conflict)
        return refuse(SQL_REFUSE_KEY_MISMATCH, msg, msglen,
                      "write to unit table `%s`: the sharding_key hints disagree or "
                      "are not numbers", st->table);
    if (st->has_hint) {
        for (size_t i = 0; i < st->nkeys; i++)
            if (st->keys[i] != st->hint)
                return refuse(SQL_REFUSE_KEY_MISMATCH, msg, msglen,
                              "write to unit table `%s`: hint sharding_key=%llu "
                              "but the statement names buyer %llu", st->table,
                              (unsigned long long)st->hint,
                              (unsigned long long)st->keys[i]);
    } else if (st->key_unknown || st->nkeys == 0) {
        return refuse(SQL_REFUSE_NO_KEY, msg, msglen,
                      "write to unit table `%s` without a sharding key: name `%s` "
                      "with a literal value in every row / in the WHERE clause "
                      "(AND terms only), or add a /* sharding_key=N */ hint "
                      "(mysql CLI: start it with --comments)",
                      st->table, st->column);
    }
    if (r == NULL)
        return refuse(SQL_REFUSE_NO_RULES, msg, msglen,
                      "this proxy (unit %s) has no rules yet: unit-table writes "
                      "are refused until the control center pushes them", this_unit);
    snprintf(what, sizeof(what), "write to unit table `%s`", st->table);
    return decide_keys(st, r, this_unit, what, msg, msglen);
}
