/*
 * test_sql_decide: the decisions on statements the proxy cannot bound by
 * key: TRUNCATE (7401 / 7404), schema changes of classified tables (7412,
 * allow_ddl) and CALL (a hint checked like a unit write's key, or
 * procedures_pass), directly and inside multi-statements, EXECUTE
 * IMMEDIATE and SQL PREPARE; upserts (7415, upsert_tables); views and
 * stored programs over classified tables (7412).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/sql_classify.h"
#include "proxy/sql_decide.h"
#include "router/rules.h"

static const struct sql_table_rule table_rules[] = {
    { "", "orders", SQL_TABLE_UNIT, "buyer_id" },
    { "shop", "payments", SQL_TABLE_UNIT, "buyer_id" },
    { "", "sellers", SQL_TABLE_CENTER, "" },
};
static const struct sql_tables tables = { table_rules, 3 };
static const char *const units[] = { "dc-a", "dc-b" };

/* buckets 0-49 dc-a, 50-99 dc-b, 10-19 banned */
static struct rules *load_rules(void)
{
    static const char text[] =
        "version = 7L; buckets = 100;\n"
        "ranges = ( { first = 0; last = 49; unit = \"dc-a\"; },\n"
        "           { first = 50; last = 99; unit = \"dc-b\"; } );\n"
        "overrides = ( );\nbans = ( { first = 10; last = 19; } );\n";
    char err[256];
    struct rules *r = rules_parse(text, strlen(text), units, 2, err, sizeof(err));

    if (r == NULL)
        fail_msg("rules: %s", err);
    return r;
}

/*
 * Every statement of sql (a multi-statement text walked like the proxy
 * does) decided in unit dc-a (not the center unless center) with schema
 * db; the first refusal, or SQL_ALLOW.
 */
static enum sql_reason decide_in(const char *sql, const struct rules *r, bool center,
                                 const char *db, const struct sql_policy *pol, char *msg)
{
    struct sql_stmt st;
    size_t off = 0, used, len = strlen(sql);
    enum sql_reason why = SQL_ALLOW;

    msg[0] = '\0';
    sql_stmt_init(&st);
    while (off < len && why == SQL_ALLOW) {
        assert_int_equal(sql_classify(sql + off, len - off, &tables, db, &st, &used), 0);
        why = sql_decide(&st, r, "dc-a", center, pol, msg, 512);
        off += used ? used : len - off;
    }
    sql_stmt_deinit(&st);
    return why;
}

static enum sql_reason decide(const char *sql, const struct rules *r,
                              const struct sql_policy *pol, char *msg)
{
    return decide_in(sql, r, true, "unitroute", pol, msg);
}

static void test_ddl_code(void **state)
{
    const struct sql_reason_info *info = sql_reason_info(SQL_REFUSE_DDL);

    (void)state;
    assert_int_equal(info->code, 7412);
    assert_string_equal(info->sqlstate, "UR012");
    assert_string_equal(info->name, "ddl");
    assert_false(info->retry);
}

static void test_ddl(void **state)
{
    static const char *const refused[] = {
        "ALTER TABLE orders ADD COLUMN x INT",
        "ALTER TABLE `shop`.`payments` ENGINE = InnoDB",
        "DROP TABLE IF EXISTS orders",
        "RENAME TABLE orders TO orders_old",
        "ALTER TABLE logs RENAME TO orders",
        "CREATE TABLE orders LIKE logs",
        "CREATE TABLE sellers SELECT * FROM logs",
        "CREATE OR REPLACE TABLE orders (id INT)",
        "CREATE TRIGGER t1 BEFORE UPDATE ON orders FOR EACH ROW SET NEW.n = 1",
        "DROP INDEX i ON sellers",
        "SELECT 1; ALTER TABLE orders ADD x INT",
        "EXECUTE IMMEDIATE 'DROP TABLE orders'",
        "PREPARE s FROM 'ALTER TABLE orders ADD x INT'",
    };
    static const char *const passed[] = {
        "ALTER TABLE logs ADD COLUMN x INT",
        "DROP TABLE logs",
        "CREATE TABLE orders (id INT)",         /* a new table changes no existing one */
        "CREATE TABLE logs2 LIKE orders",
        "ALTER TABLE other.payments ADD x INT",
        "RENAME TABLE logs TO logs_old",
    };
    struct rules *r = load_rules();
    struct sql_policy pol = { .allow_ddl = true };
    char msg[512];

    (void)state;
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        if (decide(refused[i], r, NULL, msg) != SQL_REFUSE_DDL)
            fail_msg("[%s] not refused as ddl: %s", refused[i], msg);
        assert_non_null(strstr(msg, "unitproxy ddl: "));
        assert_non_null(strstr(msg, "operators' DDL path, not through unitproxy"));
        assert_int_equal(decide(refused[i], r, &pol, msg), SQL_ALLOW);
        assert_int_equal(decide(refused[i], NULL, &pol, msg), SQL_ALLOW);
    }
    for (size_t i = 0; i < sizeof(passed) / sizeof(passed[0]); i++)
        if (decide(passed[i], r, NULL, msg) != SQL_ALLOW)
            fail_msg("[%s] refused: %s", passed[i], msg);
    assert_int_equal(decide("ALTER TABLE orders ADD COLUMN x INT", r, NULL, msg), SQL_REFUSE_DDL);
    assert_non_null(strstr(msg, "ALTER TABLE on classified table `orders`"));
    assert_int_equal(decide("ALTER TABLE orders ADD x INT", NULL, NULL, msg), SQL_REFUSE_DDL);
    assert_int_equal(decide("DROP TRIGGER audit_trg", r, NULL, msg), SQL_REFUSE_DDL);
    assert_non_null(strstr(msg, "DROP TRIGGER `audit_trg`"));
    assert_non_null(strstr(msg, "does not name the trigger's table"));
    assert_int_equal(decide("DROP TRIGGER audit_trg", r, &pol, msg), SQL_ALLOW);
    rules_destroy(r);
}

