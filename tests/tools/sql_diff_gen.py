"""sql_diff_gen.py: the statement generator of sql_differential.py.

A seeded grammar over the test schema (below): INSERT / REPLACE in every form
(VALUES, SET, SELECT, no column list, ON DUPLICATE KEY UPDATE, explicit ids
that hit other buyers' rows), UPDATE / DELETE with many WHERE shapes, multi-
table and parenthesized forms, CTEs, locking reads, TRUNCATE and DDL, session
changes (sql_mode, character sets, USE), transactions, dynamic SQL, binary
protocol prepared statements, decorated with comments, executable comments,
hints, odd whitespace and quoting, sometimes mutated token by token.
"""

import random
import struct

BUCKETS = 100
BANNED = range(40, 45)

# protected tables: (schema, table, key column or None for a center table)
PROTECTED = [
    ("unitroute", "orders", "buyer_id"),
    ("unitroute", "carts", "customer"),
    ("shop2", "orders", "buyer_id"),
    ("shop2", "payments", "buyer_id"),
    ("unitroute", "sellers", None),
]
# every table the generator writes: (schema, table, key column)
TABLES = PROTECTED[:4] + [
    ("unitroute", "sellers", "buyer_id"),
    ("unitroute", "logs", "buyer_id"),      # unclassified
    ("unitroute", "payments", "buyer_id"),  # unclassified (same name as shop2's)
]


# ---- literal and name variants ---------------------------------------------------

# A hint the proxy reads: a comment whose body is `sharding_key = N`. The
# proxy trusts such a hint for a statement whose key it cannot read (by
# design), so a change made under a hint naming only dc-a buyers is counted
# as "hint-trusted", not as a violation, except for the "strict" forms whose
# key the proxy must read and compare with the hint (7405).
RECOGNIZED_HINT = "/*sharding_key="

def is_allowed(buyer):
    """The proxy's view of a key: a uint64 whose bucket is dc-a's, not banned."""
    return 0 <= buyer < 2**64 and buyer % BUCKETS < 50 and buyer % BUCKETS not in BANNED


ALLOWED_BUYERS = [b for b in range(200) if b % 100 < 50 and b % 100 not in BANNED]
FOREIGN_BUYERS = [b for b in range(200) if b % 100 >= 50]
BANNED_BUYERS = [b for b in range(200) if b % 100 in BANNED]
EDGE_BUYERS = [-5, -150, 2**63 - 1, 2**64 - 1, 2**64 + 5, 2**64 + 150, 0,
               10**20 + 5, 9223372036854775808]


