/*
 * sql_classify: what a statement does to which configured table, and with
 * which sharding keys. Whether this unit may run it is sql_decide.h's.
 *
 *   SQL text --sql_classify()--> struct sql_stmt (verb, write?, tables,
 *                                  keys, key placeholders, hint)
 *
 * Writes: INSERT, REPLACE, UPDATE, DELETE, LOAD DATA, and any statement with
 * a locking clause (FOR UPDATE / FOR SHARE / LOCK IN SHARE MODE) at any
 * depth: it writes every table of every FROM / JOIN list. Keys come from a
 * `sharding_key=N` hint comment or from the simple forms: INSERT/REPLACE
 * with a column list and VALUES rows (every row), INSERT ... SET,
 * UPDATE/DELETE with `col = N` or `col IN (...)` as a top-level AND term of
 * WHERE (an OR at the top level makes the WHERE unusable), and assignments
 * that move a row (UPDATE ... SET col = N, ON DUPLICATE KEY UPDATE col = N).
 * A locking SELECT's WHERE gives keys the same way, but only in the simple
 * form (one SELECT block, its own locking clause, unit tables only in its
 * own FROM); other locking forms get keys only from a hint, except that an
 * INSERT / REPLACE / UPDATE / DELETE keeps its own keys unless a unit table
 * is named inside parentheses, or named at all when the form itself writes
 * none. A `?` in a key position records the placeholder's index; the caller
 * supplies its value at execution (sql_stmt_add_key).
 *
 * Beyond row writes (sql_ddl.c): TRUNCATE writes every row of its table
 * (all_rows); ALTER / DROP / RENAME TABLE, CREATE TABLE ... SELECT / LIKE,
 * CREATE OR REPLACE TABLE, CREATE / DROP INDEX naming a unit or center
 * table, views, triggers, procedures, functions and events whose text names
 * one (or whose body runs dynamic SQL or a CALL), DROP TRIGGER (its table
 * is not named) and DROP DATABASE that may hold one are ddl; CALL writes
 * whatever the procedure writes (call: keys only from a hint).
 *
 * Upserts (sql_keys.c): REPLACE and INSERT ... ON DUPLICATE KEY UPDATE into
 * a unit table set upsert (and upsert_table): the row they hit is found by
 * any unique key; sql_decide refuses them unless the policy lists the table.
 *
 * An executable comment the server may skip (a version not sure to run, see
 * sql_lexer.h) makes any statement a unit-table write without a known key.
 *
 * The module never logs and never allocates except to hold more than
 * SQL_KEYS_INLINE keys (sql_stmt_deinit frees).
 */
#ifndef UR_SQL_CLASSIFY_H
#define UR_SQL_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/sql_lexer.h"
#include "router/rules.h"

#define SQL_NAME_MAX       65      /* identifiers: 64 characters + NUL */
#define SQL_KEYS_INLINE    16
#define SQL_KEY_PARAMS_MAX 16
#define SQL_TABLE_REFS_MAX 8

enum sql_table_class {
    SQL_TABLE_OTHER,
    SQL_TABLE_UNIT,
    SQL_TABLE_CENTER,
};

/* One configured table: "name" (any schema) or "schema.name". */
struct sql_table_rule {
    char schema[SQL_NAME_MAX];  /* "" = any schema */
    char name[SQL_NAME_MAX];
    enum sql_table_class cls;
    char column[SQL_NAME_MAX];  /* unit tables: the sharding column */
};

struct sql_tables {
    const struct sql_table_rule *v;
    size_t n;
};

enum sql_verb {
    SQL_VERB_OTHER,
    SQL_VERB_SELECT,
    SQL_VERB_INSERT,
    SQL_VERB_REPLACE,
    SQL_VERB_UPDATE,
    SQL_VERB_DELETE,
    SQL_VERB_LOAD_DATA,
    SQL_VERB_USE,
    SQL_VERB_BEGIN,
    SQL_VERB_COMMIT,
    SQL_VERB_ROLLBACK,      /* a whole rollback, not ROLLBACK TO SAVEPOINT */
    SQL_VERB_EMPTY,         /* only comments or nothing */
    SQL_VERB_XA,            /* XA transactions: refused (see sql_decide) */
    SQL_VERB_TRUNCATE,
    SQL_VERB_DDL,           /* a schema change that touches a classified table */
    SQL_VERB_CALL,
};