static void test_truncate(void **state)
{
    struct rules *r = load_rules();
    struct sql_policy pol = { .allow_ddl = true };
    char msg[512];

    (void)state;
    assert_int_equal(decide("TRUNCATE orders", r, NULL, msg), SQL_REFUSE_NO_KEY);
    assert_non_null(strstr(msg, "TRUNCATE of unit table `orders`"));
    assert_non_null(strstr(msg, "every buyer's rows"));
    /* a hint cannot bound it, and allow_ddl is not about rows */
    assert_int_equal(decide("/* sharding_key=5 */ TRUNCATE TABLE orders", r, NULL, msg),
                     SQL_REFUSE_NO_KEY);
    assert_int_equal(decide("TRUNCATE TABLE shop.payments", r, &pol, msg), SQL_REFUSE_NO_KEY);
    assert_int_equal(decide_in("TRUNCATE TABLE shop.payments", r, true, "", NULL, msg),
                     SQL_REFUSE_NO_KEY);
    assert_int_equal(decide_in("TRUNCATE payments", r, true, "shop", NULL, msg),
                     SQL_REFUSE_NO_KEY);
    assert_int_equal(decide_in("TRUNCATE payments", r, true, "unitroute", NULL, msg), SQL_ALLOW);
    assert_int_equal(decide("EXECUTE IMMEDIATE 'TRUNCATE orders'", r, NULL, msg), SQL_REFUSE_NO_KEY);
    assert_int_equal(decide("SELECT 1; TRUNCATE orders", r, NULL, msg), SQL_REFUSE_NO_KEY);
    /* center tables: like other center writes */
    assert_int_equal(decide_in("TRUNCATE sellers", r, false, "", NULL, msg), SQL_REFUSE_CENTER);
    assert_non_null(strstr(msg, "`sellers`"));
    assert_int_equal(decide_in("TRUNCATE sellers", r, true, "", NULL, msg), SQL_ALLOW);
    assert_int_equal(decide("TRUNCATE logs", r, NULL, msg), SQL_ALLOW);
    assert_int_equal(decide("SELECT 'TRUNCATE orders'", r, NULL, msg), SQL_ALLOW);
    rules_destroy(r);
}

