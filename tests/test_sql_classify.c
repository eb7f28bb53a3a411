/*
 * test_sql_classify: the statement classifier and key extraction over a table
 * of statements, and the allow/refuse decision against real rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/sql_charset.h"
#include "proxy/sql_classify.h"
#include "proxy/sql_decide.h"
#include "router/rules.h"

static const struct sql_table_rule table_rules[] = {
    { "", "orders", SQL_TABLE_UNIT, "buyer_id" },
    { "", "order_items", SQL_TABLE_UNIT, "buyer_id" },
    { "", "carts", SQL_TABLE_UNIT, "owner" },
    { "shop", "payments", SQL_TABLE_UNIT, "buyer_id" },
    { "", "sellers", SQL_TABLE_CENTER, "" },
};
static const struct sql_tables tables = { table_rules, 5 };

/* Expected outcome: W = write, U = unit table, C = center table,
 * D = a schema change of a classified table, T = every row (TRUNCATE). */
enum { R = 0, W = 1, U = 2, C = 4, UNK = 8, HINT = 16, D = 32, T = 64 };

struct row {
    const char *sql;
    int         flags;          /* W | U | C | UNK (key_unknown) | HINT | D | T */
    const char *keys;           /* "1,2" keys in order ("" none) */
    const char *params;         /* "0,3" key placeholder indices */
    int         verb;
};