class Gen:
    """Random statement generator over the schema above."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.hints = []     # buyers named by recognized hints in this query
        self.fresh_ids = False

    def row_id(self):
        """An explicit id for INSERT/REPLACE: one of the seeded rows (of any
        buyer: REPLACE / ON DUPLICATE KEY UPDATE then hit that row), or with
        --fresh-ids one no row has (to look past that finding)."""
        if self.fresh_ids:
            return self.rng.randint(100000, 10**9)
        return self.rng.randint(1, 450)

    def pick(self, seq):
        return self.rng.choice(seq)

    def chance(self, p):
        return self.rng.random() < p

    def buyer(self):
        r = self.rng.random()
        if r < 0.40:
            return self.pick(ALLOWED_BUYERS)
        if r < 0.75:
            return self.pick(FOREIGN_BUYERS)
        if r < 0.92:
            return self.pick(BANNED_BUYERS)
        return self.pick(EDGE_BUYERS)

    def lit(self, b):
        """A literal (or expression) for the number b, in one of many forms."""
        forms = [
            lambda: str(b), lambda: str(b), lambda: str(b),
            lambda: f"'{b}'", lambda: f'"{b}"', lambda: f"{b} + 0",
            lambda: f"0x{b:x}" if b >= 0 else str(b), lambda: f"{b}e0",
            lambda: f"{b}.0", lambda: f"({b})", lambda: f"+{b}",
            lambda: f"-(-{b})", lambda: f"- -{b}", lambda: f"--{b}",
            lambda: f"0{b}", lambda: f"'{b} '", lambda: f"' {b}'",
            lambda: f"'{b}abc'", lambda: f"'{b}.4'", lambda: f"{b}.4",
            lambda: f"'{b - 1}.6'", lambda: f"{b - 1}.6", lambda: f"{b}.5",
            lambda: f"X'{b:02x}'" if 0 <= b < 256 else str(b),
            lambda: f"b'{b:b}'" if b >= 0 else str(b),
            lambda: f"CAST({b} AS SIGNED)", lambda: f"_latin1'{b}'",
            lambda: f"N'{b}'", lambda: f"{b}/**/", lambda: f"{b} | 128",
            lambda: f"{b} ^ 145", lambda: f"{b} << 1", lambda: f"{b} * 30",
            lambda: f"{b} DIV 1", lambda: f"{b} - 0 + 100", lambda: f"{b}.",
            lambda: f"{b / 10}e1", lambda: f"'{b}e0'", lambda: f"'0x{b:x}'",
            lambda: f"{b} COLLATE utf8mb4_bin", lambda: f"(SELECT {b})",
            lambda: f"@b{b % 3}", lambda: f"{b}\t", lambda: "NULL",
            lambda: f"'+{b}'", lambda: f"'\\{b}'", lambda: f"0{b}e-0",
            lambda: f"{b} IS NOT NULL", lambda: f"{b} OR 1",
            lambda: f"{b} /*!OR 1*/", lambda: f"{b} /*!99999 OR 1*/",
            lambda: f"{b} /*M!100000 OR 1 */", lambda: f"{b} -- x\n OR 1",
        ]
        if self.chance(0.55):
            return str(b)
        return self.pick(forms)()

    def table(self, only=None):
        """(rendered name, schema, table, key column)."""
        schema, table, key = only or self.pick(TABLES)
        t = table
        r = self.rng.random()
        if r < 0.15:
            name = f"`{t}`"
        elif r < 0.45 or schema != "unitroute":
            q = self.pick(["{s}.{t}", "`{s}`.`{t}`", "`{s}`.{t}", "{s} . {t}",
                           "{s}.`{t}`", "`{s}.{t}`", "{s}/**/.{t}",
                           "{s}.\n{t}", "{S}.{t}", "{s}.{T}"])
            name = q.format(s=schema, t=t, S=schema.upper(), T=t.upper())
        elif r < 0.5:
            name = t.upper()
        else:
            name = t
        return name, schema, table, key

    def col(self, key, alias=None):
        c = self.pick([key, key, key, f"`{key}`", key.upper(), f"`{key.upper()}`"])
        if alias and self.chance(0.4):
            return f"{alias}.{c}"
        return c

    def ws(self):
        return self.pick([" ", " ", " ", "  ", "\t", "\n", "\r\n", " /**/ ",
                          " /* c */ ", "\x0b", "\x0c", " -- c\n", " #c\n",
                          "/*!*/", " /*!50000 */ ", "\xa0"])

    def hint(self, b, key_visible):
        """'' or a sharding_key hint: right, wrong (only where the key is
        visible, so a wrong hint must be caught), conflicting, or odd."""
        r = self.rng.random()
        if r < 0.7:
            return ""
        v = b
        if r < 0.8 and key_visible:
            v = self.pick(ALLOWED_BUYERS)
        text = self.pick(["/* sharding_key={v} */", "/*sharding_key={v}*/",
                          "/* sharding_key = {v} */", "/*+ sharding_key={v} */",
                          "/* SHARDING_KEY={v} */", "/* sharding_key={v} x */",
                          "/** sharding_key={v} **/", "/* a */ /* sharding_key={v} */"])
        h = text.format(v=v)
        if RECOGNIZED_HINT in text.lower().replace(" ", ""):
            self.hints.append(v)
        if r > 0.95:
            v2 = self.pick(ALLOWED_BUYERS + FOREIGN_BUYERS)
            h += f" /* sharding_key={v2} */"
            self.hints.append(v2)
        return h

    # ---- WHERE -------------------------------------------------------------------

    def where(self, key, alias=None):
        b = self.buyer()
        c = self.col(key, alias)
        b2 = self.buyer()
        forms = [
            f"{c} = {self.lit(b)}", f"{c} = {self.lit(b)}", f"{c}={b}",
            f"{c} IN ({self.lit(b)}, {self.lit(b2)})", f"{c} IN ({b})",
            f"{c} = {self.lit(b)} AND amount >= 0", f"amount >= 0 AND {c} = {b}",
            f"{c} = {b} OR {c} = {b2}", f"{c} = {b} OR 1",
            f"{c} = {b} AND amount > 0 OR id > 0", f"({c} = {b} OR id > 0)",
            f"{c} BETWEEN {b} AND {b2}", f"{b} = {c}", f"{c} <=> {b}",
            f"NOT {c} <> {b}", f"{c} + 0 = {b}", f"id = {self.rng.randint(1, 500)}",
            f"{c} = {b} AND id IN (SELECT id FROM unitroute.logs WHERE buyer_id = {b2})",
            f"id IN (SELECT id FROM unitroute.logs WHERE buyer_id = {b})",
            f"EXISTS (SELECT 1 FROM unitroute.logs WHERE buyer_id = {b})",
            f"{c} = (SELECT {b})", f"{c} = ANY (SELECT {b2})",
            f"({c}, 1) = ({b}, 1)", f"{c} IN (({b}))", f"{c} = {b} XOR 1",
            f"{c} = {b} || 1", f"{c} = {b} && amount > 0", f"{c} = {b} AND ({c} = {b2})",
            f"{c} = {b} AND 1 = 1 OR {c} = {b2}", f"{c} = @b{b % 3}",
            f"{c} = {b} AND note <> 'x'' OR 1 -- '", f"{c} = {b} AND note <> \"\\\" OR 1 #\"",
            f"{c} = {b} AND note <> '\\' OR 1 -- '", f"{c} = {b} /* OR 1 */",
            f"{c} = {b} AND note = '/* sharding_key={self.pick(ALLOWED_BUYERS)} */'",
            f"{c} > {b}", f"{c} = {b} -- \nOR 1", f"{c} = {b} #\nOR 1",
            f"{c} = {b} /*!99999 OR 1 */", f"{c} = {b} /*!40101 OR 1 */",
            f"{c} = {b} /*M!100100 OR 1 */", f"{c} = {b} /*!1234 OR 1 */",
            f"{c} = {b} /*!123456 OR 1 */", f"{c} = {b} /*M!999999 OR 1 */",
            f"{c} = {b} /*!50700 OR 1 */", f"{c} = {b} /*!00000 OR 1 */",
            f"{c} = {b} /*m!100000 OR 1 */", f"{c} = {b} /*!  OR 1 */",
            f"{c} = {b} AND \"x\" = \"x\" OR 1", f"{c}\xa0=\xa0{b}\xa0OR\xa01",
            f"{c} = {b}\xa0OR 1", f"{c} = {b} AND `x``` IS NULL",
        ]
        return self.pick(forms), b

    def tail(self):
        t = ""
        if self.chance(0.15):
            t += self.pick([" ORDER BY id", " ORDER BY id DESC", " ORDER BY 1"])
        if self.chance(0.2):
            t += self.pick([" LIMIT 1", " LIMIT 0", " LIMIT 5", " LIMIT 1 OFFSET 1"])
        return t

    # ---- statements ----------------------------------------------------------------

    def row(self, cols, key, b):
        vals = []
        for c in cols:
            if c == "id":
                vals.append(str(self.row_id()))
            elif c == key:
                vals.append(self.lit(b))
            elif c == "amount":
                vals.append(str(self.rng.randint(0, 9)))
            else:
                vals.append(self.pick(["'n'", "NULL", "'it''s'", "'a\\'b'",
                                       "'-- x'", "'/* x */'", "\"q\"", "'#'"]))
        return "(" + ", ".join(vals) + ")"

    def s_insert_values(self):
        name, _, table, key = self.table()
        cols = [key, "amount", "note"] + (["id"] if self.chance(0.3) else [])
        self.rng.shuffle(cols)
        b = self.buyer()
        rows = [self.row(cols, key, b)]
        for _ in range(self.rng.randint(0, 3) if self.chance(0.3) else 0):
            rows.append(self.row(cols, key, self.pick([b, self.buyer()])))
        verb = self.pick(["INSERT", "INSERT", "INSERT IGNORE", "REPLACE",
                          "INSERT LOW_PRIORITY", "insert", "REPLACE DELAYED"])
        into = self.pick([" INTO ", " INTO ", " "])
        ccols = ", ".join(self.col(c) if c == key else c for c in cols)
        values = self.pick(["VALUES", "VALUES", "VALUE", "values"])
        s = f"{verb}{into}{name} ({ccols}) {values} {', '.join(rows)}"
        if verb.upper().startswith("INSERT") and self.chance(0.3):
            s += self.pick([" ON DUPLICATE KEY UPDATE amount = amount + 1",
                            f" ON DUPLICATE KEY UPDATE {key} = {self.lit(self.buyer())}",
                            f" ON DUPLICATE KEY UPDATE {key} = VALUES({key})",
                            " ON DUPLICATE KEY UPDATE note = 'dup', amount = 7"])
        if self.chance(0.05):
            s += " RETURNING id"
        return s, b, True

    def s_insert_set(self):
        name, _, _, key = self.table()
        b = self.buyer()
        sets = [f"{self.col(key)} = {self.lit(b)}", "amount = 1", "note = 's'"]
        if self.chance(0.3):
            sets.append(f"id = {self.row_id()}")
        self.rng.shuffle(sets)
        verb = self.pick(["INSERT", "REPLACE", "INSERT IGNORE"])
        s = f"{verb} INTO {name} SET {', '.join(sets)}"
        if verb == "INSERT" and self.chance(0.3):
            s += " ON DUPLICATE KEY UPDATE amount = amount + 1"
        return s, b, True

    def s_insert_select(self):
        name, _, _, key = self.table()
        b = self.buyer()
        src = self.pick([
            f"SELECT {self.lit(b)}, 3, 'sel'",
            f"SELECT buyer_id, amount, note FROM unitroute.logs WHERE buyer_id = {b}",
            f"SELECT {key}, amount, note FROM {name} WHERE {key} = {b}",
            f"SELECT {b}, 3, 'u' UNION SELECT {self.buyer()}, 4, 'u'",
            f"(SELECT {b}, 3, 'p')", f"SELECT * FROM (SELECT {b}, 3, 'd') AS d",
            f"SELECT {b}, 3, 'v' FROM DUAL WHERE {key} = 0",
        ])
        verb = self.pick(["INSERT", "REPLACE", "INSERT IGNORE"])
        s = f"{verb} INTO {name} ({self.col(key)}, amount, note) {src}"
        if verb == "INSERT" and self.chance(0.3):
            s += " ON DUPLICATE KEY UPDATE amount = amount + 1"
        return s, b, False

    def s_insert_nocols(self):
        name, _, _, _ = self.table()
        b = self.buyer()
        s = self.pick([f"INSERT INTO {name} VALUES (NULL, {self.lit(b)}, 1, 'nc')",
                       f"REPLACE INTO {name} VALUES ({self.row_id()}, {b}, 1, 'nc')",
                       f"INSERT INTO {name} () VALUES ()",
                       f"INSERT INTO {name} ({self.col('buyer_id')}) VALUES (DEFAULT)"])
        return s, b, False

    def s_update(self):
        name, _, _, key = self.table()
        alias = self.pick([None, None, "o", "`x`"])
        ref = name + (f" {self.pick(['', 'AS '])}{alias}" if alias else "")
        cond, b = self.where(key, alias)
        sets = [self.pick(["amount = amount + 1", "note = 'u'", "amount = 0"])]
        moved = False
        if self.chance(0.15):
            sets.append(f"{self.col(key, alias)} = {self.lit(self.buyer())}")
            moved = True
        if self.chance(0.05):
            sets.append(f"{self.col(key)} = {self.col(key)} + 100")
        self.rng.shuffle(sets)
        verb = self.pick(["UPDATE", "UPDATE", "UPDATE IGNORE", "UPDATE LOW_PRIORITY", "update"])
        where = self.pick(["WHERE", "WHERE", "where"])
        return f"{verb} {ref} SET {', '.join(sets)} {where} {cond}{self.tail()}", b, not moved

    def s_delete(self):
        name, _, _, key = self.table()
        cond, b = self.where(key)
        verb = self.pick(["DELETE", "DELETE", "DELETE QUICK", "DELETE IGNORE", "delete"])
        s = f"{verb} FROM {name} WHERE {cond}{self.tail()}"
        if self.chance(0.05):
            s += " RETURNING id"
        return s, b, True

    def s_multi(self):
        name, _, table, key = self.table(self.pick(PROTECTED[:4]))
        b = self.buyer()
        o = self.pick(["o", "`o`", "O"])
        lkey = "buyer_id"
        forms = [
            f"UPDATE {name} {o} JOIN unitroute.logs l ON {o}.{key} = l.{lkey} "
            f"SET {o}.amount = {o}.amount + 1 WHERE l.{lkey} = {b}",
            f"UPDATE {name} {o} JOIN unitroute.logs l ON {o}.{key} = l.{lkey} "
            f"SET {o}.amount = 1 WHERE {o}.{key} = {self.lit(b)}",
            f"UPDATE {name} {o}, unitroute.logs l SET l.amount = 1, {o}.note = 'j' "
            f"WHERE {o}.id = l.id AND l.{lkey} = {b}",
            f"UPDATE unitroute.logs l, {name} {o} SET {o}.amount = 2 WHERE l.{lkey} = {b}"
            f" AND {o}.id = l.id",
            f"UPDATE {name}, unitroute.logs SET {name}.amount = 3 WHERE "
            f"unitroute.logs.{lkey} = {b} AND {name}.id = unitroute.logs.id",
            f"DELETE {o} FROM {name} {o} JOIN unitroute.logs l ON {o}.id = l.id "
            f"WHERE l.{lkey} = {b}",
            f"DELETE {o} FROM {name} {o} JOIN unitroute.logs l ON {o}.id = l.id "
            f"WHERE {o}.{key} = {b}",
            f"DELETE FROM {o} USING {name} AS {o}, unitroute.logs AS l "
            f"WHERE {o}.id = l.id AND l.{lkey} = {b}",
            f"DELETE {o}, l FROM {name} {o} JOIN unitroute.logs l ON {o}.id = l.id "
            f"WHERE {o}.{key} = {b}",
            f"DELETE l FROM unitroute.logs l JOIN {name} {o} ON {o}.id = l.id "
            f"WHERE l.{lkey} = {b}",
            f"UPDATE (SELECT id FROM unitroute.logs WHERE {lkey} = {b}) d JOIN "
            f"{name} {o} ON {o}.id = d.id SET {o}.amount = 4",
            f"UPDATE {name} {o} SET amount = 5 WHERE {o}.{key} = {b} AND "
            f"id IN (SELECT * FROM (SELECT id FROM {name} WHERE {key} = {self.buyer()}) z)",
            f"UPDATE {name} SET amount = 6 WHERE {key} = {b} AND id = "
            f"(SELECT MIN(id) FROM unitroute.logs)",
            f"UPDATE unitroute.logs l JOIN {name} {o} ON l.id = {o}.id SET "
            f"l.amount = 1 WHERE l.{lkey} = {b}",
            f"UPDATE {name} {o} STRAIGHT_JOIN unitroute.logs l ON l.id = {o}.id "
            f"SET {o}.amount = 8 WHERE l.{lkey} = {b}",
            f"UPDATE {name} {o} LEFT JOIN unitroute.logs l USING (id) SET {o}.amount = 9 "
            f"WHERE l.{lkey} = {b}",
            f"UPDATE (unitroute.logs l, {name} {o}) SET {o}.amount = 10 WHERE "
            f"l.id = {o}.id AND l.{lkey} = {b}",
            f"UPDATE ({name}) SET amount = 11 WHERE id = {self.row_id()}",
            f"UPDATE (({name} {o})) SET {o}.amount = 12 WHERE {o}.{key} = {b}",
            f"UPDATE unitroute.logs l JOIN ({name} {o}) ON l.id = {o}.id SET {o}.amount = 13"
            f" WHERE l.{lkey} = {b}",
            f"DELETE FROM {o} USING {name} AS {o} WHERE {o}.id = {self.row_id()}",
            f"DELETE FROM {o} USING {name} AS {o} WHERE {o}.{key} = {b}",
            f"DELETE FROM {o}.* USING ({name} AS {o}) WHERE {o}.{key} = {b}",
            f"DELETE {o}.* FROM {name} {o} WHERE {o}.id = {self.row_id()}",
            f"DELETE logs FROM {name} AS logs WHERE logs.id = {self.row_id()}",
            f"DELETE FROM logs USING {name} AS logs WHERE logs.id = {self.row_id()}",
            f"DELETE {table} FROM unitroute.logs AS {table} WHERE {table}.buyer_id = {b}",
            f"UPDATE unitroute.logs AS {table}, {name} AS logs SET logs.amount = 14 WHERE "
            f"logs.id = {self.row_id()} AND {table}.buyer_id = {self.pick(ALLOWED_BUYERS)}",
            f"UPDATE {name} AS logs SET logs.amount = 15 WHERE logs.{key} = {b}",
            f"DELETE {o} FROM unitroute.logs l LEFT JOIN {name} {o} ON {o}.id = l.id "
            f"WHERE l.{lkey} = {b}",
            f"DELETE {o} FROM {name} {o} WHERE {o}.{key} = {b} AND EXISTS "
            f"(SELECT 1 FROM unitroute.logs l WHERE l.id = {o}.id)",
        ]
        return self.pick(forms), b, self.chance(0.3)

    def s_cte(self):
        name, _, _, key = self.table(self.pick(PROTECTED[:4]))
        b = self.buyer()
        forms = [
            f"WITH c AS (SELECT id FROM unitroute.logs WHERE buyer_id = {b}) "
            f"UPDATE {name} SET amount = 1 WHERE id IN (SELECT id FROM c)",
            f"WITH c AS (SELECT {b} AS k) DELETE FROM {name} WHERE {key} IN (SELECT k FROM c)",
            f"WITH c AS (SELECT id FROM {name} WHERE {key} = {b}) SELECT * FROM c FOR UPDATE",
            f"WITH c AS (SELECT {b}) INSERT INTO {name} ({key}, amount) SELECT {b}, 1",
            f"INSERT INTO {name} ({key}, amount) WITH c AS (SELECT {b} AS k) SELECT k, 1 FROM c",
            f"WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 3) "
            f"SELECT * FROM {name} WHERE {key} = {b} FOR UPDATE",
            f"SELECT * FROM {name} WHERE {key} = {self.lit(b)} FOR UPDATE",
            f"SELECT * FROM {name} WHERE {key} = {b} LOCK IN SHARE MODE",
            f"(SELECT * FROM {name} WHERE {key} = {b}) FOR UPDATE",
            f"SELECT * FROM {name} WHERE {key} = {b} UNION SELECT * FROM {name} FOR UPDATE",
            f"DO (SELECT COUNT(*) FROM {name} WHERE {key} = {b} FOR UPDATE)",
            f"SET @x = (SELECT MAX(id) FROM {name} WHERE {key} = {b} FOR UPDATE)",
        ]
        return self.pick(forms), b, False

    def s_truncate_ddl(self):
        name, _, _, key = self.table()
        return self.pick([
            f"TRUNCATE {name}", f"TRUNCATE TABLE {name}",
            f"CREATE OR REPLACE TABLE {name} (id INT)",
            f"ALTER TABLE {name} COMMENT 'x'",
            f"ALTER TABLE {name} AUTO_INCREMENT = 1000",
            f"LOCK TABLES {name} READ", "UNLOCK TABLES",
            f"HANDLER {name} OPEN", "HANDLER orders READ FIRST", "HANDLER orders CLOSE",
            f"ANALYZE TABLE {name}", f"OPTIMIZE TABLE {name}",
        ]), 0, False

    def s_session(self):
        return self.pick([
            "SET sql_mode = 'ANSI_QUOTES'", "SET sql_mode = 'NO_BACKSLASH_ESCAPES'",
            "SET sql_mode = 'PIPES_AS_CONCAT'", "SET sql_mode = 'ANSI'",
            "SET SESSION sql_mode = DEFAULT", "SET @@sql_mode = 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES'",
            "SET NAMES latin1", "SET NAMES utf8mb4", "SET NAMES gbk", "SET NAMES big5",
            "SET NAMES sjis", "SET NAMES cp932", "SET NAMES binary",
            "SET character_set_client = gbk", "SET CHARACTER SET latin1",
            "USE shop2", "USE unitroute", "USE `shop2`", "USE nosuch", "USE `shop2 `",
            "USE SHOP2", "USE shop2; USE nosuch", "USE /*!shop2*/ unitroute",
            "USE `unitroute`/* x */", "USE shop2 -- x", "USE mysql", "use\tshop2",
            f"SET @b0 = {self.buyer()}", f"SET @b1 = {self.buyer()}", f"SET @b2 = {self.buyer()}",
            "SET autocommit = 0", "SET autocommit = 1",
            "SET sql_mode = 'NO_BACKSLASH_ESCAPES', NAMES latin1",
            "SET sql_mode = 4", "SET sql_mode = 'ansi_quotes'", "SET sql_mode = 'ORACLE'",
            "SET sql_mode = 'MSSQL'", "SET sql_mode = 'POSTGRESQL'", "SET sql_mode = 'DB2'",
            "SET sql_mode = 'HIGH_NOT_PRECEDENCE'", "SET sql_mode = 'IGNORE_SPACE'",
            "SET sql_mode = @m", "SET @m = 'ANSI_QUOTES'", "SET sql_mode = 1073741824 | 4",
            "SET sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')",
            "SET @@session.sql_mode := 'ANSI_QUOTES'", "SET sql_mode = (SELECT 'ANSI')",
            "SET STATEMENT sql_mode = 'ANSI_QUOTES' FOR SELECT 1",
            "/*!40101 SET sql_mode = 'ANSI_QUOTES' */", "SET sql_mode = 0x414e53495f51554f544553",
            "SET sql_mode = _latin1'ANSI_QUOTES'", "SET sql_mode = 'ANSI_QUOTES ' ",
            "SET sql_mode = ' ,ANSI_QUOTES'", "SET sql_mode = 'NO_BACKSLASH_ESCAPES'",
            "SET NAMES 'gbk'", "SET NAMES `sjis`", "SET NAMES gbk COLLATE gbk_bin",
            "SET character_set_client = 28", "SET @@character_set_client = 'big5'",
            "SET SESSION character_set_client := cp932", "SET CHARSET gbk",
            "SET CHARACTER SET 'sjis'", "SET autocommit = 1, character_set_client = gbk",
            "SET character_set_client = @cs", "SET @cs = 'gbk'",
            "SET character_set_client = 0x67626b", "SET character_set_client = DEFAULT",
            "/*!40101 SET NAMES gbk */", "/*!99999 SET NAMES gbk */ SELECT 1",
            "/*M!100000 SET NAMES big5 */", "SET NAMES gb2312", "SET NAMES euckr",
            "SET NAMES ujis", "SET NAMES utf16", "SET NAMES ucs2", "SET NAMES cp1250",
            "SET character_set_client = 'gb18030'", "SET NAMES DEFAULT",
            "PREPARE c FROM 'SET NAMES gbk'", "EXECUTE c", "EXECUTE IMMEDIATE 'SET NAMES sjis'",
            "SET STATEMENT character_set_client = gbk FOR SELECT 1",
            "SET SESSION sql_mode = 'ANSI_QUOTES', character_set_client = gbk",
            "SET STATEMENT sql_mode = 'ANSI_QUOTES' FOR UPDATE unitroute.orders SET amount = 1 "
            "WHERE \"buyer_id\" = 150",
        ]), 0, False

    def s_txn(self):
        return self.pick(["BEGIN", "START TRANSACTION", "COMMIT", "ROLLBACK",
                          "SAVEPOINT sp", "ROLLBACK TO sp", "COMMIT AND CHAIN",
                          "BEGIN WORK", "START TRANSACTION READ WRITE", "XA START 'x'"]), 0, False

    def s_charset_smuggle(self):
        """Bytes that lex differently under a multi-byte client charset (0x5c as
        a trailing byte) and under ANSI_QUOTES."""
        name, _, _, key = self.table(self.pick(PROTECTED[:4]))
        b = self.pick(ALLOWED_BUYERS)
        lead = self.pick(["\xbf", "\x81", "\xa4", "\xe0", "\x95"])
        return self.pick([
            f"UPDATE {name} SET note = '{lead}\\' WHERE {key} > 0 -- ' WHERE {key} = {b}",
            f"DELETE FROM {name} WHERE note = '{lead}\\' OR {key} >= 0 -- ' OR {key} = {b}"
            f" AND {key} = {b}",
            f"UPDATE {name} SET amount = 1 WHERE {key} = {b} OR \"x' OR 1 -- \" = ' OR 1"
            f" -- '",
            f"UPDATE {name} SET note = \"a' WHERE 1 -- \" WHERE {key} = {b}",
        ]), b, False

    def s_sql_prepare(self):
        inner, b, _ = self.pick([self.s_insert_values, self.s_update, self.s_delete])()
        q = inner.replace("'", "''")
        return self.pick([
            f"EXECUTE IMMEDIATE '{q}'",
            f"EXECUTE IMMEDIATE CONCAT('{q[:len(q) // 2]}', '{q[len(q) // 2:]}')",
            f"SET @q = '{q}'", "EXECUTE IMMEDIATE @q", "PREPARE s FROM @q",
            f"PREPARE s FROM '{q}'", "EXECUTE s", "EXECUTE s USING @b0",
            "DEALLOCATE PREPARE s",
            "PREPARE s FROM 'DELETE FROM unitroute.orders WHERE buyer_id = ?'",
            f"EXECUTE IMMEDIATE 'DELETE FROM unitroute.orders WHERE buyer_id = ?' USING {b}",
            f"EXECUTE IMMEDIATE 'UPDATE unitroute.orders SET amount = 1 WHERE buyer_id = ?'"
            f" USING '{b}'",
        ]), b, False

    def s_version_hide(self):
        """Versioned executable comments that hide a unit table, or a WHERE
        escape, from one of the two readings (run or skipped), with versions
        around the server's own (MariaDB 10.11: 1011xx)."""
        name, _, _, key = self.table(self.pick(PROTECTED[:4]))
        v = self.pick(["50699", "50700", "99999", "100000", "101099", "101100",
                       "101105", "101106", "101107", "101108", "101120", "101199",
                       "101200", "110000", "999999", "1011", "10110"])
        x = self.pick(["!", "!", "M!"])
        rid, a = self.row_id(), self.pick(ALLOWED_BUYERS)
        return self.pick([
            f"UPDATE /*{x}{v} {name} AS */ unitroute.logs SET amount = 16 WHERE id = {rid}",
            f"UPDATE unitroute.logs l /*{x}{v} JOIN {name} o ON o.id = l.id */ SET "
            f"l.amount = 17 /*{x}{v} , o.amount = 17 */ WHERE l.id = {rid}",
            f"DELETE l /*{x}{v} , o */ FROM unitroute.logs l /*{x}{v} JOIN {name} o "
            f"ON o.id = l.id */ WHERE l.id = {rid}",
            f"UPDATE {name} SET amount = 18 WHERE {key} = {a} /*{x}{v} OR id = {rid} */",
            f"DELETE FROM {name} WHERE {key} = {a} /*{x}{v} OR 1 */",
            f"INSERT INTO {name} ({key}, amount) VALUES ({a} /*{x}{v} + 100 */, 19)",
            f"INSERT INTO {name} ({key}, amount) VALUES (/*{x}{v} 1 + */ {a}, 19)",
            f"UPDATE {name} SET amount = 20 /*{x}{v} , {key} = {key} + 100 */ WHERE {key} = {a}",
            f"/*{x}{v} DELETE FROM {name} WHERE id = {rid}; */ SELECT 1",
            f"SELECT 1 /*{x}{v} ; DELETE FROM {name} WHERE id = {rid} */",
        ]), a, False

    def s_strict_hint(self):
        """A lying dc-a hint on a statement whose literal key the proxy reads:
        must be refused (7405 or the key's own refusal), never trusted."""
        name, _, _, key = self.table(self.pick(PROTECTED[:4]))
        f = self.pick(FOREIGN_BUYERS + BANNED_BUYERS)
        a = self.pick(ALLOWED_BUYERS)
        self.hints.append(a)
        self.strict = True
        stmt = self.pick([
            f"INSERT INTO {name} ({key}, amount) VALUES ({f}, 1)",
            f"INSERT INTO {name} ({key}, amount) VALUES ('{f}', 1)",
            f"INSERT INTO {name} SET {key} = {f}, amount = 1",
            f"REPLACE INTO {name} (amount, {key}) VALUES (1, {f})",
            f"UPDATE {name} SET amount = amount + 1 WHERE {key} = {f}",
            f"UPDATE {name} SET amount = 1 WHERE amount >= 0 AND {key} IN ({f})",
            f"DELETE FROM {name} WHERE {key} = {f}",
            f"UPDATE {name} SET {key} = {f} WHERE {key} = {a}",
        ])
        h = f"/* sharding_key={a} */"
        return self.pick([h + " " + stmt, stmt + " " + h]), f, True

    def statement(self):
        """One (sql text, target buyer) pair, before decoration."""
        builders = [(self.s_insert_values, 14), (self.s_insert_set, 5),
                    (self.s_insert_select, 5), (self.s_insert_nocols, 2),
                    (self.s_update, 14), (self.s_delete, 10), (self.s_multi, 8),
                    (self.s_cte, 5), (self.s_truncate_ddl, 1), (self.s_session, 4),
                    (self.s_txn, 3), (self.s_charset_smuggle, 2), (self.s_sql_prepare, 5),
                    (self.s_strict_hint, 2), (self.s_version_hide, 3)]
        fn = self.rng.choices([f for f, _ in builders], [w for _, w in builders])[0]
        return fn()

    def decorate(self, sql, b, key_visible):
        """Whitespace and comments between tokens, then a hint (kept whole, so
        the generator knows which hints the proxy reads), then odd ends."""
        if self.chance(0.2):
            toks = sql.split(" ")
            sql = "".join(t + (self.ws() if self.chance(0.3) else " ")
                          for t in toks).rstrip(" ")
        h = self.hint(b, key_visible)
        if h:
            toks = sql.split(" ")
            where = self.pick(["start", "end", "middle", "middle", "afterverb"])
            if where == "start":
                sql = h + self.ws() + sql
            elif where == "end":
                sql = sql + self.ws() + h
            else:
                i = 1 if where == "afterverb" else self.rng.randint(1, len(toks))
                sql = " ".join(toks[:i] + [h] + toks[i:])
        if self.chance(0.1):
            sql = self.pick(["/*!40101 */", "-- x\n", "#x\n", "/* x */", " ", "\n",
                             "/*M!100000 */", ";"]) + sql
        if self.chance(0.1):
            sql += self.pick([";", " ;", "-- ", "#", "/* */", "\n", "/*", "'"])
        return sql

    def mutate(self, sql):
        """1-3 token-level mutations: delete, swap, duplicate, insert junk."""
        toks = sql.replace("(", " ( ").replace(")", " ) ").replace(",", " , ").split(" ")
        junk = [";", "/*", "*/", "'", '"', "`", "#", "-- ", "\n", "(", ")", ",",
                "OR 1", "buyer_id", "150", "\\", "/*!", "*/ OR 1", "--", "=",
                "0x96", "WHERE", "AND", "IN", "SELECT", "'\\''", "\x00"]
        for _ in range(self.rng.randint(1, 3)):
            if len(toks) < 2:
                break
            i = self.rng.randrange(len(toks))
            op = self.rng.randrange(4)
            if op == 0:
                del toks[i]
            elif op == 1:
                j = self.rng.randrange(len(toks))
                toks[i], toks[j] = toks[j], toks[i]
            elif op == 2:
                toks.insert(i, toks[i])
            else:
                toks.insert(i, self.pick(junk))
        return " ".join(toks)

    def part(self):
        """One decorated statement and whether a hint may excuse its change."""
        self.hints = []
        self.strict = False
        sql, b, visible = self.statement()
        return self.decorate(sql, b, visible), self.hints_trusted()

    def query(self):
        """(sql, excused): excused when a change may come from a trusted hint
        (one of its statements carries only hints naming dc-a buyers)."""
        sql, excused = self.part()
        if self.chance(0.08) and "sharding_key" not in sql:
            sql = self.mutate(sql)
        if self.chance(0.08):
            other, excused2 = self.part()
            sep = self.pick([";", "; ", ";\n", " ; ", ";/* x */", ";-- x\n"])
            sql, excused = sql + sep + other, excused or excused2
        return sql, excused

    def hints_trusted(self):
        return bool(self.hints) and not self.strict and all(map(is_allowed, self.hints))

    # ---- binary protocol -------------------------------------------------------

    def prepared(self):
        """(template, [params per execute], long data?) for COM_STMT_*."""
        name, _, _, key = self.table()
        b = self.buyer()
        template = self.pick([
            f"INSERT INTO {name} ({key}, amount, note) VALUES (?, ?, 'ps')",
            f"INSERT INTO {name} (amount, {key}) VALUES (?, ?)",
            f"REPLACE INTO {name} ({key}, amount) VALUES (?, ?)",
            f"UPDATE {name} SET amount = ? WHERE {key} = ?",
            f"UPDATE {name} SET amount = amount + 1 WHERE {key} = ? AND amount >= ?",
            f"DELETE FROM {name} WHERE {key} = ? AND amount < ?",
            f"DELETE FROM {name} WHERE {key} IN (?, ?)",
            f"INSERT INTO {name} SET {key} = ?, amount = ?",
            f"UPDATE {name} SET {key} = ? WHERE {key} = ?",
            f"/* sharding_key={self.pick(ALLOWED_BUYERS)} */ UPDATE {name} SET amount = ? WHERE {key} = ?",
            f"INSERT INTO {name} ({key}, amount) SELECT ?, ?",
            f"DELETE FROM {name} WHERE {key} = ? + ?",
            f"DELETE FROM {name} WHERE {key} = {b} OR id = ? OR ? = 0",
            f"SELECT * FROM {name} WHERE {key} = ? AND ? FOR UPDATE",
        ])
        self.hints = [int(template.split("=")[1].split()[0])] \
            if template.startswith("/* sharding_key=") else []
        self.strict = False
        executes = []
        for _ in range(self.rng.randint(1, 3)):
            executes.append([self.param(self.buyer()), self.param(self.rng.randint(0, 200))])
        long_data = str(self.buyer()).encode() if self.chance(0.15) else None
        return (template, executes, long_data), self.hints_trusted()

    def param(self, v):
        """(type byte, unsigned flag, encoded value or None for NULL)."""
        r = self.rng.random()
        if r < 0.05:
            return (0x06, 0, None)
        if r < 0.4 and -2**63 <= v < 2**63:
            return (0x08, 0, struct.pack("<q", v))
        if r < 0.5 and 0 <= v < 2**64:
            return (0x08, 0x80, struct.pack("<Q", v))
        if r < 0.6 and -2**31 <= v < 2**31:
            return (0x03, 0, struct.pack("<i", v))
        if r < 0.65 and -128 <= v < 128:
            return (0x01, 0, struct.pack("<b", v))
        if r < 0.7 and 0 <= v < 65536:
            return (0x02, 0x80, struct.pack("<H", v))
        if r < 0.8:
            return (0x05, 0, struct.pack("<d", float(v) + self.pick([0, 0.4, 0.6, -0.4])))
        text = self.pick([str(v), f"{v}.6", f" {v}", f"{v}abc", f"{v}e0", f"0x{v:x}"])
        return (self.pick([0xfd, 0xfe, 0x0f, 0xf6, 0xfc]), 0, text.encode())