static void test_call(void **state)
{
    struct rules *r = load_rules();
    char msg[512];

    (void)state;
    assert_int_equal(decide("CALL add_order(5, 10)", r, NULL, msg), SQL_REFUSE_NO_KEY);
    assert_non_null(strstr(msg, "CALL `unitroute.add_order` needs a /* sharding_key=N */ hint"));
    assert_int_equal(decide("/* sharding_key=5 */ CALL add_order(5, 10)", r, NULL, msg), SQL_ALLOW);
    assert_int_equal(decide("CALL shop.add_order(?) /* sharding_key=5 */", r, NULL, msg), SQL_ALLOW);
    assert_int_equal(decide("/* sharding_key=55 */ CALL add_order(55, 10)", r, NULL, msg),
                     SQL_REFUSE_WRONG_UNIT);
    assert_non_null(strstr(msg, "CALL `unitroute.add_order` for buyer 55 (bucket 55)"));
    assert_non_null(strstr(msg, "home unit is dc-b, this proxy serves dc-a"));
    assert_int_equal(decide("/* sharding_key=15 */ CALL add_order()", r, NULL, msg),
                     SQL_REFUSE_BANNED);
    assert_non_null(strstr(msg, "bucket 15"));
    assert_int_equal(decide("/* sharding_key=5 */ /* sharding_key=6 */ CALL add_order()", r,
                            NULL, msg), SQL_REFUSE_KEY_MISMATCH);
    assert_int_equal(decide("/* sharding_key=5 */ CALL add_order()", NULL, NULL, msg),
                     SQL_REFUSE_NO_RULES);          /* COM_STMT_PREPARE decides so */
    assert_int_equal(decide("CALL add_order()", NULL, NULL, msg), SQL_REFUSE_NO_KEY);
    /* multi-statements, EXECUTE IMMEDIATE, SQL PREPARE */
    assert_int_equal(decide("/* sharding_key=5 */ CALL a(); CALL b()", r, NULL, msg),
                     SQL_REFUSE_NO_KEY);
    assert_non_null(strstr(msg, "CALL `unitroute.b`"));
    assert_int_equal(decide("CALL a() /* sharding_key=5 */; CALL b() /* sharding_key=6 */",
                            r, NULL, msg), SQL_ALLOW);
    assert_int_equal(decide("EXECUTE IMMEDIATE 'CALL add_order()'", r, NULL, msg),
                     SQL_REFUSE_NO_KEY);
    assert_int_equal(decide("EXECUTE IMMEDIATE '/* sharding_key=5 */ CALL add_order()'", r,
                            NULL, msg), SQL_ALLOW);
    assert_int_equal(decide("EXECUTE IMMEDIATE '/* sharding_key=55 */ CALL add_order()'", r,
                            NULL, msg), SQL_REFUSE_WRONG_UNIT);
    assert_int_equal(decide("/* sharding_key=5 */ PREPARE s FROM 'CALL add_order()'", r, NULL,
                            msg), SQL_REFUSE_NO_KEY);
    assert_non_null(strstr(msg, "PREPARE of CALL"));
    assert_int_equal(decide("SELECT 'CALL add_order()'", r, NULL, msg), SQL_ALLOW);
    rules_destroy(r);
}

static void test_procedures_pass(void **state)
{
    struct rules *r = load_rules();
    struct sql_policy pol = { .nprocs_pass = 2 };
    char msg[512];

    (void)state;
    snprintf(pol.procs_pass[0].name, SQL_NAME_MAX, "ping");
    snprintf(pol.procs_pass[1].schema, SQL_NAME_MAX, "shop");
    snprintf(pol.procs_pass[1].name, SQL_NAME_MAX, "audit");
    /* no schema: any schema */
    assert_int_equal(decide("CALL ping()", r, &pol, msg), SQL_ALLOW);
    assert_int_equal(decide("call PING", r, &pol, msg), SQL_ALLOW);
    assert_int_equal(decide("CALL `other`.`ping`()", r, &pol, msg), SQL_ALLOW);
    assert_int_equal(decide("CALL ping()", NULL, &pol, msg), SQL_ALLOW);
    assert_int_equal(decide("CALL pong()", r, &pol, msg), SQL_REFUSE_NO_KEY);
    /* with a schema: the given one or the current one must match */
    assert_int_equal(decide("CALL shop.audit(1)", r, &pol, msg), SQL_ALLOW);
    assert_int_equal(decide_in("CALL audit(1)", r, true, "shop", &pol, msg), SQL_ALLOW);
    assert_int_equal(decide("CALL audit(1)", r, &pol, msg), SQL_REFUSE_NO_KEY);
    assert_int_equal(decide_in("CALL audit(1)", r, true, "", &pol, msg), SQL_REFUSE_NO_KEY);
    assert_int_equal(decide("CALL other.audit(1)", r, &pol, msg), SQL_REFUSE_NO_KEY);
    /* inside other statements */
    assert_int_equal(decide("CALL ping(); CALL shop.audit()", r, &pol, msg), SQL_ALLOW);
    assert_int_equal(decide("CALL ping(); CALL pong()", r, &pol, msg), SQL_REFUSE_NO_KEY);
    assert_int_equal(decide("EXECUTE IMMEDIATE 'CALL ping()'", r, &pol, msg), SQL_ALLOW);
    assert_int_equal(decide("PREPARE s FROM 'CALL shop.audit()'", r, &pol, msg), SQL_ALLOW);
    /* the list is about procedures, not tables */
    assert_int_equal(decide("ALTER TABLE orders ADD x INT", r, &pol, msg), SQL_REFUSE_DDL);
    rules_destroy(r);
}