static const struct row rows[] = {
    /* reads */
    { "SELECT * FROM orders WHERE buyer_id = 1", R, "", "", SQL_VERB_SELECT },
    { "select * from orders", R, "", "", SQL_VERB_SELECT },
    { "SELECT 1", R, "", "", SQL_VERB_SELECT },
    { "SHOW TABLES", R, "", "", SQL_VERB_OTHER },
    { "SET autocommit = 0", R, "", "", SQL_VERB_OTHER },
    { "  /* just a comment */  ", R, "", "", SQL_VERB_EMPTY },
    { "", R, "", "", SQL_VERB_EMPTY },
    { "SELECT 'INSERT INTO orders VALUES (1)' FROM dual", R, "", "", SQL_VERB_SELECT },
    { "SELECT * FROM orders INTO OUTFILE '/tmp/x'", R, "", "", SQL_VERB_SELECT },
    { "CREATE TABLE orders (buyer_id BIGINT)", R, "", "", SQL_VERB_OTHER },
    /* inserts */
    { "INSERT INTO orders (buyer_id, amount) VALUES (1001, 5)", W | U, "1001", "", SQL_VERB_INSERT },
    { "insert into orders(amount,buyer_id) values(5,1002)", W | U, "1002", "", SQL_VERB_INSERT },
    { "INSERT INTO `orders` (`buyer_id`, `note`) VALUES (1003, 'a,b)')", W | U, "1003", "", SQL_VERB_INSERT },
    { "INSERT INTO orders (buyer_id, n) VALUES (1, 'x'), (2, 'y'), (3, 'z')", W | U, "1,2,3", "", SQL_VERB_INSERT },
    { "INSERT INTO orders (buyer_id, n) VALUES (1, 'x'), (1, 'y')", W | U, "1", "", SQL_VERB_INSERT },
    { "INSERT INTO orders (buyer_id, n) VALUES (1, 'x'), (1 + 1, 'y')", W | U | UNK, "1", "", SQL_VERB_INSERT },
    { "INSERT INTO orders (buyer_id, n) VALUES ('77', 'q')", W | U, "77", "", SQL_VERB_INSERT },
    { "INSERT INTO orders (n, buyer_id) VALUES (NOW(), 9), (CONCAT('a', 'b'), 10)", W | U, "9,10", "", SQL_VERB_INSERT },
    { "INSERT INTO orders VALUES (1, 2)", W | U | UNK, "", "", SQL_VERB_INSERT },
    { "INSERT INTO orders (id) VALUES (1)", W | U | UNK, "", "", SQL_VERB_INSERT },
    { "INSERT INTO orders SET buyer_id = 55, amount = 1", W | U, "55", "", SQL_VERB_INSERT },
    { "INSERT INTO orders SET amount = 1", W | U | UNK, "", "", SQL_VERB_INSERT },
    { "INSERT INTO orders (buyer_id, n) SELECT buyer_id, n FROM old", W | U | UNK, "", "", SQL_VERB_INSERT },
    { "INSERT LOW_PRIORITY IGNORE INTO orders (buyer_id) VALUES (5)", W | U, "5", "", SQL_VERB_INSERT },
    { "INSERT INTO orders (buyer_id, n) VALUES (5, 1) ON DUPLICATE KEY UPDATE n = n + 1", W | U, "5", "", SQL_VERB_INSERT },
    { "INSERT INTO orders (buyer_id, n) VALUES (5, 1) ON DUPLICATE KEY UPDATE buyer_id = 6", W | U, "5,6", "", SQL_VERB_INSERT },
    { "INSERT INTO orders (buyer_id, n) VALUES (5, 1) ON DUPLICATE KEY UPDATE buyer_id = VALUES(buyer_id), n = VALUES(n)", W | U, "5", "", SQL_VERB_INSERT },
    { "INSERT INTO orders (buyer_id, n) VALUES (5, 1) ON DUPLICATE KEY UPDATE buyer_id = VALUES(buyer_id) + 1", W | U | UNK, "5", "", SQL_VERB_INSERT },
    { "UPDATE orders SET buyer_id = buyer_id, n = 2 WHERE buyer_id = 33", W | U, "33", "", SQL_VERB_UPDATE },
    { "INSERT INTO orders (buyer_id, n) VALUES (?, ?)", W | U, "", "0", SQL_VERB_INSERT },
    { "INSERT INTO orders (n, buyer_id) VALUES (?, ?), (?, ?)", W | U, "", "1,3", SQL_VERB_INSERT },
    { "INSERT INTO shop.payments (buyer_id) VALUES (8)", W | U, "8", "", SQL_VERB_INSERT },
    { "INSERT INTO other.payments (buyer_id) VALUES (8)", W, "", "", SQL_VERB_INSERT },
    { "INSERT INTO logs (msg) VALUES ('x')", W, "", "", SQL_VERB_INSERT },
    { "INSERT INTO sellers (id, name) VALUES (1, 'x')", W | C, "", "", SQL_VERB_INSERT },
    { "INSERT INTO carts (owner, item) VALUES (31, 2)", W | U, "31", "", SQL_VERB_INSERT },
    { "INSERT INTO carts (buyer_id, item) VALUES (31, 2)", W | U | UNK, "", "", SQL_VERB_INSERT },
    { "REPLACE INTO orders (buyer_id, n) VALUES (12, 1)", W | U, "12", "", SQL_VERB_REPLACE },
    { "replace orders (buyer_id) value (13)", W | U, "13", "", SQL_VERB_REPLACE },
    { "INSERT INTO orders (buyer_id) VALUES (-5)", W | U | UNK, "", "", SQL_VERB_INSERT },
    { "INSERT INTO orders (buyer_id) VALUES (NULL)", W | U | UNK, "", "", SQL_VERB_INSERT },
    /* comments, hints, case, whitespace */
    { "/* sharding_key=1001 */ INSERT INTO orders (n) VALUES (1)", W | U | UNK | HINT, "", "", SQL_VERB_INSERT },
    { "INSERT INTO orders (buyer_id) VALUES (1001) /*sharding_key = 1001*/", W | U | HINT, "1001", "", SQL_VERB_INSERT },
    { "INSERT INTO orders (buyer_id) VALUES (1001) /* sharding_key=2002 */", W | U | HINT, "1001", "", SQL_VERB_INSERT },
    { "-- a comment\nINSERT INTO orders (buyer_id) VALUES (4)", W | U, "4", "", SQL_VERB_INSERT },
    { "# hash comment\n\tINSERT\n INTO\torders\n(buyer_id)\nVALUES\n(6)", W | U, "6", "", SQL_VERB_INSERT },
    { "InSeRt InTo OrDeRs (BuYeR_Id) VaLuEs (7)", W | U, "7", "", SQL_VERB_INSERT },
    { "INSERT /* (buyer_id) VALUES (99) */ INTO orders (buyer_id) VALUES (8)", W | U, "8", "", SQL_VERB_INSERT },
    { "/*!40000 INSERT INTO orders (buyer_id) VALUES (9) */", W | U, "9", "", SQL_VERB_INSERT },
    { "INSERT INTO orders (buyer_id, s) VALUES (10, 'it''s \\' ; ) ?')", W | U, "10", "", SQL_VERB_INSERT },
    { "INSERT INTO orders (buyer_id, s) VALUES (11, \"dq ; ?\")", W | U, "11", "", SQL_VERB_INSERT },
    /* updates */
    { "UPDATE orders SET n = 1 WHERE buyer_id = 20", W | U, "20", "", SQL_VERB_UPDATE },
    { "update orders set n = 1 where id = 3 and buyer_id = 21", W | U, "21", "", SQL_VERB_UPDATE },
    { "UPDATE orders SET n = 1 WHERE buyer_id = 22 OR id = 3", W | U | UNK, "", "", SQL_VERB_UPDATE },
    { "UPDATE orders SET n = 1 WHERE (buyer_id = 22)", W | U | UNK, "", "", SQL_VERB_UPDATE },
    { "UPDATE orders SET n = 1 WHERE buyer_id = 23 AND (a = 1 OR b = 2)", W | U, "23", "", SQL_VERB_UPDATE },
    { "UPDATE orders SET n = 1", W | U | UNK, "", "", SQL_VERB_UPDATE },
    { "UPDATE orders SET n = 1 WHERE buyer_id IN (24, 25)", W | U, "24,25", "", SQL_VERB_UPDATE },
    { "UPDATE orders SET n = 1 WHERE buyer_id = ?", W | U, "", "0", SQL_VERB_UPDATE },
    { "UPDATE orders SET n = ? WHERE id = ? AND buyer_id = ?", W | U, "", "2", SQL_VERB_UPDATE },
    { "UPDATE orders o SET o.n = 1 WHERE o.buyer_id = 26", W | U, "26", "", SQL_VERB_UPDATE },
    { "UPDATE orders SET buyer_id = 28 WHERE buyer_id = 27", W | U, "28,27", "", SQL_VERB_UPDATE },
    { "UPDATE orders SET buyer_id = buyer_id + 1 WHERE buyer_id = 27", W | U | UNK, "27", "", SQL_VERB_UPDATE },
    { "UPDATE orders SET n = 1 WHERE buyer_id = 29 + 1", W | U | UNK, "", "", SQL_VERB_UPDATE },
    { "UPDATE orders SET n = 1 WHERE NOT buyer_id = 30", W | U | UNK, "", "", SQL_VERB_UPDATE },
    { "UPDATE orders JOIN x ON x.id = orders.id SET n = 1 WHERE orders.buyer_id = 31", W | U, "31", "", SQL_VERB_UPDATE },
    { "UPDATE sellers SET name = 'x' WHERE id = 1", W | C, "", "", SQL_VERB_UPDATE },
    { "UPDATE logs SET a = 1", W | UNK, "", "", SQL_VERB_UPDATE },
    /* deletes */
    { "DELETE FROM orders WHERE buyer_id = 40", W | U, "40", "", SQL_VERB_DELETE },
    { "DELETE FROM orders WHERE buyer_id = 40 LIMIT 10", W | U, "40", "", SQL_VERB_DELETE },
    { "delete from orders where buyer_id = 41 || 1", W | U | UNK, "", "", SQL_VERB_DELETE },
    { "DELETE FROM orders", W | U | UNK, "", "", SQL_VERB_DELETE },
    { "DELETE o FROM orders o JOIN x ON x.a = o.a WHERE o.buyer_id = 42", W | U, "42", "", SQL_VERB_DELETE },
    { "DELETE FROM orders WHERE buyer_id = '43'", W | U, "43", "", SQL_VERB_DELETE },
    /* DELETE FROM targets USING refs: targets resolve against the USING list */
    { "DELETE FROM o USING orders AS o WHERE o.buyer_id = 155", W | U, "155", "", SQL_VERB_DELETE },
    { "DELETE FROM o.* USING (carts AS o) WHERE o.owner = 156", W | U, "156", "", SQL_VERB_DELETE },
    { "DELETE FROM o, l USING orders AS o, logs AS l WHERE o.id = l.id AND l.buyer_id = 141", W | U | UNK, "", "", SQL_VERB_DELETE },
    { "DELETE FROM o USING orders o JOIN logs l USING (id) WHERE o.buyer_id = 7", W | U, "7", "", SQL_VERB_DELETE },
    { "DELETE QUICK FROM shop.payments.* USING shop.payments WHERE buyer_id = 9", W | U, "9", "", SQL_VERB_DELETE },
    { "DELETE FROM logs USING logs JOIN x USING (a)", W, "", "", SQL_VERB_DELETE },
    /* parenthesized table references at any nesting; derived tables only read */
    { "UPDATE (orders) SET amount = -3 WHERE buyer_id = 152", W | U, "152", "", SQL_VERB_UPDATE },
    { "UPDATE ((orders o)) SET o.amount = 1 WHERE o.buyer_id = 153", W | U, "153", "", SQL_VERB_UPDATE },
    { "UPDATE logs l JOIN (orders o) ON o.id = l.id SET o.amount = 1 WHERE l.buyer_id = 154", W | U | UNK, "", "", SQL_VERB_UPDATE },
    { "UPDATE (logs l, orders o) SET o.amount = 1 WHERE o.buyer_id = 157", W | U, "157", "", SQL_VERB_UPDATE },
    { "UPDATE (logs l JOIN (orders o, logs c) ON o.id = c.id) SET o.a = 1 WHERE o.buyer_id = 5 AND c.owner = 5", W | U, "5", "", SQL_VERB_UPDATE },
    /* a key term bounds one of two unit-table refs only */
    { "UPDATE orders a, orders b SET a.amount = -9 WHERE b.buyer_id = 5", W | U | UNK, "5", "", SQL_VERB_UPDATE },
    { "UPDATE orders o JOIN carts c ON o.id = c.id SET o.a = 1 WHERE o.buyer_id = 5 AND c.owner = 5", W | U | UNK, "5", "", SQL_VERB_UPDATE },
    { "DELETE a FROM orders a JOIN carts c ON a.id = c.id WHERE c.owner = 5", W | U | UNK, "5", "", SQL_VERB_DELETE },
    { "DELETE FROM a USING orders a, orders b WHERE b.buyer_id = 5", W | U | UNK, "5", "", SQL_VERB_DELETE },
    { "DELETE orders FROM orders WHERE buyer_id = 5", W | U, "5", "", SQL_VERB_DELETE },
    { "DELETE FROM orders.* USING orders WHERE buyer_id = 5", W | U, "5", "", SQL_VERB_DELETE },
    { "SELECT * FROM orders a, orders b WHERE b.buyer_id = 5 FOR UPDATE", W | U | UNK, "5", "", SQL_VERB_SELECT },
    { "UPDATE /* SHARDING_KEY=41 */ ((orders O)) SET O.amount = 1", W | U | UNK | HINT, "", "", SQL_VERB_UPDATE },
    { "UPDATE (sellers) SET name = 'x' WHERE id = 1", W | C, "", "", SQL_VERB_UPDATE },
    { "UPDATE (logs) SET a = 1 WHERE id = 1", W, "", "", SQL_VERB_UPDATE },
    { "UPDATE logs JOIN (SELECT * FROM orders) d ON d.id = logs.id SET logs.a = 1", W, "", "", SQL_VERB_UPDATE },
    { "UPDATE logs JOIN ((SELECT id FROM orders)) d ON d.id = logs.id SET logs.a = 1", W, "", "", SQL_VERB_UPDATE },
    { "UPDATE logs JOIN ((SELECT 1 AS id) UNION (SELECT 2)) d ON d.id = logs.id SET logs.a = 1", W | U | UNK, "", "", SQL_VERB_UPDATE },
    { "UPDATE (orders SET a = 1 WHERE buyer_id = 5", W | U | UNK, "", "", SQL_VERB_UPDATE },
    { "UPDATE (logs, (sellers SET a = 1", W | U | C | UNK, "", "", SQL_VERB_UPDATE },
    { "UPDATE ((((((((((((((((((((((((((((((((((((((((orders)))))))))))))))))))))))))))))))))))))))) SET a = 1 WHERE buyer_id = 5", W | U | UNK, "", "", SQL_VERB_UPDATE },
    { "DELETE o FROM ((orders o)) WHERE o.buyer_id = 44", W | U, "44", "", SQL_VERB_DELETE },
    { "DELETE FROM o USING (logs l JOIN orders o ON o.id = l.id) WHERE o.buyer_id = 45", W | U, "45", "", SQL_VERB_DELETE },
    { "SELECT * FROM ((orders)) WHERE buyer_id = 159 FOR UPDATE", W | U | UNK, "", "", SQL_VERB_SELECT },
    /* locking reads */
    { "SELECT * FROM orders WHERE buyer_id = 50 FOR UPDATE", W | U, "50", "", SQL_VERB_SELECT },
    { "SELECT * FROM orders WHERE buyer_id = 51 LOCK IN SHARE MODE", W | U, "51", "", SQL_VERB_SELECT },
    { "SELECT * FROM orders FOR UPDATE", W | U | UNK, "", "", SQL_VERB_SELECT },
    { "SELECT * FROM orders WHERE buyer_id = ? FOR UPDATE", W | U, "", "0", SQL_VERB_SELECT },
    /* a locking clause anywhere: every table named anywhere is written */
    { "SELECT (SELECT 1 FROM t FOR UPDATE) FROM orders WHERE buyer_id = 1", W | U | UNK, "", "", SQL_VERB_SELECT },
    { "SELECT * FROM sellers WHERE id = 1 FOR UPDATE", W | C, "", "", SQL_VERB_SELECT },
    { "WITH c AS (SELECT 1) SELECT * FROM orders WHERE buyer_id = 52 FOR UPDATE", W | U, "52", "", SQL_VERB_SELECT },
    /* plain reads take the fast path (no FOR / LOCK word): nothing extracted */
    { "SELECT `for`, 'lock' FROM orders WHERE buyer_id = 53", R, "", "", SQL_VERB_SELECT },
    { "(SELECT a FROM orders WHERE buyer_id = 54) UNION (SELECT a FROM orders)", R, "", "", SQL_VERB_SELECT },
    { "SELECT * FROM orders FOR SYSTEM_TIME ALL WHERE buyer_id = 55", R, "", "", SQL_VERB_SELECT },
    { "select * from orders where buyer_id = 56 lock in share mode", W | U, "56", "", SQL_VERB_SELECT },
    { "SELECT a FROM orders UNION SELECT a FROM orders WHERE buyer_id = 57 FOR UPDATE", W | U | UNK, "", "", SQL_VERB_SELECT },
    /* locking reads beyond the simple form: written, key only from a hint */
    { "(SELECT * FROM orders WHERE buyer_id = 1) UNION (SELECT * FROM orders WHERE buyer_id = 7 FOR UPDATE)", W | U | UNK, "", "", SQL_VERB_SELECT },
    { "SELECT * FROM orders WHERE buyer_id = 1 UNION SELECT * FROM orders WHERE buyer_id = 7 FOR UPDATE", W | U | UNK, "", "", SQL_VERB_SELECT },
    { "SELECT * FROM items WHERE id IN (SELECT item_id FROM orders WHERE buyer_id = 7 FOR UPDATE)", W | U | UNK, "", "", SQL_VERB_SELECT },
    { "(SELECT * FROM orders WHERE buyer_id = 1) UNION (SELECT * FROM orders WHERE buyer_id = 7 LOCK IN SHARE MODE)", W | U | UNK, "", "", SQL_VERB_SELECT },
    { "SELECT * FROM orders WHERE buyer_id = 1 UNION ALL SELECT * FROM orders WHERE buyer_id = 7 FOR SHARE", W | U | UNK, "", "", SQL_VERB_SELECT },
    { "SELECT * FROM items WHERE id IN (SELECT item_id FROM orders WHERE buyer_id = 7 LOCK IN SHARE MODE)", W | U | UNK, "", "", SQL_VERB_SELECT },
    { "SELECT * FROM items WHERE id IN (SELECT item_id FROM orders WHERE buyer_id = 7 FOR SHARE)", W | U | UNK, "", "", SQL_VERB_SELECT },
    { "(SELECT * FROM orders WHERE buyer_id = 7 FOR UPDATE)", W | U | UNK, "", "", SQL_VERB_SELECT },
    { "(SELECT * FROM orders WHERE buyer_id = 1 FOR UPDATE) UNION (SELECT * FROM orders WHERE buyer_id = 7)", W | U | UNK, "", "", SQL_VERB_SELECT },
    { "WITH c AS (SELECT * FROM orders WHERE buyer_id = 7 FOR UPDATE) SELECT * FROM c", W | U | UNK, "", "", SQL_VERB_SELECT },
    { "WITH c AS (SELECT * FROM orders WHERE buyer_id = 7) SELECT * FROM c WHERE buyer_id = 7 FOR UPDATE", W | U | UNK, "", "", SQL_VERB_SELECT },
    { "WITH RECURSIVE c AS (SELECT 1) SELECT * FROM orders WHERE buyer_id = 7 LOCK IN SHARE MODE", W | U, "7", "", SQL_VERB_SELECT },
    { "SELECT * FROM (SELECT * FROM orders) d WHERE d.buyer_id = 5 FOR UPDATE", W | U | UNK, "", "", SQL_VERB_SELECT },
    { "SELECT * FROM orders WHERE buyer_id = 5 AND id IN (SELECT order_id FROM order_items WHERE buyer_id = 5) FOR UPDATE", W | U | UNK, "", "", SQL_VERB_SELECT },
    { "SELECT * FROM orders WHERE buyer_id = 5 AND id IN (SELECT id FROM t) FOR UPDATE", W | U, "5", "", SQL_VERB_SELECT },
    { "SELECT * FROM x JOIN (orders o JOIN sellers s ON 1) ON 1 FOR UPDATE", W | U | C | UNK, "", "", SQL_VERB_SELECT },
    { "/* sharding_key=7 */ SELECT * FROM orders WHERE buyer_id = 1 UNION SELECT * FROM orders WHERE buyer_id = 7 FOR UPDATE", W | U | UNK | HINT, "", "", SQL_VERB_SELECT },
    { "SELECT * FROM orders WHERE buyer_id = 1 UNION SELECT * FROM t FOR UPDATE", W | U | UNK, "", "", SQL_VERB_SELECT },
    { "SELECT * FROM orders WHERE buyer_id = ? UNION SELECT * FROM orders WHERE buyer_id = ? FOR UPDATE", W | U | UNK, "", "", SQL_VERB_SELECT },
    { "select * from `orders` where buyer_id = 1 union select * from shop.payments where buyer_id = 7 for update", W | U | UNK, "", "", SQL_VERB_SELECT },
    { "/*!50000 (SELECT * FROM orders) UNION (SELECT * FROM orders FOR UPDATE) */", W | U | UNK, "", "", SQL_VERB_SELECT },
    { "SELECT * FROM orders WHERE buyer_id = 58 FOR UPDATE SKIP LOCKED", W | U, "58", "", SQL_VERB_SELECT },
    { "(SELECT id FROM sellers) UNION (SELECT 1 FOR UPDATE)", W | C, "", "", SQL_VERB_SELECT },
    { "SELECT * FROM t FOR UPDATE", W, "", "", SQL_VERB_SELECT },
    { "SELECT * FROM t1 UNION (SELECT * FROM t2 FOR UPDATE)", W, "", "", SQL_VERB_SELECT },
    { "UPDATE logs SET a = 1 WHERE id IN (SELECT id FROM orders WHERE buyer_id = 7 FOR UPDATE)", W | U | UNK, "", "", SQL_VERB_UPDATE },
    { "UPDATE orders SET a = 1 WHERE buyer_id = 5 AND id IN (SELECT id FROM t FOR UPDATE)", W | U, "5", "", SQL_VERB_UPDATE },
    { "INSERT INTO logs (id) SELECT id FROM orders WHERE buyer_id = 7 FOR UPDATE", W | U | UNK, "", "", SQL_VERB_INSERT },
    { "SET @x = (SELECT id FROM orders WHERE buyer_id = 7 LIMIT 1 FOR UPDATE)", W | U | UNK, "", "", SQL_VERB_OTHER },
    { "DO (SELECT COUNT(*) FROM shop.payments FOR UPDATE)", W | U | UNK, "", "", SQL_VERB_OTHER },
    { "UPDATE t1, t2, t3, t4, t5, t6, t7, t8, orders SET n = 1 WHERE orders.buyer_id = 5", W | U | UNK, "", "", SQL_VERB_UPDATE },
    /* FOR / LOCK that are not locking clauses: reads */
    { "SELECT 'x FOR UPDATE' FROM orders UNION SELECT a FROM orders", R, "", "", SQL_VERB_SELECT },
    { "SELECT `for_update`, `for` FROM orders WHERE buyer_id = 1 UNION SELECT 1", R, "", "", SQL_VERB_SELECT },
    { "SELECT `for` `update` FROM orders UNION SELECT 1", R, "", "", SQL_VERB_SELECT },
    { "SELECT for_update FROM orders WHERE lock_in = 1", R, "", "", SQL_VERB_SELECT },
    { "(SELECT a FROM orders) UNION (SELECT a FROM orders /* FOR UPDATE */)", R, "", "", SQL_VERB_SELECT },
    { "SELECT a FROM orders -- FOR UPDATE\n UNION SELECT b FROM orders", R, "", "", SQL_VERB_SELECT },
    { "SELECT a FROM orders # LOCK IN SHARE MODE\n UNION SELECT b FROM orders", R, "", "", SQL_VERB_SELECT },
    { "SELECT * FROM orders WHERE note = \"FOR UPDATE\" UNION SELECT * FROM orders", R, "", "", SQL_VERB_SELECT },
    { "SELECT SUBSTRING(note FROM 1 FOR 2) FROM orders", R, "", "", SQL_VERB_SELECT },
    { "SELECT * FROM orders INTO OUTFILE '/tmp/for update'", R, "", "", SQL_VERB_SELECT },
    { "SELECT * FROM orders WHERE buyer_id = 1 INTO OUTFILE '/tmp/x'", R, "", "", SQL_VERB_SELECT },
    { "SELECT a FROM orders UNION SELECT a FROM orders", R, "", "", SQL_VERB_SELECT },
    { "SELECT GET_LOCK('for', 1), RELEASE_LOCK('lock')", R, "", "", SQL_VERB_SELECT },
    { "LOCK TABLES orders WRITE", R, "", "", SQL_VERB_OTHER },
    { "CREATE PROCEDURE p() SELECT * FROM orders FOR UPDATE", W | D, "", "", SQL_VERB_DDL },
    /* load data */
    { "LOAD DATA LOCAL INFILE '/tmp/o.csv' INTO TABLE orders", W | U | UNK, "", "", SQL_VERB_LOAD_DATA },
    { "/* sharding_key=60 */ LOAD DATA INFILE 'f' INTO TABLE orders", W | U | UNK | HINT, "", "", SQL_VERB_LOAD_DATA },
    { "LOAD DATA INFILE 'f' INTO TABLE logs", W | UNK, "", "", SQL_VERB_LOAD_DATA },
    /* session and transactions */
    { "USE shop", R, "", "", SQL_VERB_USE },
    { "BEGIN", R, "", "", SQL_VERB_BEGIN },
    { "START TRANSACTION", R, "", "", SQL_VERB_BEGIN },
    { "commit", R, "", "", SQL_VERB_COMMIT },
    { "ROLLBACK", R, "", "", SQL_VERB_ROLLBACK },
    { "ROLLBACK TO SAVEPOINT a", R, "", "", SQL_VERB_OTHER },
    { "XA START 'x'", R, "", "", SQL_VERB_XA },
    /* SQL-level dynamic statements */
    { "EXECUTE IMMEDIATE 'INSERT INTO orders (buyer_id) VALUES (61)'", W | U, "61", "", SQL_VERB_OTHER },
    { "EXECUTE IMMEDIATE 'INSERT INTO orders (buyer_id) VALUES (?)' USING 62", W | U | UNK, "", "", SQL_VERB_OTHER },
    { "EXECUTE IMMEDIATE 'SELECT * FROM orders'", R, "", "", SQL_VERB_OTHER },
    { "PREPARE s FROM 'INSERT INTO orders (buyer_id) VALUES (63)'", W | U | UNK, "", "", SQL_VERB_OTHER },
    { "PREPARE s FROM 'SELECT 1'", R, "", "", SQL_VERB_OTHER },
    { "PREPARE s FROM @sql", W | U | UNK, "", "", SQL_VERB_OTHER },
    /* dynamic text the proxy cannot read: a hint does not count for it */
    { "/* sharding_key=5 */ EXECUTE IMMEDIATE @q", W | U | UNK, "", "", SQL_VERB_OTHER },
    { "EXECUTE IMMEDIATE 'DELETE FROM orders WHERE buyer_id = 5' ' OR 1'", W | U | UNK, "", "", SQL_VERB_OTHER },
    { "EXECUTE IMMEDIATE CONCAT('DELETE FROM orders', ' WHERE 1')", W | U | UNK, "", "", SQL_VERB_OTHER },
    { "PREPARE s FROM 'SELECT 1' ' UNION SELECT 2'", W | U | UNK, "", "", SQL_VERB_OTHER },
    { "EXECUTE IMMEDIATE 'SELECT ?' USING 1", R, "", "", SQL_VERB_OTHER },
    { "EXECUTE s USING @a", R, "", "", SQL_VERB_OTHER },
    /* TRUNCATE: a write of every row */
    { "TRUNCATE orders", W | U | UNK | T, "", "", SQL_VERB_TRUNCATE },
    { "truncate table `orders`", W | U | UNK | T, "", "", SQL_VERB_TRUNCATE },
    { "/* sharding_key=5 */ TRUNCATE TABLE orders", W | U | UNK | T | HINT, "", "", SQL_VERB_TRUNCATE },
    { "TRUNCATE TABLE shop.payments", W | U | UNK | T, "", "", SQL_VERB_TRUNCATE },
    { "TRUNCATE TABLE `other`.`payments`", W | T, "", "", SQL_VERB_TRUNCATE },
    { "TRUNCATE sellers", W | C | T, "", "", SQL_VERB_TRUNCATE },
    { "TRUNCATE TABLE logs", W | T, "", "", SQL_VERB_TRUNCATE },
    { "SELECT 'TRUNCATE orders' FROM dual", R, "", "", SQL_VERB_SELECT },
    { "INSERT INTO logs (msg) VALUES ('TRUNCATE TABLE orders')", W, "", "", SQL_VERB_INSERT },
    /* schema changes of classified tables; DDL on others passes */
    { "ALTER TABLE orders ADD COLUMN x INT", W | D, "", "", SQL_VERB_DDL },
    { "alter online ignore table `shop`.`payments` add index (buyer_id)", W | D, "", "", SQL_VERB_DDL },
    { "ALTER TABLE IF EXISTS sellers DROP COLUMN name", W | D, "", "", SQL_VERB_DDL },
    { "ALTER TABLE logs ADD COLUMN x INT", R, "", "", SQL_VERB_OTHER },
    { "ALTER TABLE other.payments ADD COLUMN x INT", R, "", "", SQL_VERB_OTHER },
    { "ALTER TABLE logs RENAME TO orders", W | D, "", "", SQL_VERB_DDL },
    { "ALTER TABLE logs RENAME COLUMN a TO b", R, "", "", SQL_VERB_OTHER },
    { "ALTER TABLE logs EXCHANGE PARTITION p0 WITH TABLE orders", W | D, "", "", SQL_VERB_DDL },
    { "ALTER DATABASE shop CHARACTER SET utf8mb4", R, "", "", SQL_VERB_OTHER },
    { "DROP TABLE IF EXISTS logs, `orders`", W | D, "", "", SQL_VERB_DDL },
    { "DROP TEMPORARY TABLE sellers", W | D, "", "", SQL_VERB_DDL },
    { "DROP TABLE logs, t2", R, "", "", SQL_VERB_OTHER },
    { "DROP INDEX i ON orders", W | D, "", "", SQL_VERB_DDL },
    { "DROP INDEX i ON logs", R, "", "", SQL_VERB_OTHER },
    { "DROP TRIGGER IF EXISTS shop.trg", W | D, "", "", SQL_VERB_DDL },
    { "DROP DATABASE IF EXISTS scratch", W | D, "", "", SQL_VERB_DDL },
    { "DROP VIEW v", R, "", "", SQL_VERB_OTHER },
    { "RENAME TABLE orders TO orders_old", W | D, "", "", SQL_VERB_DDL },
    { "RENAME TABLE logs TO logs2, t TO `sellers`", W | D, "", "", SQL_VERB_DDL },
    { "RENAME TABLE logs TO logs2", R, "", "", SQL_VERB_OTHER },
    { "RENAME USER a TO b", R, "", "", SQL_VERB_OTHER },
    { "CREATE TABLE orders LIKE orders_template", W | D, "", "", SQL_VERB_DDL },
    { "CREATE TABLE IF NOT EXISTS `orders` (LIKE t)", W | D, "", "", SQL_VERB_DDL },
    { "CREATE TABLE orders SELECT * FROM t", W | D, "", "", SQL_VERB_DDL },
    { "CREATE TEMPORARY TABLE shop.payments AS SELECT 1", W | D, "", "", SQL_VERB_DDL },
    { "CREATE OR REPLACE TABLE orders (id INT)", W | D, "", "", SQL_VERB_DDL },
    { "CREATE TABLE orders2 LIKE orders", R, "", "", SQL_VERB_OTHER },
    { "CREATE TABLE logs2 SELECT * FROM orders", R, "", "", SQL_VERB_OTHER },
    { "CREATE TABLE logs2 SELECT * FROM orders WHERE buyer_id = 5 FOR UPDATE", W | U | UNK, "", "", SQL_VERB_OTHER },
    { "CREATE UNIQUE INDEX i ON orders (id)", W | D, "", "", SQL_VERB_DDL },
    { "CREATE INDEX i ON logs (id)", R, "", "", SQL_VERB_OTHER },
    { "CREATE DEFINER = `root`@`localhost` TRIGGER trg BEFORE INSERT ON orders FOR EACH ROW SET NEW.n = 1", W | D, "", "", SQL_VERB_DDL },
    { "CREATE TRIGGER trg AFTER INSERT ON logs FOR EACH ROW INSERT INTO orders (buyer_id) VALUES (1)", W | D, "", "", SQL_VERB_DDL },
    { "CREATE PROCEDURE p() TRUNCATE orders", W | D, "", "", SQL_VERB_DDL },
    { "CREATE VIEW v AS SELECT * FROM orders", W | D, "", "", SQL_VERB_DDL },
    /* views and stored programs: any identifier naming a classified table */
    { "CREATE OR REPLACE ALGORITHM=MERGE DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW v AS SELECT * FROM shop.payments", W | D, "", "", SQL_VERB_DDL },
    { "create view v as select o.id from logs l join `order_items` o on o.id = l.id", W | D, "", "", SQL_VERB_DDL },
    { "ALTER VIEW v AS SELECT * FROM sellers", W | D, "", "", SQL_VERB_DDL },
    { "ALTER SQL SECURITY INVOKER VIEW v AS SELECT * FROM carts", W | D, "", "", SQL_VERB_DDL },
    { "CREATE FUNCTION f() RETURNS INT RETURN (SELECT COUNT(*) FROM unitroute.orders)", W | D, "", "", SQL_VERB_DDL },
    { "CREATE EVENT e ON SCHEDULE AT NOW() DO UPDATE orders SET n = 1", W | D, "", "", SQL_VERB_DDL },
    { "ALTER EVENT e ON SCHEDULE EVERY 1 DAY DO DELETE FROM carts", W | D, "", "", SQL_VERB_DDL },
    { "CREATE PROCEDURE p() EXECUTE IMMEDIATE CONCAT('DELETE FROM ', 'logs')", W | D, "", "", SQL_VERB_DDL },
    { "CREATE VIEW v AS SELECT * FROM logs", R, "", "", SQL_VERB_OTHER },
    { "CREATE VIEW v AS SELECT 'orders' AS t FROM shop2.payments", R, "", "", SQL_VERB_OTHER },
    { "CREATE TRIGGER trg BEFORE INSERT ON logs FOR EACH ROW SET NEW.msg = 'orders'", R, "", "", SQL_VERB_OTHER },
    { "ALTER EVENT e RENAME TO e2", R, "", "", SQL_VERB_OTHER },
    { "SELECT 'ALTER TABLE orders', `drop table orders` FROM logs", R, "", "", SQL_VERB_SELECT },
    /* CALL: keys only from a hint */
    { "CALL add_order(1001, 5)", W | U | UNK, "", "", SQL_VERB_CALL },
    { "/* sharding_key=1001 */ CALL add_order(1001, 5)", W | U | UNK | HINT, "", "", SQL_VERB_CALL },
    { "call shop.add_order", W | U | UNK, "", "", SQL_VERB_CALL },
    { "CALL `shop`.`add_order`(?, ?) /* sharding_key=3 */", W | U | UNK | HINT, "", "", SQL_VERB_CALL },
    { "SELECT 'CALL add_order(1)'", R, "", "", SQL_VERB_SELECT },
    { "EXECUTE IMMEDIATE 'CALL add_order(1)'", W | U | UNK, "", "", SQL_VERB_OTHER },
    { "EXECUTE IMMEDIATE 'TRUNCATE orders'", W | U | UNK | T, "", "", SQL_VERB_OTHER },
    { "EXECUTE IMMEDIATE 'ALTER TABLE orders ADD x INT'", W | D, "", "", SQL_VERB_OTHER },
    { "PREPARE s FROM 'DROP TABLE orders'", W | D, "", "", SQL_VERB_OTHER },
    /* executable comments: 5 or 6 version digits; a version MariaDB may skip is ambiguous */
    { "SELECT /*!1000002 */", R, "", "", SQL_VERB_SELECT },
    { "SELECT /*!40101 SQL_NO_CACHE */ * FROM orders", R, "", "", SQL_VERB_SELECT },
    { "/*M!100000 INSERT INTO orders (buyer_id) VALUES (12) */", W | U, "12", "", SQL_VERB_INSERT },
    { "SELECT 1 /*!999999 ' */ ; INSERT INTO orders (buyer_id) VALUES (60) -- '", W | U | UNK, "", "", SQL_VERB_SELECT },
    { "UPDATE orders SET n = 1 WHERE /*!999999 buyer_id = 5 AND */ 1 = 1", W | U | UNK, "5", "", SQL_VERB_UPDATE },
    { "/*!50700 SELECT 1 UNION */ DELETE FROM orders WHERE buyer_id = 5", W | U | UNK, "", "", SQL_VERB_SELECT },
    { "SELECT 1 /*M!101200 , 2 */", W | U | UNK, "", "", SQL_VERB_SELECT },
    /* latin1's no-break space is whitespace; in UTF-8 text 0xA0 continues a character */
    { "INSERT\xa0INTO\xa0orders (buyer_id) VALUES (60)", W | U, "60", "", SQL_VERB_INSERT },
    { "SELECT 1 --\xa0'\n", R, "", "", SQL_VERB_SELECT },
    { "UPDATE orders SET n\xc3\xa0 = 1 WHERE buyer_id = 5", W | U, "5", "", SQL_VERB_UPDATE },
    /* malformed */
    { "INSERT INTO orders (buyer_id) VALUES (1, 'unterminated", W | U | UNK, "1", "", SQL_VERB_INSERT },
};