/* A SET the proxy refuses: the session would be read differently after it. */
enum sql_unsafe {
    SQL_UNSAFE_NONE,
    SQL_UNSAFE_CHARSET,         /* client character set unsafe, unknown or not a literal */
    SQL_UNSAFE_SQL_MODE,        /* sql_mode with ANSI_QUOTES, or not a literal */
};

struct sql_charset;

struct sql_stmt {
    enum sql_verb verb;
    bool     is_write;          /* a write statement (see the top) */
    bool     unit_table;        /* writes a unit table */
    bool     center_table;      /* writes a center table */
    char     table[SQL_NAME_MAX];   /* the unit (else center) table, for messages */
    char     column[SQL_NAME_MAX];  /* its sharding column */
    char     use_db[SQL_NAME_MAX];  /* SQL_VERB_USE: the schema */
    bool     has_hint;
    uint64_t hint;
    bool     hint_conflict;     /* hints name different keys, or a bad hint */
    bool     sets_charset;      /* SET NAMES / CHARACTER SET / character_set_client */
    const struct sql_charset *charset; /* sets_charset: the new one (NULL: DEFAULT) */
    enum sql_unsafe unsafe;     /* refused whatever it writes (sql_set.c) */
    char     unsafe_value[SQL_NAME_MAX]; /* unsafe: the value as written (cut) */
    const char *unsafe_why;     /* unsafe: why (static text) */
    /* fields above keys are cleared by one memset on reset */
    bool     all_rows;          /* TRUNCATE: writes every buyer's rows */
    bool     ddl;               /* changes or removes a classified table */
    const char *ddl_what;       /* ddl: "ALTER TABLE", ... (static text) */
    bool     call;              /* CALL: writes what the procedure writes */
    char     routine[SQL_NAME_MAX];    /* CALL: the procedure; DROP TRIGGER: the trigger */
    char     routine_db[SQL_NAME_MAX]; /* CALL: its schema (given or current, "" = none) */
    bool     upsert;            /* REPLACE / INSERT ... ON DUPLICATE KEY UPDATE
                                 * into a unit table (sql_keys.c) */
    const struct sql_table_rule *upsert_table; /* upsert: the unit table's rule */
    bool     upsert_move_unknown; /* upsert: ON DUPLICATE KEY UPDATE sets the
                                 * sharding column to a non-literal */
    bool     key_move_unknown;  /* SET of the sharding column to a non-literal:
                                 * rows move to a buyer no hint vouches for */
    uint64_t *keys;             /* keys found in the statement text */
    size_t   nkeys;
    size_t   keys_cap;
    uint64_t keys_inline[SQL_KEYS_INLINE];
    bool     key_unknown;       /* some row/condition has no literal key */
    uint16_t key_params[SQL_KEY_PARAMS_MAX]; /* placeholders holding keys */
    size_t   nkey_params;
    uint16_t nparams;           /* placeholders in the statement */
    bool     malformed;         /* unterminated quote or comment */
    bool     deferred;          /* SQL PREPARE: the write runs later */
};

void sql_stmt_init(struct sql_stmt *st);
void sql_stmt_deinit(struct sql_stmt *st);

/* Deep copy (dst is initialized here; deinit it). Returns 0 or -1 (ENOMEM). */
int sql_stmt_copy(struct sql_stmt *dst, const struct sql_stmt *src);

/* Add a key (a placeholder's value at execution). Returns 0 or -1 (ENOMEM). */
int sql_stmt_add_key(struct sql_stmt *st, uint64_t key);

/*
 * Classify the first statement of sql[0..len) (up to a top-level `;`).
 * cur_db is the session's current schema ("" if none); it resolves
 * unqualified table names. *consumed gets the bytes used, including the `;`,
 * so a caller walks a multi-statement text. st must be initialized; it is
 * reset first. Returns 0, or -1 if more keys than memory allows.
 */
int sql_classify(const char *sql, size_t len, const struct sql_tables *tables,
                 const char *cur_db, struct sql_stmt *st, size_t *consumed);

/* sql_classify under a session's reading of the text (SQL_MODE_* flags and
 * the server's version, sql_lexer.h). */
int sql_classify_mode(const char *sql, size_t len, unsigned mode,
                      const struct sql_tables *tables, const char *cur_db,
                      struct sql_stmt *st, size_t *consumed);

#endif