/*
 * On a latin1 connection MariaDB skips 0xA0 (no-break space) as whitespace:
 * a write spelt with it, or a `--` comment it starts, must be seen too
 * (found by fuzz_sql_metamorphic). Buyer 60 is homed in dc-b.
 */
static void test_latin1_nbsp(void **state)
{
    struct rules *r = load_rules();
    char msg[512];

    (void)state;
    assert_int_equal(decide("INSERT\xa0INTO\xa0orders (buyer_id) VALUES (60)", r, NULL, msg),
                     SQL_REFUSE_WRONG_UNIT);
    assert_int_equal(decide("SELECT 1 --\xa0'\n; INSERT INTO orders (buyer_id) VALUES (60) -- '",
                            r, NULL, msg), SQL_REFUSE_WRONG_UNIT);
    assert_int_equal(decide("UPDATE\xa0orders SET n = 1 WHERE buyer_id = 5", r, NULL, msg),
                     SQL_ALLOW);
    /* in UTF-8 text 0xA0 continues a character ("\xc3\xa0" is "a grave") */
    assert_int_equal(decide("UPDATE orders SET n\xc3\xa0 = 1 WHERE buyer_id = 5", r, NULL, msg),
                     SQL_ALLOW);
    assert_int_equal(decide("UPDATE orders SET n = 1 WHERE buyer_id\xc3\xa0 = 5", r, NULL, msg),
                     SQL_REFUSE_NO_KEY);
    rules_destroy(r);
}

/*
 * An executable comment MariaDB 10.11 skips (version above its own) hides
 * a quote from it: the INSERT after it runs. The proxy cannot know the
 * server's reading, so the statement is refused (found with the real server
 * while checking fuzz_sql_metamorphic's equivalences).
 */
static void test_skipped_version_comment(void **state)
{
    struct rules *r = load_rules();
    char msg[512];

    (void)state;
    assert_int_equal(decide("SELECT 1 /*!999999 ' */ ; INSERT INTO orders (buyer_id) "
                            "VALUES (60) -- '", r, NULL, msg), SQL_REFUSE_NO_KEY);
    assert_non_null(strstr(msg, "(versioned comment)"));
    assert_int_equal(decide("UPDATE orders SET n = 1 WHERE buyer_id = 5 AND "
                            "/*!999999 ' */ 1 OR 1 = 1 -- '", r, NULL, msg), SQL_REFUSE_NO_KEY);
    assert_int_equal(decide("/*!40101 SET NAMES utf8mb4 */; UPDATE orders SET n = 1 "
                            "WHERE buyer_id = 5", r, NULL, msg), SQL_ALLOW);
    assert_int_equal(decide("SELECT /*!80000 'x' */ 1", NULL, NULL, msg), SQL_REFUSE_NO_KEY);
    rules_destroy(r);
}

static void test_upsert_code(void **state)
{
    const struct sql_reason_info *info = sql_reason_info(SQL_REFUSE_UPSERT);

    (void)state;
    assert_int_equal(info->code, 7415);
    assert_string_equal(info->sqlstate, "UR015");
    assert_string_equal(info->name, "upsert");
    assert_false(info->retry);
}

/*
 * REPLACE / INSERT ... ON DUPLICATE KEY UPDATE into a unit table: the row
 * hit is found by any unique key (another buyer's id), so refused (7415)
 * unless the table is in upsert_tables; then an assignment of the sharding
 * column must name a key that passes like the statement's own.
 */