static void parse_list(const char *s, uint64_t *out, size_t *n)
{
    *n = 0;
    while (*s) {
        char *end;
        out[(*n)++] = strtoull(s, &end, 10);
        s = *end == ',' ? end + 1 : end;
    }
}

#define ROW_CHECK(cond) \
    do { if (!(cond)) fail_msg("[%s]: %s", r->sql, #cond); } while (0)

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        struct sql_stmt st;
        size_t used;
        uint64_t want[32];
        size_t nwant;

        sql_stmt_init(&st);
        assert_int_equal(sql_classify(r->sql, strlen(r->sql), &tables, "", &st, &used), 0);
        ROW_CHECK((int)st.verb == r->verb);
        ROW_CHECK(st.is_write == ((r->flags & W) != 0));
        ROW_CHECK(st.ddl == ((r->flags & D) != 0));
        ROW_CHECK(st.all_rows == ((r->flags & T) != 0));
        if (st.is_write) {
            ROW_CHECK(st.unit_table == ((r->flags & U) != 0));
            ROW_CHECK(st.center_table == ((r->flags & C) != 0));
        }
        if (r->flags & U) {
            ROW_CHECK(st.key_unknown == ((r->flags & UNK) != 0));
            ROW_CHECK(st.has_hint == ((r->flags & HINT) != 0));
            parse_list(r->keys, want, &nwant);
            ROW_CHECK(st.nkeys == nwant);
            for (size_t k = 0; k < nwant; k++)
                ROW_CHECK(st.keys[k] == want[k]);
            parse_list(r->params, want, &nwant);
            ROW_CHECK(st.nkey_params == nwant);
            for (size_t k = 0; k < nwant; k++)
                ROW_CHECK(st.key_params[k] == want[k]);
        }
        ROW_CHECK(used == strlen(r->sql));
        sql_stmt_deinit(&st);
    }
    assert_true(sizeof(rows) / sizeof(rows[0]) >= 60);
}

