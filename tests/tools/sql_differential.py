#!/usr/bin/python3
"""sql_differential.py: end-to-end oracle for unitproxy's write classifier.

What it checks: unitproxy (unit dc-a) must never let a statement insert,
change or delete a row of a buyer whose home is another unit, or of a banned
buyer, nor change a center table (the center is dc-b). A seeded generator
sends random statements (INSERT/REPLACE/UPDATE/DELETE in many forms, joins,
CTEs, locking reads, hints, comments, executable comments, quoting,
whitespace, charsets, sql_modes, multi-statements, SQL-level and binary
protocol prepared statements, transactions, random token mutations) through
the proxy. Before and after each one, a DIRECT connection to MariaDB
checksums every protected row:

    generator --stmt--> unitproxy --> MariaDB <--checksum-- direct connection
        ^                  | 7401..7412 refusal / server error / OK
        +---- counts ------+       before != after  =>  VIOLATION

A violation is any change in the protected rows. With --direct the same
statements go straight to MariaDB: that run MUST find violations (it shows
the generator reaches foreign rows, so a clean proxy run means something).

Rules assumed (pushed by tests/integration/test_proxy_differential.sh):
100 buckets, bucket = buyer % 100; 0-49 dc-a, 50-99 dc-b; 40-44 banned.

The statements come from sql_diff_gen.py. A change made under a hint that
names only dc-a buyers, on a statement whose key the proxy cannot read, is
the documented hint trust: it is printed as HINT-TRUSTED, not counted.
Statements of an open transaction are seen at once (the snapshot connection
reads uncommitted rows), so the statement printed last made the change.

Reproduce:  UR_DIFF_SEED=S UR_DIFF_COUNT=N UR_BIN=build/bin \
            bash tests/integration/test_proxy_differential.sh
or by hand: sql_differential.py --port P --db-port D --seed S --count N
            [--direct] [--verbose]; to look past a known finding:
            --fresh-ids (no id collisions) and --ignore REGEX.
"""

import argparse
import os
import re
import struct
import sys
import time

import pymysql
from pymysql.constants import CLIENT, COMMAND, SERVER_STATUS

from sql_diff_gen import BANNED, BUCKETS, PROTECTED, TABLES, Gen

COM_RESET_CONNECTION = 0x1f
LONG_DATA = object()       # a parameter sent by COM_STMT_SEND_LONG_DATA
PROXY_ERRNOS = range(7401, 7420)
MAX_VIOLATIONS = 5

# ---- schema ------------------------------------------------------------------

def schema_create(conn):
    """Create both schemas and seed rows for buyers 0..199 in every table."""
    cur = conn.cursor()
    cur.execute("CREATE DATABASE IF NOT EXISTS shop2")
    for schema, table, key in TABLES:
        ktype = "BIGINT UNSIGNED" if key == "customer" else "BIGINT"
        cur.execute(f"DROP TABLE IF EXISTS {schema}.{table}")
        cur.execute(f"CREATE TABLE {schema}.{table} (id INT AUTO_INCREMENT "
                    f"PRIMARY KEY, {key} {ktype}, amount INT, note VARCHAR(64), "
                    f"KEY ({key})) ENGINE=InnoDB")
        rows = []
        for buyer in range(200):
            for copy in range(2 if table in ("orders", "carts") else 1):
                rows.append(f"({buyer}, {buyer * 10 + copy}, 'seed {buyer}')")
        cur.execute(f"INSERT INTO {schema}.{table} ({key}, amount, note) "
                    f"VALUES {', '.join(rows)}")
    conn.commit()


def allowed_sql(col):
    """SQL truth value: col holds a dc-a buyer that is not banned."""
    return (f"IFNULL({col} >= 0 AND (MOD({col}, {BUCKETS}) < {BANNED.start} OR "
            f"MOD({col}, {BUCKETS}) BETWEEN {BANNED.stop} AND 49), 0)")


def protected_where(key):
    return "1" if key is None else f"NOT {allowed_sql(key)}"


def snapshot_sql():
    parts = []
    for schema, table, key in PROTECTED:
        crc = ("CRC32(CONCAT_WS('|', id, IFNULL(" + (key or "buyer_id") +
               ", 'N'), IFNULL(amount, 'N'), IFNULL(HEX(note), 'N')))")
        parts.append(f"SELECT '{schema}.{table}', COUNT(*), "
                     f"IFNULL(BIT_XOR({crc}), 0) FROM {schema}.{table} "
                     f"WHERE {protected_where(key)}")
    return " UNION ALL ".join(parts)