static void test_upsert(void **state)
{
    static const char *const refused[] = {
        "REPLACE INTO orders (id, buyer_id, amount) VALUES (101, 5, 1)",
        "replace orders (buyer_id) value (5)",
        "REPLACE INTO orders SET id = 101, buyer_id = 5",
        "REPLACE LOW_PRIORITY INTO shop.payments (id, buyer_id) VALUES (101, 5)",
        "/* sharding_key=5 */ REPLACE INTO orders SELECT 101, 5, 1",
        "INSERT INTO orders (id, buyer_id, amount) VALUES (103, 5, 1) ON DUPLICATE KEY UPDATE amount = -4",
        "INSERT INTO orders (id, buyer_id, amount) VALUES (103, 5, 1) ON DUPLICATE KEY UPDATE buyer_id = 5",
        "/* sharding_key=5 */ INSERT INTO orders (id, buyer_id) VALUES (101, 5) "
        "ON DUPLICATE KEY UPDATE amount = 1",
        "INSERT INTO orders SET id = 101, buyer_id = 5 ON DUPLICATE KEY UPDATE amount = 1",
        "INSERT INTO orders (buyer_id, n) VALUES (5, 1) AS new ON DUPLICATE KEY UPDATE n = new.n",
        "SELECT 1; INSERT INTO orders (id, buyer_id) VALUES (1, 5) ON DUPLICATE KEY UPDATE n = 2",
    };
    static const char *const passed[] = {
        "INSERT INTO orders (id, buyer_id, amount) VALUES (101, 5, 1)",
        "INSERT IGNORE INTO orders (id, buyer_id, amount) VALUES (101, 5, 1)",
        "INSERT INTO orders SET id = 101, buyer_id = 5",
        "REPLACE INTO logs (id, msg) VALUES (1, 'x')",
        "INSERT INTO logs (id) VALUES (1) ON DUPLICATE KEY UPDATE msg = 'y'",
        "INSERT INTO orders (id, buyer_id, note) VALUES (1, 5, 'ON DUPLICATE KEY UPDATE')",
        "UPDATE orders SET amount = 1 WHERE buyer_id = 5",
    };
    struct sql_policy pol = { .nupsert_tables = 2 };
    struct rules *r = load_rules();
    char msg[512];

    (void)state;
    snprintf(pol.upsert_tables[0].name, SQL_NAME_MAX, "orders");
    snprintf(pol.upsert_tables[1].schema, SQL_NAME_MAX, "shop");
    snprintf(pol.upsert_tables[1].name, SQL_NAME_MAX, "payments");
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        if (decide(refused[i], r, NULL, msg) != SQL_REFUSE_UPSERT)
            fail_msg("[%s] not refused as upsert: %s", refused[i], msg);
        assert_non_null(strstr(msg, "unitproxy upsert: "));
        assert_non_null(strstr(msg, "upsert = true"));
    }
    for (size_t i = 0; i < sizeof(passed) / sizeof(passed[0]); i++)
        if (decide(passed[i], r, NULL, msg) != SQL_ALLOW)
            fail_msg("[%s] refused: %s", passed[i], msg);
    assert_int_equal(decide(refused[0], r, NULL, msg), SQL_REFUSE_UPSERT);
    assert_non_null(strstr(msg, "into unit table `orders` refused"));
    assert_non_null(strstr(msg, "PRIMARY KEY (buyer_id, id)"));

    /* with upsert = true */
    for (size_t i = 0; i < 11; i++) {
        if (i == 4)         /* REPLACE ... SELECT: its table is not followed */
            continue;
        if (decide(refused[i], r, &pol, msg) != SQL_ALLOW)
            fail_msg("[%s] refused under upsert = true: %s", refused[i], msg);
    }
    assert_int_equal(decide(refused[4], r, &pol, msg), SQL_REFUSE_UPSERT);
    assert_int_equal(decide("INSERT INTO orders (id, buyer_id) VALUES (101, 5) "
                            "ON DUPLICATE KEY UPDATE buyer_id = 50", r, &pol, msg),
                     SQL_REFUSE_KEYS_SPAN);
    assert_int_equal(decide("INSERT INTO orders (id, buyer_id) VALUES (101, 5) "
                            "ON DUPLICATE KEY UPDATE buyer_id = 15", r, &pol, msg),
                     SQL_REFUSE_BANNED);
    assert_int_equal(decide("INSERT INTO orders (id, buyer_id) VALUES (101, 5) "
                            "ON DUPLICATE KEY UPDATE buyer_id = VALUES(buyer_id), n = 1",
                            r, &pol, msg), SQL_ALLOW);
    assert_int_equal(decide("INSERT INTO orders (id, buyer_id) VALUES (101, 5) "
                            "ON DUPLICATE KEY UPDATE buyer_id = 6", r, &pol, msg), SQL_ALLOW);
    assert_int_equal(decide("INSERT INTO orders (id, buyer_id) VALUES (101, 5) "
                            "ON DUPLICATE KEY UPDATE buyer_id = buyer_id + 45", r, &pol, msg),
                     SQL_REFUSE_UPSERT);
    assert_non_null(strstr(msg, "not a literal buyer"));
    assert_int_equal(decide("/* sharding_key=5 */ INSERT INTO orders (id, buyer_id) VALUES "
                            "(101, 5) ON DUPLICATE KEY UPDATE buyer_id = amount", r, &pol, msg),
                     SQL_REFUSE_UPSERT);
    assert_int_equal(decide("/* sharding_key=5 */ INSERT INTO orders (id, buyer_id) VALUES "
                            "(101, 5) ON DUPLICATE KEY UPDATE buyer_id = 50", r, &pol, msg),
                     SQL_REFUSE_KEY_MISMATCH);
    assert_int_equal(decide("INSERT INTO orders SET id = 101, buyer_id = 5 "
                            "ON DUPLICATE KEY UPDATE buyer_id = 50", r, &pol, msg),
                     SQL_REFUSE_KEYS_SPAN);
    assert_int_equal(decide("INSERT INTO orders SET buyer_id = 5 "
                            "ON DUPLICATE KEY UPDATE n = 1, orders.buyer_id = n", r, &pol, msg),
                     SQL_REFUSE_UPSERT);
    assert_int_equal(decide("INSERT INTO orders (buyer_id, n) VALUES (5, 1) AS new (b, m) "
                            "ON DUPLICATE KEY UPDATE n = m", r, &pol, msg), SQL_REFUSE_UPSERT);
    /* a placeholder is a key given at execution (checked then), not a move to an unknown buyer */
    assert_int_equal(decide("INSERT INTO orders (id, buyer_id) VALUES (1, 5) "
                            "ON DUPLICATE KEY UPDATE buyer_id = ?", r, &pol, msg), SQL_ALLOW);
    pol.nupsert_tables = 1;     /* orders only; shop.payments is not listed */
    assert_int_equal(decide(refused[3], r, &pol, msg), SQL_REFUSE_UPSERT);
    snprintf(pol.upsert_tables[0].schema, SQL_NAME_MAX, "other");
    assert_int_equal(decide(refused[0], r, &pol, msg), SQL_REFUSE_UPSERT);

    /* a center table: outside the center a center write, in it allowed */
    assert_int_equal(decide_in("REPLACE INTO sellers (id, name) VALUES (1, 'x')", r, false,
                               "unitroute", NULL, msg), SQL_REFUSE_CENTER);
    assert_int_equal(decide_in("INSERT INTO sellers (id) VALUES (1) ON DUPLICATE KEY UPDATE "
                               "name = 'y'", r, false, "unitroute", NULL, msg), SQL_REFUSE_CENTER);
    assert_int_equal(decide("REPLACE INTO sellers (id, name) VALUES (1, 'x')", r, NULL, msg),
                     SQL_ALLOW);
    rules_destroy(r);
}