static void test_multi_statement(void **state)
{
    const char *sql = "USE shop; INSERT INTO payments (buyer_id) VALUES (3);"
                      " SELECT ';' ; DELETE FROM orders WHERE buyer_id = 4";
    size_t off = 0, used;
    struct sql_stmt st;
    int verbs[4], n = 0;
    const char *db = "";
    char cur[SQL_NAME_MAX] = "";

    (void)state;
    sql_stmt_init(&st);
    while (off < strlen(sql) && n < 4) {
        assert_int_equal(sql_classify(sql + off, strlen(sql) - off, &tables, db, &st, &used), 0);
        verbs[n] = st.verb;
        if (st.verb == SQL_VERB_USE) {
            snprintf(cur, sizeof(cur), "%s", st.use_db);
            db = cur;
        }
        if (n == 1) {   /* resolved through the USE before it */
            assert_true(st.unit_table);
            assert_int_equal(st.nkeys, 1);
            assert_int_equal(st.keys[0], 3);
        }
        if (n == 3)
            assert_int_equal(st.keys[0], 4);
        off += used;
        n++;
    }
    assert_int_equal(n, 4);
    assert_int_equal(verbs[0], SQL_VERB_USE);
    assert_int_equal(verbs[1], SQL_VERB_INSERT);
    assert_int_equal(verbs[2], SQL_VERB_SELECT);
    assert_int_equal(verbs[3], SQL_VERB_DELETE);
    sql_stmt_deinit(&st);
}