def snapshot_take(direct):
    """Checksums of the protected rows, {table: (count, xor)}; a missing table
    shows as an error string (a dropped table is a violation too)."""
    cur = direct.cursor()
    try:
        cur.execute(SNAPSHOT_SQL)
        return {row[0]: (row[1], int(row[2])) for row in cur.fetchall()}
    except pymysql.MySQLError as e:
        return {"error": str(e)}


def rows_of(direct, name):
    schema, table = name.split(".")
    key = next(k for s, t, k in PROTECTED if s == schema and t == table)
    cur = direct.cursor()
    cur.execute(f"SELECT id, {key or 'buyer_id'}, amount, note FROM {name} "
                f"WHERE {protected_where(key)}")
    return set(cur.fetchall())


SNAPSHOT_SQL = snapshot_sql()


# ---- the client side ---------------------------------------------------------------

def connect(port, charset="utf8mb4"):
    return pymysql.connect(host="127.0.0.1", port=port, user=os.environ["UR_DB_USER"],
                           password=os.environ["UR_DB_PASSWORD"], database="unitroute",
                           autocommit=True, charset=charset, read_timeout=20,
                           write_timeout=20, client_flag=CLIENT.MULTI_STATEMENTS)


def lenenc(n):
    if n < 251:
        return bytes([n])
    if n < 65536:
        return b"\xfc" + struct.pack("<H", n)
    return b"\xfd" + struct.pack("<I", n)[:3]


def run_query(conn, item):
    """Send one COM_QUERY (bytes, latin1 text), read every result."""
    sql = item[0]
    raw = sql.encode("latin1", "replace") if isinstance(sql, str) else sql
    conn.query(raw)
    while conn._result is not None and conn._result.has_next:
        conn.next_result()


def read_until_eof(conn):
    while not conn._read_packet().is_eof_packet():
        pass


def stmt_prepare(conn, template):
    conn._execute_command(COMMAND.COM_STMT_PREPARE, template.encode("latin1", "replace"))
    ok = conn._read_packet()
    data = ok.get_all_data()
    stmt_id, ncols, nparams = struct.unpack("<IHH", data[1:9])
    if nparams:
        read_until_eof(conn)
    if ncols:
        read_until_eof(conn)
    return stmt_id, nparams