/*
 * Writes that move rows to a buyer the proxy cannot read, or hide an upsert
 * where the keys are not read: refused whatever hint they carry.
 */
static void test_hidden_moves(void **state)
{
    struct sql_policy pol = { .nupsert_tables = 1 };
    struct rules *r = load_rules();
    char msg[512];

    (void)state;
    snprintf(pol.upsert_tables[0].name, SQL_NAME_MAX, "orders");
    /* UPDATE ... SET key = expression moves buyer 5's rows to buyer 50 */
    assert_int_equal(decide("/* sharding_key=5 */ UPDATE orders SET buyer_id = buyer_id + 45 "
                            "WHERE buyer_id = 5", r, NULL, msg), SQL_REFUSE_NO_KEY);
    assert_non_null(strstr(msg, "sets `buyer_id` to an expression"));
    assert_int_equal(decide("/* sharding_key=5 */ UPDATE orders SET amount = 1, buyer_id = @b "
                            "WHERE id = 3", r, NULL, msg), SQL_REFUSE_NO_KEY);
    assert_int_equal(decide("UPDATE orders SET buyer_id = 6 WHERE buyer_id = 5", r, NULL, msg),
                     SQL_ALLOW);
    assert_int_equal(decide("UPDATE orders SET buyer_id = buyer_id, amount = 2 WHERE buyer_id = 5",
                            r, NULL, msg), SQL_ALLOW);
    /* INSERT ... SELECT ... ON DUPLICATE KEY UPDATE: the assignments are not read */
    assert_int_equal(decide("/* sharding_key=5 */ INSERT INTO orders (id, buyer_id) SELECT 101, 5 "
                            "ON DUPLICATE KEY UPDATE amount = -4", r, NULL, msg),
                     SQL_REFUSE_UPSERT);
    assert_int_equal(decide("/* sharding_key=5 */ INSERT INTO orders (id, buyer_id) SELECT 101, 5 "
                            "ON DUPLICATE KEY UPDATE amount = -4", r, &pol, msg),
                     SQL_REFUSE_UPSERT);
    assert_int_equal(decide("/* sharding_key=5 */ INSERT INTO orders SELECT * FROM logs "
                            "ON DUPLICATE KEY UPDATE amount = -4", r, NULL, msg),
                     SQL_REFUSE_UPSERT);
    /* dynamic SQL carries the upsert outward */
    assert_int_equal(decide("EXECUTE IMMEDIATE 'REPLACE INTO orders (id, buyer_id, amount) "
                            "VALUES (101, 5, 1)'", r, NULL, msg), SQL_REFUSE_UPSERT);
    assert_int_equal(decide("EXECUTE IMMEDIATE 'INSERT INTO orders (id, buyer_id) VALUES (103, 5) "
                            "ON DUPLICATE KEY UPDATE amount = -4'", r, NULL, msg),
                     SQL_REFUSE_UPSERT);
    assert_int_equal(decide("EXECUTE IMMEDIATE 'INSERT INTO orders (id, buyer_id) VALUES (103, 5)'",
                            r, NULL, msg), SQL_ALLOW);
    /* an alias hides the table's name: `orders.buyer_id` is a column of logs here */
    assert_int_equal(decide("UPDATE logs AS orders, orders AS l SET l.amount = 14 "
                            "WHERE l.id = 166 AND orders.buyer_id = 5", r, NULL, msg),
                     SQL_REFUSE_NO_KEY);
    assert_int_equal(decide("UPDATE logs AS orders, orders AS l SET l.amount = 14 "
                            "WHERE l.id = 166 AND l.buyer_id = 5", r, NULL, msg), SQL_ALLOW);
    assert_int_equal(decide("DELETE o FROM orders AS o WHERE orders.buyer_id = 5", r, NULL, msg),
                     SQL_REFUSE_NO_KEY);
    /* `.orders` is the current schema's orders (MariaDB's ODBC form) */
    assert_int_equal(decide("REPLACE /* INTO shop/**/.orders (buyer_id, id) VALUES (65, 384)",
                            r, NULL, msg), SQL_REFUSE_UPSERT);
    assert_int_equal(decide("INSERT INTO .orders (buyer_id) VALUES (60)", r, NULL, msg),
                     SQL_REFUSE_WRONG_UNIT);
    assert_int_equal(decide("UPDATE .orders SET amount = 1 WHERE buyer_id = 60", r, NULL, msg),
                     SQL_REFUSE_WRONG_UNIT);
    assert_int_equal(decide("DELETE FROM .orders WHERE buyer_id = 60", r, NULL, msg),
                     SQL_REFUSE_WRONG_UNIT);
    assert_int_equal(decide("TRUNCATE .orders", r, NULL, msg), SQL_REFUSE_NO_KEY);
    assert_int_equal(decide("INSERT INTO .orders (buyer_id) VALUES (6)", r, NULL, msg), SQL_ALLOW);
    rules_destroy(r);
}