static void test_params_numbered_across_strings(void **state)
{
    const char *sql = "UPDATE orders SET s = '?', t = ? WHERE /* ? */ buyer_id = ?";
    struct sql_stmt st;
    size_t used;

    (void)state;
    sql_stmt_init(&st);
    assert_int_equal(sql_classify(sql, strlen(sql), &tables, "", &st, &used), 0);
    assert_int_equal(st.nparams, 2);
    assert_int_equal(st.nkey_params, 1);
    assert_int_equal(st.key_params[0], 1);
    sql_stmt_deinit(&st);
}

/* With NO_BACKSLASH_ESCAPES 'x\' ends the string: a second row appears. */
static void test_no_backslash_escapes(void **state)
{
    const char *sql = "INSERT INTO orders (buyer_id, s) VALUES (1, 'x\\'), (70, '')";
    struct sql_stmt st;
    size_t used;

    (void)state;
    sql_stmt_init(&st);
    assert_int_equal(sql_classify(sql, strlen(sql), &tables, "", &st, &used), 0);
    assert_int_equal(st.nkeys, 1);      /* one row: the string hides "(70" */
    assert_int_equal(sql_classify_mode(sql, strlen(sql), SQL_MODE_NO_BACKSLASH_ESCAPES,
                                       &tables, "", &st, &used), 0);
    assert_int_equal(st.nkeys, 2);
    assert_int_equal(st.keys[1], 70);
    sql_stmt_deinit(&st);
}

/* SET statements that would change how the server reads what follows. */
struct set_row {
    const char *sql;
    int         unsafe;         /* enum sql_unsafe expected */
    const char *charset;        /* sets_charset: its name, "DEFAULT"; NULL: none */
};