def stmt_execute(conn, stmt_id, nparams, params, bind_types):
    params = (params + [(0x08, 0, struct.pack("<q", 1))] * nparams)[:nparams]
    body = struct.pack("<IBI", stmt_id, 0, 1)
    if nparams:
        bitmap = bytearray((nparams + 7) // 8)
        for i, (_, _, v) in enumerate(params):
            if v is None:
                bitmap[i // 8] |= 1 << (i % 8)
        body += bytes(bitmap) + (b"\x01" if bind_types else b"\x00")
        if bind_types:
            body += b"".join(bytes([t, f]) for t, f, _ in params)
        for t, _, v in params:
            if v is None or v is LONG_DATA:
                continue
            body += lenenc(len(v)) + v if t in (0xfd, 0xfe, 0x0f, 0xf6, 0xfc) else v
    conn._execute_command(COMMAND.COM_STMT_EXECUTE, body)
    first = conn._read_packet()
    if first.is_ok_packet():
        conn.server_status = struct.unpack("<H", _ok_status(first.get_all_data()))[0]
        return
    ncols = first.read_length_encoded_integer()
    for _ in range(ncols):
        conn._read_packet()
    read_until_eof(conn)
    read_until_eof(conn)


def _ok_status(data):
    """Server status bytes of an OK packet (after two lenenc integers)."""
    pos = 1
    for _ in range(2):
        c = data[pos]
        pos += 1 + {0xfc: 2, 0xfd: 3, 0xfe: 8}.get(c, 0)
    return data[pos:pos + 2]


def run_prepared(conn, gen_item):
    """Prepare, execute 1-3 times (rebinding types or not), maybe send the
    first parameter (a buyer, as text) by COM_STMT_SEND_LONG_DATA, close."""
    template, executes, long_data = gen_item[0]
    stmt_id, nparams = stmt_prepare(conn, template)
    try:
        for n, params in enumerate(executes):
            if long_data and nparams:
                conn._execute_command(COMMAND.COM_STMT_SEND_LONG_DATA,
                                      struct.pack("<IH", stmt_id, 0) + long_data)
                params = [(0xfc, 0, LONG_DATA)] + params[1:]
            stmt_execute(conn, stmt_id, nparams, params, n == 0 or n % 2 == 1)
    finally:
        conn._execute_command(COMMAND.COM_STMT_CLOSE, struct.pack("<I", stmt_id))


# ---- the oracle loop ----------------------------------------------------------------

class Stats:
    def __init__(self):
        self.sent = 0
        self.ok = 0
        self.refused = {}
        self.server_errors = 0
        self.client_errors = 0
        self.trusted = 0          # changes under a trusted dc-a hint
        self.ignored = 0          # violations matching --ignore
        self.violations = []

    def line(self):
        refused = ",".join(f"{k}:{v}" for k, v in sorted(self.refused.items())) or "-"
        return (f"statements={self.sent} allowed_ok={self.ok} refused={sum(self.refused.values())}"
                f" ({refused}) server_errors={self.server_errors}"
                f" client_errors={self.client_errors} hint_trusted={self.trusted}"
                f" ignored={self.ignored}"
                f" violations={len(self.violations)}")


def outcome_of(exc, stats):
    if exc is None:
        stats.ok += 1
        return "ok"
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
    if code in PROXY_ERRNOS:
        stats.refused[code] = stats.refused.get(code, 0) + 1
        return f"refused {code}"
    if isinstance(exc, pymysql.MySQLError) and 1000 <= code < 7400:
        stats.server_errors += 1
        return f"server error {code}"
    stats.client_errors += 1
    return f"client error {type(exc).__name__} {exc}"


def describe_change(direct, before, after, cache):
    """Which protected rows were added/removed; updates cache."""
    out = []
    for name in after:
        if name == "error" or before.get(name) == after.get(name):
            continue
        now = rows_of(direct, name)
        old = cache.get(name, set())
        added = sorted(now - old, key=str)[:4]
        removed = sorted(old - now, key=str)[:4]
        out.append(f"{name}: +{added} -{removed}")
        cache[name] = now
    if "error" in after:
        out.append(f"snapshot error: {after['error']}")
    return "; ".join(out)


def session_open(port):
    conn = connect(port)
    conn.cursor().execute("SET @b0 = 5, @b1 = 150, @b2 = 42")
    return conn


def direct_open(port):
    """The snapshot connection: READ UNCOMMITTED, so a write inside an open
    transaction is seen (and blamed) at the statement that made it."""
    conn = connect(port)
    conn.cursor().execute("SET SESSION TRANSACTION ISOLATION LEVEL READ UNCOMMITTED")
    return conn


def next_item(gen):
    if gen.chance(0.06):
        return ("prepared", gen.prepared())
    if gen.chance(0.01):
        return ("init_db", (gen.pick(["shop2", "unitroute", "nosuch", "SHOP2"]), False))
    if gen.chance(0.005):
        return ("reset", (None, False))
    return ("query", gen.query())


def send(conn, item):
    """Run one item; returns the exception it raised, or None."""
    try:
        if item[0] == "query":
            run_query(conn, item[1])
        elif item[0] == "prepared":
            run_prepared(conn, item[1])
        elif item[0] == "reset":
            conn._execute_command(COM_RESET_CONNECTION, b"")
            conn._read_ok_packet()
        else:
            conn.select_db(item[1][0])
    except Exception as e:   # noqa: BLE001 - any failure is an outcome
        return e
    return None


def session_lost(exc):
    if exc is None:
        return False
    if not isinstance(exc, pymysql.MySQLError):
        return True
    return isinstance(exc, (pymysql.err.OperationalError, pymysql.err.InterfaceError)) \
        and exc.args and exc.args[0] in (0, 2006, 2013, 2014)


def in_transaction(conn):
    return bool(conn.open and conn.server_status is not None and
                conn.server_status & SERVER_STATUS.SERVER_STATUS_IN_TRANS)


def report(stats, kind, i, change, pending):
    """Print one violation (or hint-trusted change) with the statements of
    its transaction, the last one being the statement that made it."""
    print(f"{kind} at statement {i}: {change}")
    for j, it, res in pending[-6:]:
        print(f"    #{j} [{res}] {it!r}")


ROLLBACK_ONLY = re.compile(r"^\s*(/\*.*?\*/\s*)*ROLLBACK\b[^;]*;?\s*$", re.I | re.S)


def is_rollback(item):
    """A lone ROLLBACK [TO SAVEPOINT x]: it can only undo this transaction's changes."""
    kind, payload = item
    return kind == "query" and isinstance(payload[0], str) and bool(ROLLBACK_ONLY.match(payload[0]))


TX_END = re.compile(r"^\s*(COMMIT|ROLLBACK)(\s+WORK)?\s*"
                    r"(AND\s+CHAIN|;\s*(BEGIN|START\s+TRANSACTION)[^;]*)\s*;?\s*$", re.I)


def ends_transaction(item):
    """Does the query end a transaction (COMMIT / ROLLBACK, not ROLLBACK TO)?
    Still in one after it: AND CHAIN, or a BEGIN later in the same query."""
    kind, payload = item
    return kind == "query" and isinstance(payload[0], str) and bool(TX_END.match(payload[0]))


def restores(before, after, tx_start):
    """Does every table that changed go back to its state when the open
    transaction began (`ROLLBACK; START TRANSACTION` in one query)?"""
    changed = [t for t in set(before) | set(after) if before.get(t) != after.get(t)]
    return bool(changed) and all(after.get(t) == tx_start.get(t) for t in changed)


def run(args):
    gen = Gen(args.seed)
    gen.fresh_ids = args.fresh_ids
    direct = direct_open(args.db_port)
    conn = session_open(args.port)
    stats = Stats()
    cache = {n: rows_of(direct, n) for n in (f"{s}.{t}" for s, t, _ in PROTECTED)}
    before = snapshot_take(direct)
    pending = []                 # statements of the open transaction
    dirty = False                # the open transaction made a reported change
    tx_start = before            # the protected rows when it began
    deadline = time.time() + args.seconds
    for i in range(args.count):
        if time.time() > deadline:
            break
        item = next_item(gen)
        if not pending:
            tx_start = before
        stats.sent += 1
        exc = send(conn, item)
        result = outcome_of(exc, stats)
        pending.append((i, item, result))
        if args.verbose:
            print(f"#{i} {result}: {item!r}")
        if session_lost(exc):
            try:
                conn.close()
            except Exception:   # noqa: BLE001
                pass
            conn = session_open(args.port)
        in_trans = in_transaction(conn)
        after = snapshot_take(direct)
        if after != before:
            change = describe_change(direct, before, after, cache)
            if dirty and (not in_trans or is_rollback(item) or
                          restores(before, after, tx_start)):
                pass             # the rollback of a change already reported
            elif item[1][1]:
                stats.trusted += 1
                report(stats, "HINT-TRUSTED", i, change, pending)
                dirty = True
            elif args.ignore and re.search(args.ignore, repr(item)):
                stats.ignored += 1
                report(stats, "IGNORED (--ignore)", i, change, pending[-1:])
                dirty = True
            else:
                stats.violations.append((pending[-6:], change))
                report(stats, f"VIOLATION #{len(stats.violations)}", i, change, pending)
                dirty = True
                if len(stats.violations) >= args.max_violations:
                    break
        before = after
        if not in_trans or ends_transaction(item):
            pending = []         # COMMIT AND CHAIN, ROLLBACK; BEGIN: a new one
            dirty = False
    return stats


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, help="where statements go (the proxy)")
    p.add_argument("--db-port", type=int, required=True, help="MariaDB, for snapshots")
    p.add_argument("--direct", action="store_true", help="send to MariaDB itself (self-check)")
    p.add_argument("--setup", action="store_true", help="create and seed the schema, exit")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--count", type=int, default=3000)
    p.add_argument("--seconds", type=float, default=50)
    p.add_argument("--max-violations", type=int, default=MAX_VIOLATIONS)
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--ignore", metavar="REGEX",
                   help="exploring: violations whose statement matches are not counted")
    p.add_argument("--fresh-ids", action="store_true",
                   help="explicit ids never collide with existing rows")
    args = p.parse_args()
    if args.setup:
        schema_create(connect(args.db_port))
        return 0
    if args.direct:
        args.port = args.db_port
    t0 = time.time()
    stats = run(args)
    print(f"seed={args.seed} via={'direct' if args.direct else 'proxy'} "
          f"{stats.line()} seconds={time.time() - t0:.1f}")
    return 1 if stats.violations else 0


if __name__ == "__main__":
    sys.exit(main())