/*
 * Views and stored programs naming a classified table (anywhere: the ON
 * table, the body, qualified or not): ddl (7412) unless allow_ddl.
 */
static void test_views_and_programs(void **state)
{
    static const char *const refused[] = {
        "CREATE VIEW v_orders AS SELECT * FROM orders",
        "CREATE OR REPLACE ALGORITHM = MERGE DEFINER = `root`@`localhost` SQL SECURITY "
        "INVOKER VIEW v AS SELECT id FROM unitroute.orders WHERE amount > 0",
        "ALTER VIEW v AS SELECT * FROM `orders`",
        "ALTER ALGORITHM = TEMPTABLE VIEW v AS SELECT * FROM shop.payments",
        "CREATE VIEW v AS SELECT * FROM sellers",
        "CREATE TRIGGER trg AFTER INSERT ON logs FOR EACH ROW DELETE FROM orders "
        "WHERE buyer_id = 170",
        "CREATE DEFINER = CURRENT_USER TRIGGER trg BEFORE UPDATE ON orders FOR EACH ROW SET NEW.n = 1",
        "CREATE PROCEDURE p() BEGIN UPDATE orders SET amount = 0; END",
        "CREATE FUNCTION f() RETURNS INT BEGIN DELETE FROM orders; RETURN 1; END",
        "CREATE AGGREGATE FUNCTION f(x INT) RETURNS INT BEGIN INSERT INTO sellers VALUES (1); "
        "RETURN 1; END",
        "CREATE EVENT e ON SCHEDULE EVERY 1 HOUR DO DELETE FROM orders",
        "ALTER EVENT e DO TRUNCATE orders",
        "ALTER DEFINER = root EVENT e DO UPDATE orders SET amount = 1",
        "CREATE PROCEDURE p(q TEXT) BEGIN PREPARE s FROM q; EXECUTE s; END",
        "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO CALL cleanup()",
        "EXECUTE IMMEDIATE 'CREATE VIEW v AS SELECT * FROM orders'",
    };
    static const char *const passed[] = {
        "CREATE VIEW v_logs AS SELECT * FROM logs",
        "CREATE TRIGGER trg AFTER INSERT ON logs FOR EACH ROW INSERT INTO logs2 VALUES (1)",
        "CREATE PROCEDURE p() SELECT 'orders'",
        "CREATE EVENT e ON SCHEDULE EVERY 1 HOUR DO DELETE FROM logs",
        "ALTER EVENT e DISABLE",
        "ALTER VIEW v AS SELECT * FROM other.payments",
        "ALTER PROCEDURE p COMMENT 'x'",
    };
    struct sql_policy pol = { .allow_ddl = true };
    struct rules *r = load_rules();
    char msg[512];

    (void)state;
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        if (decide(refused[i], r, NULL, msg) != SQL_REFUSE_DDL)
            fail_msg("[%s] not refused as ddl: %s", refused[i], msg);
        assert_non_null(strstr(msg, "operators' DDL path, not through unitproxy"));
        assert_int_equal(decide(refused[i], r, &pol, msg), SQL_ALLOW);
    }
    for (size_t i = 0; i < sizeof(passed) / sizeof(passed[0]); i++)
        if (decide(passed[i], r, NULL, msg) != SQL_ALLOW)
            fail_msg("[%s] refused: %s", passed[i], msg);
    assert_int_equal(decide(refused[0], r, NULL, msg), SQL_REFUSE_DDL);
    assert_non_null(strstr(msg, "CREATE VIEW naming classified table `orders` refused"));
    assert_non_null(strstr(msg, "listed in tables"));
    assert_int_equal(decide(refused[5], r, NULL, msg), SQL_REFUSE_DDL);
    assert_non_null(strstr(msg, "CREATE TRIGGER naming classified table `orders`"));
    rules_destroy(r);
}