static const struct set_row set_rows[] = {
    { "SET NAMES gbk", SQL_UNSAFE_CHARSET, NULL },
    { "SET NAMES 'big5' COLLATE big5_bin", SQL_UNSAFE_CHARSET, NULL },
    { "set character set sjis", SQL_UNSAFE_CHARSET, NULL },
    { "SET CHARSET cp932", SQL_UNSAFE_CHARSET, NULL },
    { "SET character_set_client = 28", SQL_UNSAFE_CHARSET, NULL },         /* gbk_chinese_ci */
    { "SET @@session.character_set_client = @x", SQL_UNSAFE_CHARSET, NULL },
    { "SET @@local . `character_set_client` := CONCAT('gb', 'k')", SQL_UNSAFE_CHARSET, NULL },
    { "SET GLOBAL character_set_client = gbk", SQL_UNSAFE_CHARSET, NULL },
    { "SET @a = 1, SESSION character_set_client = _latin1'gbk'", SQL_UNSAFE_CHARSET, NULL },
    { "SET NAMES nosuchset", SQL_UNSAFE_CHARSET, NULL },
    { "/*!40101 SET NAMES gbk */", SQL_UNSAFE_CHARSET, NULL },
    { "EXECUTE IMMEDIATE 'SET NAMES gbk'", SQL_UNSAFE_CHARSET, NULL },
    { "PREPARE s FROM 'SET NAMES latin1'", SQL_UNSAFE_CHARSET, NULL },
    { "SET NAMES utf8mb4", SQL_UNSAFE_NONE, "utf8mb4" },
    { "SET NAMES `latin1` COLLATE latin1_bin", SQL_UNSAFE_NONE, "latin1" },
    { "SET NAMES 'utf8'", SQL_UNSAFE_NONE, "utf8mb3" },
    { "SET character_set_client = 8", SQL_UNSAFE_NONE, "latin1" },
    { "SET CHARACTER SET DEFAULT", SQL_UNSAFE_NONE, "DEFAULT" },
    { "SET autocommit = 0, @@character_set_client = cp852", SQL_UNSAFE_NONE, "cp852" },
    { "EXECUTE IMMEDIATE 'SET NAMES latin1'", SQL_UNSAFE_NONE, "latin1" },
    { "SET sql_mode = 'ANSI_QUOTES'", SQL_UNSAFE_SQL_MODE, NULL },
    { "SET SESSION sql_mode = 'strict_trans_tables,ansi'", SQL_UNSAFE_SQL_MODE, NULL },
    { "SET @@sql_mode = ORACLE", SQL_UNSAFE_SQL_MODE, NULL },
    { "SET @@global.sql_mode = 4", SQL_UNSAFE_SQL_MODE, NULL },
    { "SET sql_mode = 262144", SQL_UNSAFE_SQL_MODE, NULL },               /* ANSI */
    { "SET sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')", SQL_UNSAFE_SQL_MODE, NULL },
    { "SET sql_mode = @x", SQL_UNSAFE_SQL_MODE, NULL },
    { "SET sql_mode = 'AN\\SI_QUOTES'", SQL_UNSAFE_SQL_MODE, NULL },
    { "SET sql_mode = 'AN' 'SI_QUOTES'", SQL_UNSAFE_SQL_MODE, NULL },
    { "SET STATEMENT sql_mode = 'ANSI_QUOTES' FOR SELECT 1", SQL_UNSAFE_SQL_MODE, NULL },
    { "EXECUTE IMMEDIATE \"SET sql_mode = 'ANSI'\"", SQL_UNSAFE_SQL_MODE, NULL },
    { "SET sql_mode = 'STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES'", SQL_UNSAFE_NONE, NULL },
    { "SET sql_mode = DEFAULT, sql_mode = 3", SQL_UNSAFE_NONE, NULL },
    { "SET @sql_mode = 'ANSI'", SQL_UNSAFE_NONE, NULL },                  /* a user variable */
    { "SET PASSWORD = PASSWORD('ansi')", SQL_UNSAFE_NONE, NULL },
};

static void test_set_session(void **state)
{
    struct sql_stmt st;
    size_t used;
    char msg[512];

    (void)state;
    sql_stmt_init(&st);
    for (size_t i = 0; i < sizeof(set_rows) / sizeof(set_rows[0]); i++) {
        const struct set_row *r = &set_rows[i];
        assert_int_equal(sql_classify(r->sql, strlen(r->sql), &tables, "", &st, &used), 0);
        if ((int)st.unsafe != r->unsafe)
            fail_msg("%s: unsafe %d, expected %d", r->sql, st.unsafe, r->unsafe);
        if (r->unsafe == SQL_UNSAFE_NONE) {
            assert_int_equal(sql_decide_session(&st, msg, sizeof(msg)), SQL_ALLOW);
        } else {
            enum sql_reason why = sql_decide(&st, NULL, "dc-a", false, NULL, msg, sizeof(msg));
            assert_int_equal(why, r->unsafe == SQL_UNSAFE_CHARSET ? SQL_REFUSE_CHARSET
                                                                  : SQL_REFUSE_SQL_MODE);
        }
        if (r->charset == NULL) {
            if (r->unsafe == SQL_UNSAFE_NONE && st.sets_charset)
                fail_msg("%s: sets a character set", r->sql);
        } else if (!st.sets_charset) {
            fail_msg("%s: no character set", r->sql);
        } else if (strcmp(r->charset, st.charset ? st.charset->name : "DEFAULT") != 0) {
            fail_msg("%s: %s", r->sql, st.charset ? st.charset->name : "DEFAULT");
        }
    }
    /* the refusal names the character set and has its own errno */
    assert_int_equal(sql_classify("SET NAMES gbk", 13, &tables, "", &st, &used), 0);
    assert_int_equal(sql_decide(&st, NULL, "dc-a", false, NULL, msg, sizeof(msg)),
                     SQL_REFUSE_CHARSET);
    assert_non_null(strstr(msg, "gbk"));
    assert_int_equal(sql_reason_info(SQL_REFUSE_CHARSET)->code, 7413);
    assert_int_equal(sql_reason_info(SQL_REFUSE_SQL_MODE)->code, 7414);
    /* SET STATEMENT ... FOR runs the statement: a write is classified */
    const char *w = "SET STATEMENT max_statement_time = 10 FOR DELETE FROM orders WHERE buyer_id = 7";
    assert_int_equal(sql_classify(w, strlen(w), &tables, "", &st, &used), 0);
    assert_true(st.is_write && st.unit_table);
    assert_int_equal(st.nkeys, 1);
    assert_int_equal(st.keys[0], 7);
    sql_stmt_deinit(&st);
}

/* The client character set decides whether 0xA0 / 0xFF separate words. */
static void test_charset_whitespace(void **state)
{
    const char *a0 = "INSERT\xa0INTO orders (buyer_id) VALUES (5)";
    const char *ff = "DELETE\xff" "FROM orders";
    unsigned utf8 = SQL_MODE_CHARSET_KNOWN, latin1 = utf8 | SQL_MODE_SPACE_A0;
    unsigned cp852 = utf8 | SQL_MODE_SPACE_FF;
    unsigned unsure = utf8 | SQL_MODE_MAYBE_A0 | SQL_MODE_MAYBE_FF;
    struct sql_stmt st;
    size_t used;

    (void)state;
    assert_non_null(sql_charset_by_collation(8));
    assert_true((sql_charset_by_name("LATIN1", 6)->space & SQL_CS_SPACE_A0) != 0);
    assert_true(sql_charset_by_collation(28)->unsafe);          /* gbk */
    assert_true(sql_charset_by_collation(95)->unsafe);          /* cp932 */
    assert_false(sql_charset_by_collation(45)->unsafe);         /* utf8mb4 */
    assert_null(sql_charset_by_collation(0));
    assert_null(sql_charset_by_collation(35));                  /* ucs2: not a client set */
    sql_stmt_init(&st);
    assert_int_equal(sql_classify_mode(a0, strlen(a0), latin1, &tables, "", &st, &used), 0);
    assert_true(st.is_write && st.unit_table && !st.key_unknown);
    assert_int_equal(st.keys[0], 5);
    assert_int_equal(sql_classify_mode(a0, strlen(a0), utf8, &tables, "", &st, &used), 0);
    assert_false(st.is_write);                                   /* one word for utf8 */
    assert_int_equal(sql_classify_mode(a0, strlen(a0), unsure, &tables, "", &st, &used), 0);
    assert_true(st.is_write && st.unit_table && st.key_unknown);  /* either: ambiguous */
    assert_int_equal(sql_classify_mode(ff, strlen(ff), cp852, &tables, "", &st, &used), 0);
    assert_true(st.is_write && st.unit_table);
    assert_int_equal(sql_classify_mode(ff, strlen(ff), latin1, &tables, "", &st, &used), 0);
    assert_false(st.is_write);
    /* "à" in UTF-8 (C3 A0) inside a word stays a word for utf8 */
    const char *u = "SELECT \xc3\xa0" "INSERT FROM t";
    assert_int_equal(sql_classify_mode(u, strlen(u), utf8, &tables, "", &st, &used), 0);
    assert_false(st.is_write);
    sql_stmt_deinit(&st);
}

