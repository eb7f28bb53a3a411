/*
 * fuzz_sql.h: the tables the SQL fuzz targets classify against, and what
 * they compare when two classifications must agree (the same text twice,
 * or a re-spelled statement): every field sql_decide reads. fold_case:
 * names compared without case (a re-spelling may change the case of
 * unquoted words).
 */
#ifndef UNITROUTE_FUZZ_SQL_H
#define UNITROUTE_FUZZ_SQL_H

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "proxy/sql_classify.h"

/* The tables both SQL targets classify against (as in test_sql_classify.c). */
static const struct sql_table_rule fuzz_table_rules[] = {
    { "", "orders", SQL_TABLE_UNIT, "buyer_id" },
    { "", "carts", SQL_TABLE_UNIT, "owner" },
    { "shop", "payments", SQL_TABLE_UNIT, "buyer_id" },
    { "", "sellers", SQL_TABLE_CENTER, "" },
    { "", "logs", SQL_TABLE_OTHER, "" },
};
static const struct sql_tables fuzz_tables = { fuzz_table_rules, 5 };

static inline bool fuzz_names_equal(const char *a, const char *b, bool fold_case)
{
    return fold_case ? strcasecmp(a, b) == 0 : strcmp(a, b) == 0;
}

static inline bool fuzz_stmt_same(const struct sql_stmt *a, const struct sql_stmt *b,
                                  bool fold_case)
{
    return a->verb == b->verb && a->is_write == b->is_write &&
           a->unit_table == b->unit_table && a->center_table == b->center_table &&
           strcmp(a->table, b->table) == 0 && strcmp(a->column, b->column) == 0 &&
           fuzz_names_equal(a->use_db, b->use_db, fold_case) && a->has_hint == b->has_hint &&
           a->hint == b->hint && a->hint_conflict == b->hint_conflict &&
           a->all_rows == b->all_rows && a->ddl == b->ddl && a->call == b->call &&
           fuzz_names_equal(a->routine, b->routine, fold_case) &&
           fuzz_names_equal(a->routine_db, b->routine_db, fold_case) &&
           a->upsert == b->upsert && a->upsert_move_unknown == b->upsert_move_unknown &&
           a->key_move_unknown == b->key_move_unknown && a->unsafe == b->unsafe &&
           a->sets_charset == b->sets_charset && a->charset == b->charset &&
           a->nkeys == b->nkeys && memcmp(a->keys, b->keys, a->nkeys * sizeof(*a->keys)) == 0 &&
           a->key_unknown == b->key_unknown && a->nkey_params == b->nkey_params &&
           memcmp(a->key_params, b->key_params, a->nkey_params * sizeof(*a->key_params)) == 0 &&
           a->nparams == b->nparams && a->deferred == b->deferred;
}

#endif