/*
 * A compound body (BEGIN ... END) is one statement for the server: its
 * `;`-ended statements are scanned as the program's body, and the
 * statements after its END are still checked on their own.
 */
static void test_compound_bodies(void **state)
{
    static const char *const refused[] = {
        "CREATE TRIGGER trg AFTER INSERT ON logs FOR EACH ROW BEGIN SET @x = 1; "
        "UPDATE orders SET amount = -7 WHERE buyer_id = 5; END",
        "CREATE PROCEDURE p() BEGIN DECLARE c INT DEFAULT 0; IF c = 0 THEN SELECT 1; "
        "ELSE DELETE FROM shop.payments WHERE buyer_id = 5; END IF; END",
        "CREATE EVENT e ON SCHEDULE EVERY 1 HOUR DO BEGIN SELECT CASE WHEN 1 THEN 2 END; "
        "lbl: LOOP LEAVE lbl; END LOOP lbl; UPDATE sellers SET n = 1; END",
        "CREATE FUNCTION f(x INT) RETURNS INT DETERMINISTIC BEGIN CASE x WHEN 1 THEN "
        "RETURN 1; ELSE BEGIN END; END CASE; RETURN (SELECT COUNT(*) FROM orders); END",
        "CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2",
    };
    struct rules *r = load_rules();
    char msg[512];

    (void)state;
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        if (decide(refused[i], r, NULL, msg) != SQL_REFUSE_DDL)
            fail_msg("[%s] not refused as ddl: %s", refused[i], msg);
    assert_int_equal(decide(refused[4], r, NULL, msg), SQL_REFUSE_DDL);
    assert_non_null(strstr(msg, "is not closed"));
    assert_int_equal(decide("CREATE PROCEDURE p() BEGIN INSERT INTO logs VALUES (1); SELECT CASE "
                            "WHEN 1 THEN 2 END; END; UPDATE orders SET n = 1 WHERE buyer_id = 5",
                            r, NULL, msg), SQL_ALLOW);
    assert_int_equal(decide("CREATE PROCEDURE p() BEGIN SELECT 1; END; UPDATE orders SET n = 1 "
                            "WHERE buyer_id = 50", r, NULL, msg), SQL_REFUSE_WRONG_UNIT);
    assert_int_equal(decide("CREATE PROCEDURE p() BEGIN SELECT 1; END; SET NAMES sjis",
                            r, NULL, msg), SQL_REFUSE_CHARSET);
    assert_int_equal(decide("CREATE PROCEDURE p() SELECT begin, end FROM logs; "
                            "UPDATE orders SET n = 1 WHERE buyer_id = 50", r, NULL, msg),
                     SQL_REFUSE_WRONG_UNIT);
    rules_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ddl_code),
        cmocka_unit_test(test_ddl),
        cmocka_unit_test(test_truncate),
        cmocka_unit_test(test_call),
        cmocka_unit_test(test_procedures_pass),
        cmocka_unit_test(test_latin1_nbsp),
        cmocka_unit_test(test_skipped_version_comment),
        cmocka_unit_test(test_upsert_code),
        cmocka_unit_test(test_upsert),
        cmocka_unit_test(test_views_and_programs),
        cmocka_unit_test(test_compound_bodies),
        cmocka_unit_test(test_hidden_moves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
