/*
 * fuzz_sql_classify.c: the proxy's statement classifier (proxy/sql_classify.h)
 * and its decision (proxy/sql_decide.h) on arbitrary text, walked statement
 * by statement as the proxy walks a COM_QUERY.
 *
 *   byte 0: bit 0 NO_BACKSLASH_ESCAPES, bit 1 current schema "shop",
 *           bit 2 this unit is the center, bit 3 character set known,
 *           bit 4 0xA0 is whitespace, bit 5 0xA0/0xFF unsure, bit 6 server
 *           version 10.11.19, bit 7 0xFF is whitespace; the rest is the SQL text
 *
 * Properties, per statement: classification is deterministic; the bytes
 * consumed are within the text and never zero while text is left; counts
 * stay within their arrays and placeholder indices below nparams; names are
 * terminated; a unit or center table is only ever noted on a write; a
 * unit-table row write carries a key, a key placeholder, a hint or
 * key_unknown; and sql_decide allows a unit-table row write only when the
 * hint or keys are known, agree, are all homed in this unit (dc-a) and none
 * is banned, and a center-table write only in the center. A refusal has a
 * known reason and a message.
 */
#include <stdbool.h>
#include <string.h>

#include "proxy/sql_classify.h"
#include "proxy/sql_decide.h"
#include "router/rules.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/fuzz_sql.h"

static const char *const units[] = { "dc-a", "dc-b" };

/* buckets 0-49 dc-a, 50-99 dc-b, 10-19 banned (made once) */
static const struct rules *fuzz_rules(void)
{
    static const char text[] =
        "version = 7L; buckets = 100;\n"
        "ranges = ( { first = 0; last = 49; unit = \"dc-a\"; },\n"
        "           { first = 50; last = 99; unit = \"dc-b\"; } );\n"
        "overrides = ( );\nbans = ( { first = 10; last = 19; } );\n";
    static struct rules *r;
    char err[256];

    if (r == NULL)
        r = rules_parse(text, strlen(text), units, 2, err, sizeof(err));
    FUZZ_CHECK(r != NULL);
    return r;
}

static bool terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}


/* What the header promises about any classification. */
static void check_stmt(const struct sql_stmt *st)
{
    FUZZ_CHECK(terminated(st->table, sizeof(st->table)));
    FUZZ_CHECK(terminated(st->column, sizeof(st->column)));
    FUZZ_CHECK(terminated(st->use_db, sizeof(st->use_db)));
    FUZZ_CHECK(terminated(st->routine, sizeof(st->routine)));
    FUZZ_CHECK(terminated(st->routine_db, sizeof(st->routine_db)));
    FUZZ_CHECK(st->nkeys <= st->keys_cap);
    FUZZ_CHECK(st->nkey_params <= SQL_KEY_PARAMS_MAX);
    for (size_t i = 0; i < st->nkey_params; i++)
        FUZZ_CHECK(st->key_params[i] < st->nparams);
    FUZZ_CHECK(!st->unit_table || st->is_write);
    FUZZ_CHECK(!st->center_table || st->is_write);
    FUZZ_CHECK(!st->ddl || st->ddl_what != NULL);
    if (st->is_write && st->unit_table)
        FUZZ_CHECK(st->nkeys > 0 || st->nkey_params > 0 || st->has_hint ||
                   st->key_unknown);
}

/* A row write of a unit table that sql_decide allowed: its keys are sound. */
static void check_allowed_unit_write(const struct sql_stmt *st, const struct rules *r)
{
    size_t n = st->nkeys + (st->has_hint ? 1 : 0);

    FUZZ_CHECK(n > 0);
    FUZZ_CHECK(!st->hint_conflict && !st->deferred && !st->all_rows);
    FUZZ_CHECK(st->has_hint || !st->key_unknown);
    for (size_t i = 0; i < n; i++) {
        uint64_t key = i < st->nkeys ? st->keys[i] : st->hint;
        FUZZ_CHECK(strcmp(rules_unit_name(r, rules_unit_for_buyer(r, key)), "dc-a") == 0);
        FUZZ_CHECK(!rules_is_write_banned(r, key));
        FUZZ_CHECK(!st->has_hint || key == st->hint);
    }
}

static void check_decision(const struct sql_stmt *st, bool center)
{
    const struct rules *r = fuzz_rules();
    char msg[512] = "";
    enum sql_reason why = sql_decide(st, r, "dc-a", center, NULL, msg, sizeof(msg));

    FUZZ_CHECK((unsigned)why < SQL_REASON_COUNT);
    FUZZ_CHECK(terminated(msg, sizeof(msg)));
    if (why != SQL_ALLOW) {
        FUZZ_CHECK(msg[0] != '\0');
        return;
    }
    FUZZ_CHECK(st->verb != SQL_VERB_XA);
    if (!st->is_write || st->ddl)
        return;
    if (st->center_table)
        FUZZ_CHECK(center);
    if (st->unit_table)
        check_allowed_unit_write(st, r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned flags = data[0];
    unsigned mode = (flags & 1) ? SQL_MODE_NO_BACKSLASH_ESCAPES : 0;
    /* bits 3-7: how the session reads text (character set, server version) */
    mode |= (flags & 8) ? SQL_MODE_CHARSET_KNOWN : 0;
    mode |= (flags & 16) ? SQL_MODE_SPACE_A0 : 0;
    mode |= (flags & 32) ? SQL_MODE_MAYBE_A0 | SQL_MODE_MAYBE_FF : 0;
    mode |= (flags & 64) ? SQL_MODE_VERSION(101119) : 0;
    mode |= (flags & 128) ? SQL_MODE_SPACE_FF : 0;
    const char *db = (flags & 2) ? "shop" : "";
    const char *sql = (const char *)data + 1;
    size_t len = size - 1, off = 0;
    struct sql_stmt st, again;

    sql_stmt_init(&st);
    sql_stmt_init(&again);
    while (off < len) {
        size_t used = 0, used2 = 0;
        if (sql_classify_mode(sql + off, len - off, mode, &fuzz_tables, db, &st, &used) != 0)
            break;                      /* out of memory: nothing to check */
        FUZZ_CHECK(used > 0 && used <= len - off);
        FUZZ_CHECK(sql_classify_mode(sql + off, len - off, mode, &fuzz_tables, db, &again,
                                     &used2) == 0);
        FUZZ_CHECK(used2 == used && fuzz_stmt_same(&st, &again, false) &&
                   st.malformed == again.malformed);
        check_stmt(&st);
        check_decision(&st, (flags & 4) != 0);
        off += used;
    }
    sql_stmt_deinit(&again);
    sql_stmt_deinit(&st);
    return 0;
}