/* Versioned comments against the server's version (measured on 10.11.19). */
static void test_versioned_known(void **state)
{
    static const struct {
        const char *sql;
        unsigned long version;
        int nkeys;              /* keys found; -1: ambiguous (key unknown) */
        bool write;
    } v[] = {
        { "DELETE FROM orders WHERE buyer_id = 5 /*!101119 OR 1 */", 101119, 0, true },
        { "DELETE FROM orders WHERE buyer_id = 5 /*!101120 OR 1 */", 101119, 1, true },
        { "DELETE FROM orders WHERE buyer_id = 5 /*!101120 OR 1 */", 0, -1, true },
        { "DELETE FROM orders WHERE buyer_id = 5 /*!50700 OR 1 */", 101119, 1, true },
        { "DELETE FROM orders WHERE buyer_id = 5 /*!50699 OR 1 */", 101119, 0, true },
        { "DELETE FROM orders WHERE buyer_id = 5 /*M!99999 OR 1 */", 101119, 0, true },
        { "DELETE FROM orders WHERE buyer_id = 5 /*M!50700 OR 1 */", 0, -1, true },
        { "/*M!100616 SET NAMES utf8mb4 */", 101119, 0, false },
        { "/*M!100616 SET NAMES utf8mb4 */", 0, -1, true },
        { "SELECT 1 /*!999999 /* x */ ; DELETE FROM orders */", 101119, 0, false },
        { "SELECT 1 /*!999999 'x */ , 2", 101119, 0, false },
        { "SELECT 1 /*!40101 /*!40101 1 */ */", 101119, -1, true },
    };
    struct sql_stmt st;
    size_t used;

    (void)state;
    sql_stmt_init(&st);
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        unsigned mode = SQL_MODE_VERSION(v[i].version);
        assert_int_equal(sql_classify_mode(v[i].sql, strlen(v[i].sql), mode, &tables, "",
                                           &st, &used), 0);
        if (used != strlen(v[i].sql) || st.is_write != v[i].write ||
            (v[i].nkeys >= 0 && ((int)st.nkeys != v[i].nkeys ||
                                 (v[i].nkeys > 0 && st.key_unknown))) ||
            (v[i].nkeys < 0 && !st.key_unknown))
            fail_msg("%s (version %lu): write %d keys %zu unknown %d used %zu", v[i].sql,
                     v[i].version, st.is_write, st.nkeys, st.key_unknown, used);
    }
    sql_stmt_deinit(&st);
}

static void test_many_rows_grow(void **state)
{
    char *sql = malloc(200000);
    size_t n = 0, used;
    struct sql_stmt st, copy;

    (void)state;
    n += (size_t)sprintf(sql, "INSERT INTO orders (buyer_id, n) VALUES ");
    for (int i = 0; i < 1000; i++)
        n += (size_t)sprintf(sql + n, "%s(%d, %d)", i ? "," : "", i, i);
    sql_stmt_init(&st);
    assert_int_equal(sql_classify(sql, n, &tables, "", &st, &used), 0);
    assert_int_equal(st.nkeys, 1000);
    assert_int_equal(st.keys[999], 999);
    assert_false(st.key_unknown);
    assert_int_equal(sql_stmt_copy(&copy, &st), 0);
    assert_int_equal(copy.nkeys, 1000);
    assert_int_equal(copy.keys[500], 500);
    sql_stmt_deinit(&copy);
    sql_stmt_deinit(&st);
    free(sql);
}

static void test_garbage_never_crashes(void **state)
{
    static const char *const bad[] = {
        "INSERT", "INSERT INTO", "INSERT INTO orders (", "INSERT INTO orders (buyer_id",
        "INSERT INTO orders (buyer_id) VALUES", "INSERT INTO orders (buyer_id) VALUES (",
        "UPDATE", "UPDATE orders SET", "UPDATE orders SET buyer_id =", "DELETE FROM",
        "DELETE FROM orders WHERE buyer_id IN (", "SELECT * FROM orders WHERE buyer_id = ",
        "/* unterminated", "'", "`", "\"", ")))", "((((", "?;?;?", "LOAD", "LOAD DATA",
        "WITH", "/*!", "-- ", "\x01\x02\xff",
    };
    struct sql_stmt st;
    size_t used;

    (void)state;
    sql_stmt_init(&st);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(sql_classify(bad[i], strlen(bad[i]), &tables, "", &st, &used), 0);
        assert_true(used <= strlen(bad[i]));
        if (st.is_write && st.unit_table)
            assert_true(st.key_unknown || st.nkeys == 0 || st.nkeys > 0);
    }
    sql_stmt_deinit(&st);
}

/* Random token soup: classification ends, consumes what it says, and the
 * decision never crashes. */
static void test_token_soup(void **state)
{
    static const char *const vocab[] = {
        "INSERT", "INTO", "orders", "(", ")", ",", "buyer_id", "VALUES", "UPDATE",
        "SET", "WHERE", "=", "AND", "OR", "DELETE", "FROM", "SELECT", "FOR",
        "UPDATE", "LOCK", "IN", "SHARE", "MODE", "?", "42", "'x'", "`orders`",
        "/* sharding_key=7 */", "/*!", "*/", "--", "\n", ";", "#", "LOAD", "DATA",
        "TABLE", "WITH", "PREPARE", "EXECUTE", "IMMEDIATE", "'", "\"", ".",
        "sellers", "ON", "DUPLICATE", "KEY", "JOIN", "USE", "shop", "-", "1e5",
    };
    static const char *const units2[] = { "dc-a", "dc-b" };
    const char *rt = "version = 1L; buckets = 10;\n"
                     "ranges = ( { first = 0; last = 9; unit = \"dc-a\"; } );\n"
                     "overrides = ( ); bans = ( );\n";
    char err[128], sql[2048], msg[512];
    struct rules *r = rules_parse(rt, strlen(rt), units2, 2, err, sizeof(err));
    struct sql_stmt st;
    unsigned seed = 7;

    (void)state;
    assert_non_null(r);
    sql_stmt_init(&st);
    for (int i = 0; i < 20000; i++) {
        size_t n = 0;
        int words = rand_r(&seed) % 40;
        for (int w = 0; w < words; w++) {
            const char *t = vocab[rand_r(&seed) % (sizeof(vocab) / sizeof(vocab[0]))];
            n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s%s", t,
                                  rand_r(&seed) % 3 ? " " : "");
        }
        size_t off = 0, used;
        while (off < n) {
            assert_int_equal(sql_classify(sql + off, n - off, &tables, "", &st, &used), 0);
            assert_true(used > 0 && used <= n - off);
            sql_decide(&st, r, "dc-a", true, NULL, msg, sizeof(msg));
            off += used;
        }
    }
    sql_stmt_deinit(&st);
    rules_destroy(r);
}

/* A locking subquery nested deeper than the scanner tracks is still seen. */
static void test_locking_deep(void **state)
{
    char sql[4096];
    size_t n = 0, used;
    struct sql_stmt st;

    (void)state;
    n += (size_t)snprintf(sql + n, sizeof(sql) - n, "SELECT 1 FROM t WHERE a IN ");
    for (int i = 0; i < 80; i++)
        n += (size_t)snprintf(sql + n, sizeof(sql) - n, "(SELECT a FROM t WHERE a IN ");
    n += (size_t)snprintf(sql + n, sizeof(sql) - n, "(SELECT buyer_id FROM orders FOR UPDATE)");
    for (int i = 0; i < 80; i++)
        n += (size_t)snprintf(sql + n, sizeof(sql) - n, ")");
    assert_true(n < sizeof(sql) - 1);
    sql_stmt_init(&st);
    assert_int_equal(sql_classify(sql, n, &tables, "", &st, &used), 0);
    assert_int_equal(used, n);
    assert_true(st.is_write);
    assert_true(st.unit_table);
    assert_true(st.key_unknown);
    assert_string_equal(st.table, "orders");
    sql_stmt_deinit(&st);
}

/* ---- decisions ------------------------------------------------------------ */

static const char *const units[] = { "dc-a", "dc-b" };

static struct rules *load_rules(const char *bans)
{
    char text[1024], err[256];

    snprintf(text, sizeof(text),
             "version = 7L; buckets = 100;\n"
             "ranges = ( { first = 0; last = 49; unit = \"dc-a\"; },\n"
             "           { first = 50; last = 99; unit = \"dc-b\"; } );\n"
             "overrides = ( { buyer = 42L; unit = \"dc-b\"; } );\n"
             "bans = ( %s );\n", bans);
    struct rules *r = rules_parse(text, strlen(text), units, 2, err, sizeof(err));
    if (r == NULL)
        fail_msg("rules: %s", err);
    return r;
}

static enum sql_reason decide(const char *sql, const struct rules *r,
                              const char *unit, bool center, char *msg)
{
    struct sql_stmt st;
    size_t used;

    sql_stmt_init(&st);
    assert_int_equal(sql_classify(sql, strlen(sql), &tables, "", &st, &used), 0);
    enum sql_reason why = sql_decide(&st, r, unit, center, NULL, msg, 512);
    sql_stmt_deinit(&st);
    return why;
}

static void test_decisions(void **state)
{
    struct rules *r = load_rules("{ first = 10; last = 19; }");
    char msg[512];

    (void)state;
    assert_int_equal(decide("SELECT * FROM orders", r, "dc-a", true, msg), SQL_ALLOW);
    assert_int_equal(decide("INSERT INTO orders (buyer_id) VALUES (101)", r, "dc-a", true, msg), SQL_ALLOW);
    assert_int_equal(decide("INSERT INTO orders (buyer_id) VALUES (150)", r, "dc-a", true, msg),
                     SQL_REFUSE_WRONG_UNIT);
    assert_non_null(strstr(msg, "buyer 150"));
    assert_non_null(strstr(msg, "bucket 50"));
    assert_non_null(strstr(msg, "dc-b"));
    assert_non_null(strstr(msg, "dc-a"));
    assert_int_equal(decide("INSERT INTO orders (buyer_id) VALUES (150)", r, "dc-b", false, msg), SQL_ALLOW);
    assert_int_equal(decide("INSERT INTO orders (n) VALUES (1)", r, "dc-a", true, msg), SQL_REFUSE_NO_KEY);
    assert_non_null(strstr(msg, "--comments"));
    assert_int_equal(decide("UPDATE orders SET n = 1 WHERE buyer_id = 115", r, "dc-a", true, msg),
                     SQL_REFUSE_BANNED);
    assert_non_null(strstr(msg, "bucket 15"));
    assert_true(sql_reason_info(SQL_REFUSE_BANNED)->retry);
    assert_int_equal(decide("INSERT INTO orders (buyer_id) VALUES (42)", r, "dc-a", true, msg),
                     SQL_REFUSE_WRONG_UNIT);     /* the override */
    assert_int_equal(decide("INSERT INTO orders (buyer_id) VALUES (1), (51)", r, "dc-a", true, msg),
                     SQL_REFUSE_KEYS_SPAN);
    assert_int_equal(decide("INSERT INTO orders (buyer_id) VALUES (1) /* sharding_key=2 */", r, "dc-a",
                            true, msg), SQL_REFUSE_KEY_MISMATCH);
    assert_int_equal(decide("/* sharding_key=2 */ /* sharding_key=3 */ INSERT INTO orders (n) VALUES (1)",
                            r, "dc-a", true, msg), SQL_REFUSE_KEY_MISMATCH);
    assert_int_equal(decide("/* sharding_key=2 */ INSERT INTO orders (n) VALUES (1)", r, "dc-a", true, msg),
                     SQL_ALLOW);
    assert_int_equal(decide("/* sharding_key=52 */ INSERT INTO orders (n) VALUES (1)", r, "dc-a", true, msg),
                     SQL_REFUSE_WRONG_UNIT);
    assert_int_equal(decide("INSERT INTO sellers (id) VALUES (1)", r, "dc-b", false, msg), SQL_REFUSE_CENTER);
    assert_int_equal(decide("INSERT INTO sellers (id) VALUES (1)", r, "dc-a", true, msg), SQL_ALLOW);
    assert_int_equal(decide("INSERT INTO logs (id) VALUES (1)", r, "dc-b", false, msg), SQL_ALLOW);
    assert_int_equal(decide("INSERT INTO orders (buyer_id) VALUES (1)", NULL, "dc-a", true, msg),
                     SQL_REFUSE_NO_RULES);
    assert_int_equal(decide("SELECT * FROM orders", NULL, "dc-a", true, msg), SQL_ALLOW);
    assert_int_equal(decide("XA START 'x'", r, "dc-a", true, msg), SQL_REFUSE_UNSUPPORTED);
    /* a hint cannot vouch for a write that runs later */
    assert_int_equal(decide("/* sharding_key=5 */ PREPARE s FROM 'INSERT INTO orders (buyer_id) VALUES (5)'",
                            r, "dc-a", true, msg), SQL_REFUSE_NO_KEY);
    assert_non_null(strstr(msg, "PREPARE"));
    assert_int_equal(decide("EXECUTE IMMEDIATE 'INSERT INTO orders (buyer_id) VALUES (5)'",
                            r, "dc-a", true, msg), SQL_ALLOW);
    assert_int_equal(decide("EXECUTE IMMEDIATE 'INSERT INTO orders (buyer_id) VALUES (55)'",
                            r, "dc-a", true, msg), SQL_REFUSE_WRONG_UNIT);
    /* dynamic text the proxy cannot read is refused whatever hint it carries */
    assert_int_equal(decide("/* sharding_key=5 */ PREPARE s FROM @q", r, "dc-a", true, msg),
                     SQL_REFUSE_NO_KEY);
    assert_non_null(strstr(msg, "PREPARE"));
    assert_int_equal(decide("/* sharding_key=5 */ EXECUTE IMMEDIATE @q", r, "dc-a", true, msg),
                     SQL_REFUSE_NO_KEY);
    assert_int_equal(decide("/* sharding_key=5 */ EXECUTE IMMEDIATE "
                            "'DELETE FROM orders WHERE buyer_id = 5' ' OR 1'", r, "dc-a", true, msg),
                     SQL_REFUSE_NO_KEY);
    assert_int_equal(decide("PREPARE s FROM 'SELECT 1'", r, "dc-a", true, msg), SQL_ALLOW);
    assert_int_equal(decide("/* sharding_key=5 */ EXECUTE IMMEDIATE 'EXECUTE IMMEDIATE @q'", r, "dc-a",
                            true, msg), SQL_REFUSE_NO_KEY);
    assert_int_equal(decide("/* sharding_key=5 */ EXECUTE IMMEDIATE 'PREPARE s FROM @q'", r, "dc-a",
                            true, msg), SQL_REFUSE_NO_KEY);
    /* DELETE ... USING and parenthesized references: the unit table is seen */
    assert_int_equal(decide("DELETE FROM o USING orders AS o WHERE o.buyer_id = 155", r, "dc-a", true,
                            msg), SQL_REFUSE_WRONG_UNIT);
    assert_int_equal(decide("DELETE FROM o USING orders AS o WHERE o.buyer_id = 5", r, "dc-a", true,
                            msg), SQL_ALLOW);
    assert_int_equal(decide("UPDATE (orders) SET amount = -3 WHERE buyer_id = 152", r, "dc-a", true,
                            msg), SQL_REFUSE_WRONG_UNIT);
    assert_int_equal(decide("UPDATE (orders) SET amount = 1 WHERE buyer_id = 5", r, "dc-a", true, msg),
                     SQL_ALLOW);
    assert_int_equal(decide("/* sharding_key=11 */ UPDATE ((orders O)) SET O.amount = 1", r, "dc-a",
                            true, msg), SQL_REFUSE_BANNED);
    assert_int_equal(decide("UPDATE (logs, (sellers)) SET a = 1", r, "dc-b", false, msg),
                     SQL_REFUSE_CENTER);
    assert_int_equal(decide("UPDATE orders a, orders b SET a.amount = -9 WHERE b.buyer_id = 5", r, "dc-a",
                            true, msg), SQL_REFUSE_NO_KEY);
    /* locking reads beyond the simple form: a hint or a refusal */
    assert_int_equal(decide("SELECT * FROM orders WHERE buyer_id = 1 UNION "
                            "SELECT * FROM orders WHERE buyer_id = 55 FOR UPDATE",
                            r, "dc-a", true, msg), SQL_REFUSE_NO_KEY);
    assert_non_null(strstr(msg, "`orders` without a sharding key"));
    assert_int_equal(decide("/* sharding_key=5 */ (SELECT * FROM orders WHERE buyer_id = 5) "
                            "UNION (SELECT * FROM orders WHERE buyer_id = 5 FOR UPDATE)",
                            r, "dc-a", true, msg), SQL_ALLOW);
    assert_int_equal(decide("/* sharding_key=55 */ SELECT * FROM items WHERE id IN "
                            "(SELECT item_id FROM orders WHERE buyer_id = 55 FOR UPDATE)",
                            r, "dc-a", true, msg), SQL_REFUSE_WRONG_UNIT);
    assert_int_equal(decide("SELECT * FROM orders WHERE buyer_id = 55 LOCK IN SHARE MODE",
                            r, "dc-a", true, msg), SQL_REFUSE_WRONG_UNIT);
    assert_int_equal(decide("SELECT * FROM logs UNION (SELECT * FROM t FOR UPDATE)",
                            r, "dc-a", true, msg), SQL_ALLOW);
    assert_int_equal(decide("(SELECT * FROM orders WHERE buyer_id = 55) UNION "
                            "(SELECT * FROM orders WHERE buyer_id = 55)", r, "dc-a", true, msg),
                     SQL_ALLOW);
    rules_destroy(r);
}

static void test_reason_codes_distinct(void **state)
{
    (void)state;
    for (int a = 1; a < SQL_REASON_COUNT; a++) {
        assert_int_equal(strlen(sql_reason_info((enum sql_reason)a)->sqlstate), 5);
        for (int b = a + 1; b < SQL_REASON_COUNT; b++) {
            assert_int_not_equal(sql_reason_info((enum sql_reason)a)->code,
                                 sql_reason_info((enum sql_reason)b)->code);
            assert_string_not_equal(sql_reason_info((enum sql_reason)a)->sqlstate,
                                    sql_reason_info((enum sql_reason)b)->sqlstate);
        }
    }
    assert_int_equal(sql_reason_info(SQL_REFUSE_BANNED)->code, 7403);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_multi_statement),
        cmocka_unit_test(test_params_numbered_across_strings),
        cmocka_unit_test(test_no_backslash_escapes),
        cmocka_unit_test(test_set_session),
        cmocka_unit_test(test_charset_whitespace),
        cmocka_unit_test(test_versioned_known),
        cmocka_unit_test(test_many_rows_grow),
        cmocka_unit_test(test_locking_deep),
        cmocka_unit_test(test_garbage_never_crashes),
        cmocka_unit_test(test_token_soup),
        cmocka_unit_test(test_decisions),
        cmocka_unit_test(test_reason_codes_distinct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
