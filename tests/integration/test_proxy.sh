#!/usr/bin/env bash
# unitproxy against a real MariaDB (tests/harness/mariadb-cluster.sh), with
# the real mariadb CLI, python3-pymysql and a libmariadb prepared-statement
# tool: authentication relay, allowed and refused writes for every reason,
# transactions, the ban drain, prepared statements, a 20 MB blob, a killed
# backend, malformed packets, 500 concurrent connections, persisted rules,
# TRUNCATE, DDL (7412, allow_ddl), CALL (hints, procedures_pass), client
# character sets (7413: the gbk 0xBF 0x5C bypass, latin1 0xA0), sql_mode
# ANSI_QUOTES (7414) and versioned comments by the server's version.
#
# Note: the mariadb/mysql CLI strips comments (and so /* sharding_key=N */
# hints) unless started with -c / --comments; the hint tests use -c and check
# that without it the hint is gone.
#
# Ports: MariaDB 3410; proxies 19311-19313, admin 19391-19393, a TCP
# forwarder 19320, a closed port 19329.
. "$(dirname "$0")/../lib/testlib.sh"

if [ -z "${UR_DB1_PORT:-}" ]; then
    exec bash "$UR_ROOT/tests/harness/mariadb-cluster.sh" with 1 3410 -- bash "$0" "$@"
fi

PY=/usr/bin/python3
# the prepared-statement tool: next to the binaries' build (build-asan/tools
# for build-asan/bin), else build/tools
TOOLS=${UR_TOOLS:-$(dirname "$UR_BIN")/tools}
[ -x "$TOOLS/proxy_stmt" ] || TOOLS=$UR_ROOT/build/tools
T=$(t_tmpdir)
SECRET=$(t_secret "$T")
PA=19311; PB=19312; PK=19313; AA=19391; AB=19392; AK=19393; FWD=19320; DEAD=19329

cat >"$T/topology.conf" <<EOF
secret_file = "secret.key";
center = "dc-a";
units = (
  { name = "dc-a"; public_url = "http://127.0.0.1:19081";
    gateway_admin = [ ]; proxy_admin = [ "127.0.0.1:$AA" ];
    db = { host = "127.0.0.1"; port = $UR_DB1_PORT; user = "unitroute"; password_file = "$UR_DB_PASSWORD_FILE"; }; },
  { name = "dc-b"; public_url = "http://127.0.0.1:19082";
    gateway_admin = [ ]; proxy_admin = [ "127.0.0.1:$AB" ];
    db = { host = "127.0.0.1"; port = $UR_DB1_PORT; user = "unitroute"; password_file = "$UR_DB_PASSWORD_FILE"; }; }
);
EOF
proxy_conf() { # proxy_conf NAME UNIT LISTEN BACKEND ADMIN [EXTRA]
    cat >"$T/$1.conf" <<EOF
unit = "$2";
topology = "topology.conf";
listen = "127.0.0.1:$3";
backend = "$(case $4 in /*) echo "$4" ;; *) echo "127.0.0.1:$4" ;; esac)";
admin = "127.0.0.1:$5";
state_file = "state/$1.rules";
log_level = "info";
workers = 2;
ban_drain_ms = 1000;
keepalive = { idle_s = 5; interval_s = 2; count = 2; user_timeout_ms = 8000; };
tables = (
  { name = "orders"; class = "unit"; column = "buyer_id"; },
  { name = "sellers"; class = "center"; }
);
$6
EOF
}
proxy_conf pa dc-a $PA "$UR_DB1_PORT" $AA
proxy_conf pb dc-b $PB "$UR_DB1_PORT" $AB "max_statement_bytes = 1048576;
allow_ddl = true;
procedures_pass = [ \"unitroute.add_log\" ];"
proxy_conf pk dc-a $PK $FWD $AK
proxy_conf pu dc-a 19316 "$UR_DB1_SOCKET" 19396     # the backend over its Unix socket

start_proxy() { # start_proxy NAME PORT
    t_start "unitproxy $1" "$T/$1.log" "$UR_BIN/unitproxy" -c "$T/$1.conf"
    eval "PID_$1=$T_LAST_PID"
    t_wait_port "$2" 10
}

# ---- configuration errors -------------------------------------------------------
printf 'unit = "dc-a";\nbogus = 1;\n' >"$T/bad.conf"
out=$("$UR_BIN/unitproxy" -c "$T/bad.conf" -t 2>&1)
t_match "an unknown key is an error with file:line" "bad.conf:2: unknown key 'bogus'" "$out"
t_match "the example configs are valid" "proxy-a.conf is valid" \
    "$("$UR_BIN/unitproxy" -t -c "$UR_ROOT/conf/proxy-a.conf" 2>&1)"
out=$("$UR_BIN/unitproxy" --help)
t_match "usage names -c and -t" "-c, --config FILE.*" "$out"
t_eq "docs/proxy.md shows the usage the binary prints" "$out" \
    "$(sed -n '/^usage: unitproxy/,/^signals/p' "$UR_ROOT/docs/proxy.md")"

start_proxy pa $PA
start_proxy pb $PB

DB="mariadb --no-defaults -h127.0.0.1 -u$UR_DB_USER -p$UR_DB_PASSWORD --skip-ssl unitroute"
q()  { $DB -P"$1" -N -B -e "$2" 2>&1; }     # q PORT SQL
qc() { $DB -P"$1" -N -B -c -e "$2" 2>&1; }  # with comments kept
root() { mariadb --no-defaults -S "$UR_DB1_SOCKET" -uroot -N -B unitroute -e "$1"; }

root "CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, buyer_id BIGINT,
      note VARCHAR(64), data LONGBLOB) ENGINE=InnoDB;
      CREATE TABLE sellers (id INT PRIMARY KEY, name VARCHAR(64));
      CREATE TABLE logs (id INT AUTO_INCREMENT PRIMARY KEY, msg VARCHAR(64));
      CREATE TABLE loads (id INT PRIMARY KEY, msg VARCHAR(64));
      CREATE PROCEDURE add_order(IN b BIGINT, IN n VARCHAR(64))
        INSERT INTO orders (buyer_id, note) VALUES (b, n);
      CREATE PROCEDURE add_log(IN m VARCHAR(64)) INSERT INTO logs (msg) VALUES (m)"

push() { # push ADMINPORT FILE: prints "HTTPCODE BODY"
    local sig
    sig=$(t_sign "$SECRET" "$2")
    curl -s -o "$T/push.out" -w '%{http_code}' -X PUT --data-binary @"$2" \
        -H "X-Unitroute-Signature: $sig" "http://127.0.0.1:$1/v1/rules"
    echo " $(cat "$T/push.out")"
}
rules() { # rules VERSION BANS
    cat <<EOF
version = $1L;
buckets = 10000;
ranges = ( { first = 0; last = 4999; unit = "dc-a"; },
           { first = 5000; last = 9999; unit = "dc-b"; } );
overrides = ( { buyer = 42L; unit = "dc-b"; } );
bans = ( $2 );
EOF
}

# ---- relay and no-rules ----------------------------------------------------------
aborted() { root "SHOW GLOBAL STATUS LIKE 'Aborted_clients'" | cut -f2; }
before=$(aborted)
t_eq "mysql CLI authenticates through the proxy" "1" "$(q $PA 'SELECT 1')"
q $PA 'SELECT 1' >/dev/null; q $PA 'SELECT 1' >/dev/null
sleep 0.2
t_eq "COM_QUIT is passed on: the server sees clean closes" "$before" "$(aborted)"
out=$(q $PA "INSERT INTO orders (buyer_id) VALUES (1001)")
t_match "without rules a unit write is refused (7407)" "ERROR 7407 \(UR007\)" "$out"
t_eq "without rules reads pass" "0" "$(q $PA 'SELECT COUNT(*) FROM orders')"
t_eq "without rules other tables pass" "" "$(q $PA "INSERT INTO logs (msg) VALUES ('x')")"

rules 1 "" >"$T/r1.conf"
t_match "a signed push is applied" '^200 .*"applied"' "$(push $AA "$T/r1.conf")"
t_match "the dc-b proxy takes the same rules" '^200 ' "$(push $AB "$T/r1.conf")"

# ---- allowed and refused writes ----------------------------------------------------
t_eq "a dc-a buyer's write passes in dc-a" "" "$(q $PA "INSERT INTO orders (buyer_id, note) VALUES (1001, 'a')")"
out=$(q $PA "INSERT INTO orders (buyer_id, note) VALUES (7001, 'b')")
t_match "a dc-b buyer's write is refused in dc-a (7402)" "ERROR 7402 \(UR002\).*buyer 7001 \(bucket 7001\).*dc-b.*dc-a" "$out"
t_eq "the same write passes in dc-b" "" "$(q $PB "INSERT INTO orders (buyer_id, note) VALUES (7001, 'b')")"
# the same through a proxy whose backend is MariaDB's Unix socket
start_proxy pu 19316
t_match "unix-socket backend: a signed push is applied" '^200 ' "$(push 19396 "$T/r1.conf")"
t_eq "unix-socket backend: the server sees a local connection" "localhost" \
    "$(q 19316 "SELECT SUBSTRING_INDEX(HOST, ':', 1) FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()")"
t_eq "unix-socket backend: a dc-a buyer's write passes" "" "$(q 19316 "INSERT INTO orders (buyer_id, note) VALUES (1002, 'u')")"
t_match "unix-socket backend: a dc-b buyer's write is refused (7402)" "ERROR 7402" \
    "$(q 19316 "INSERT INTO orders (buyer_id, note) VALUES (7002, 'u')")"
kill -TERM "$PID_pu"
printf 'unit = "dc-a";\ntopology = "topology.conf";\nlisten = "127.0.0.1:19317";\nbackend = "/%0200d";\nadmin = "127.0.0.1:19397";\n' 0 >"$T/longsock.conf"
t_match "a socket path too long for sun_path is refused" "longsock.conf:4: backend: value too long" \
    "$("$UR_BIN/unitproxy" -t -c "$T/longsock.conf" 2>&1)"
t_match "the override buyer 42 is dc-b's (7402)" "ERROR 7402" \
    "$(q $PA "UPDATE orders SET note = 'x' WHERE buyer_id = 42")"
t_match "a write without a key is refused (7401)" "ERROR 7401 \(UR001\)" \
    "$(q $PA "UPDATE orders SET note = 'x'")"
t_eq "with -c the hint is the key" "" \
    "$(qc $PA "/* sharding_key=1002 */ INSERT INTO orders (note) VALUES ('hint')")"
t_match "without -c the CLI strips the hint (7401)" "ERROR 7401" \
    "$(q $PA "/* sharding_key=1002 */ INSERT INTO orders (note) VALUES ('hint')")"
t_match "hint and statement disagree (7405)" "ERROR 7405 \(UR005\)" \
    "$(qc $PA "INSERT INTO orders (buyer_id) VALUES (1003) /* sharding_key=1004 */")"
t_match "keys of two units in one statement (7406)" "ERROR 7406 \(UR006\)" \
    "$(q $PA "INSERT INTO orders (buyer_id) VALUES (1005), (7005)")"
t_eq "a multi-row insert of local buyers passes" "" \
    "$(q $PA "INSERT INTO orders (buyer_id) VALUES (1006), (1007), (1008)")"
t_eq "center table written in the center" "" "$(q $PA "INSERT INTO sellers VALUES (1, 'one')")"
t_match "center table written outside the center (7404)" "ERROR 7404 \(UR004\)" \
    "$(q $PB "INSERT INTO sellers VALUES (2, 'two')")"
t_match "SELECT ... FOR UPDATE is a write (7402)" "ERROR 7402" \
    "$(q $PA "SELECT * FROM orders WHERE buyer_id = 7001 FOR UPDATE")"
t_match "UNION ... FOR UPDATE for a dc-b buyer is a write without a key (7401)" \
    "ERROR 7401 \(UR001\).*unit table \`orders\` without a sharding key" \
    "$(q $PA "(SELECT note FROM orders WHERE buyer_id = 1001) UNION
              (SELECT note FROM orders WHERE buyer_id = 7001 FOR UPDATE)")"
t_match "a locking subquery is a write too (7401)" "ERROR 7401 \(UR001\)" \
    "$(q $PA "SELECT id FROM logs WHERE id IN
              (SELECT id FROM orders WHERE buyer_id = 7001 LOCK IN SHARE MODE)")"
t_eq "with a hint for a dc-a buyer the UNION ... FOR UPDATE passes" "a" \
    "$(qc $PA "/* sharding_key=1001 */ SELECT note FROM orders WHERE buyer_id = 1001
               UNION SELECT note FROM orders WHERE buyer_id = 1001 FOR UPDATE")"
t_eq "reads of any buyer pass" "b" "$(q $PA "SELECT note FROM orders WHERE buyer_id = 7001")"
out=$(printf "INSERT INTO orders (buyer_id) VALUES (7002);\nSELECT 'still usable';\n" | $DB -P$PA -N -B --force 2>&1)
t_match "after a refusal the connection stays usable" "still usable" "$out"
t_eq "refused rows never reached the database" "0" \
    "$(root "SELECT COUNT(*) FROM orders WHERE buyer_id IN (7002, 7005, 1003, 1004, 1005)")"
t_match "XA transactions are refused (7410)" "ERROR 7410.*XA" "$(q $PA "XA START 'x'")"
out=$(q $PA "USE mysql; USE unitroute; INSERT INTO orders (buyer_id) VALUES (1009)")
t_eq "USE keeps table resolution" "" "$out"

# ---- TRUNCATE, DDL and CALL -------------------------------------------------------------
rows_before=$(root "SELECT COUNT(*) FROM orders")
t_match "TRUNCATE of the unit table is a write without a key (7401)" \
    "ERROR 7401 \(UR001\).*TRUNCATE of unit table \`orders\`" "$(q $PA "TRUNCATE TABLE orders")"
t_eq "after the refused TRUNCATE the table still has its rows" "$rows_before" \
    "$(root "SELECT COUNT(*) FROM orders")"
t_match "TRUNCATE of the center table outside the center (7404)" "ERROR 7404 \(UR004\)" \
    "$(q $PB "TRUNCATE sellers")"
t_match "ALTER of the unit table is refused (7412)" \
    "ERROR 7412 \(UR012\).*unitproxy ddl: ALTER TABLE on classified table \`orders\`.*not through unitproxy" \
    "$(q $PA "ALTER TABLE unitroute.orders ADD COLUMN extra INT")"
t_eq "the refused ALTER changed nothing" "" "$(root "SHOW COLUMNS FROM orders LIKE 'extra'")"
t_eq "DDL on an unclassified table passes" "" "$(q $PA "ALTER TABLE loads ADD COLUMN extra INT")"
t_match "CREATE INDEX on the unit table is refused without allow_ddl (7412)" "ERROR 7412" \
    "$(q $PA "CREATE INDEX i_note ON orders (note)")"
t_eq "with allow_ddl = true it passes" "" "$(q $PB "CREATE INDEX i_note ON orders (note)")"
t_eq "the index exists" "i_note" "$(root "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS
    WHERE TABLE_SCHEMA = 'unitroute' AND TABLE_NAME = 'orders' AND INDEX_NAME = 'i_note'")"
t_eq "CALL with a hint for this unit's buyer passes" "" \
    "$(qc $PA "/* sharding_key=1501 */ CALL add_order(1501, 'call')")"
t_eq "the procedure's write landed" "1" "$(root "SELECT COUNT(*) FROM orders WHERE buyer_id = 1501")"
t_match "CALL without a hint is refused (7401)" \
    "ERROR 7401 \(UR001\).*CALL \`unitroute.add_order\` needs a /\* sharding_key=N \*/ hint" \
    "$(q $PA "CALL add_order(1502, 'nohint')")"
t_match "CALL for another unit's buyer is refused (7402)" \
    "ERROR 7402 \(UR002\).*CALL \`unitroute.add_order\` for buyer 7501.*dc-b.*dc-a" \
    "$(qc $PA "/* sharding_key=7501 */ CALL add_order(7501, 'x')")"
# --delimiter: the CLI sends both statements as one multi-statement query
t_match "a CALL in a multi-statement is checked too (7401)" "ERROR 7401" \
    "$($DB -P$PA -N -B -c --delimiter='//' -e "/* sharding_key=1503 */ CALL add_order(1503, 'm');
                                                CALL add_order(1504, 'm') //" 2>&1)"
t_eq "refused CALLs wrote nothing" "0" \
    "$(root "SELECT COUNT(*) FROM orders WHERE buyer_id IN (1502, 1503, 1504, 7501)")"
t_eq "a procedure in procedures_pass passes without a hint" "" "$(q $PB "CALL add_log('pass')")"
t_match "the same CALL where it is not listed is refused (7401)" "ERROR 7401" \
    "$(q $PA "CALL add_log('pass')")"
t_eq "the listed procedure's write landed once" "1" "$(root "SELECT COUNT(*) FROM logs WHERE msg = 'pass'")"

# ---- pymysql: transactions, multi-statements, blob, malformed packets --------------
cat >"$T/client.py" <<'EOF'
import hashlib, os, socket, struct, sys, time
import pymysql
from pymysql.constants import CLIENT
port = int(sys.argv[2]); user = os.environ['UR_DB_USER']; pw = os.environ['UR_DB_PASSWORD']
def conn(**kw):
    return pymysql.connect(host='127.0.0.1', port=port, user=user, password=pw,
                           database='unitroute', autocommit=True, **kw)
def err(f):
    try:
        f(); return 'ok'
    except pymysql.MySQLError as e:
        return 'err %d' % e.args[0]
what = sys.argv[1]
if what == 'txn':
    c = conn(); k = c.cursor()
    k.execute("BEGIN"); k.execute("INSERT INTO orders (buyer_id, note) VALUES (1101, 'txn')")
    print(err(lambda: k.execute("INSERT INTO orders (buyer_id) VALUES (7101)")))
    k.execute("SELECT @@in_transaction"); print(k.fetchone()[0])
    k.execute("COMMIT")
    k.execute("SELECT COUNT(*) FROM orders WHERE buyer_id = 1101"); print(k.fetchone()[0])
elif what == 'multi':
    c = conn(client_flag=CLIENT.MULTI_STATEMENTS); k = c.cursor()
    print(err(lambda: k.execute("INSERT INTO orders (buyer_id) VALUES (1201); INSERT INTO orders (buyer_id) VALUES (7201)")))
    k.execute("SELECT COUNT(*) FROM orders WHERE buyer_id IN (1201, 7201)"); print(k.fetchone()[0])
    k.execute("INSERT INTO orders (buyer_id) VALUES (1202); SELECT 5; INSERT INTO orders (buyer_id) VALUES (1203)")
    while k.nextset(): pass
    k.execute("SELECT COUNT(*) FROM orders WHERE buyer_id IN (1202, 1203)"); print(k.fetchone()[0])
elif what == 'nbe':
    # sql_mode NO_BACKSLASH_ESCAPES: 'x\' ends a string, so a second row follows
    sneaky = "INSERT INTO orders (buyer_id, note) VALUES (1001, 'x\\'), (7001, '')"
    c = conn(client_flag=CLIENT.MULTI_STATEMENTS); k = c.cursor()
    print(err(lambda: k.execute("SET sql_mode = 'NO_BACKSLASH_ESCAPES'; " + sneaky)))
    while k.nextset(): pass
    k.execute("SET sql_mode = 'NO_BACKSLASH_ESCAPES'")
    print(err(lambda: k.execute(sneaky)))
    k.execute("SELECT COUNT(*) FROM orders WHERE buyer_id = 7001 AND note = ''"); print(k.fetchone()[0])
elif what == 'charset':
    # gbk: 0xBF 0x5C is one character for the server, an escape for a
    # byte-wise reader: the proxy would see one string where the server
    # runs an INSERT. Directly against the server it inserts:
    bypass = b"SELECT 1 AS a FROM dual WHERE '\xbf\x5c' <> ''; INSERT INTO orders (buyer_id, note) VALUES (7901, 'gbk') -- '"
    def rawq(c, b):
        try:
            c._execute_command(3, b); c._read_query_result()
            while c._result and c._result.has_next: c.next_result()
            return 'ok'
        except pymysql.MySQLError as e:
            return 'err %d' % e.args[0]
    d = pymysql.connect(host='127.0.0.1', port=int(sys.argv[3]), user=user, password=pw,
                        database='unitroute', autocommit=True, client_flag=CLIENT.MULTI_STATEMENTS)
    rawq(d, b"SET NAMES gbk")
    print('direct', rawq(d, bypass))
    dk = d.cursor(); dk.execute("SELECT COUNT(*) FROM orders WHERE buyer_id = 7901"); print(dk.fetchone()[0])
    dk.execute("DELETE FROM orders WHERE buyer_id = 7901")
    # through the proxy: SET NAMES gbk refused, the connection still usable
    c = conn(client_flag=CLIENT.MULTI_STATEMENTS); k = c.cursor()
    print('names', rawq(c, b"SET NAMES gbk"))
    print('var', rawq(c, b"SET @@session.character_set_client = @cs"))
    print('multi', rawq(c, b"SET NAMES utf8mb4; SET character_set_client = 28; " + bypass[:20]))
    print('bypass', rawq(c, bypass))            # utf8mb4: the server reads it as the proxy does
    k.execute("SELECT @@character_set_client"); print(k.fetchone()[0])
    # a gbk handshake is refused
    print('handshake', err(lambda: conn(charset='gbk')))
    # latin1: 0xA0 separates words; utf8mb4: it does not
    nbsp = b"INSERT\xa0INTO orders (buyer_id, note) VALUES (7902, 'nbsp')"
    l = conn(charset='latin1')
    print('latin1', rawq(l, nbsp), rawq(l, b"INSERT\xa0INTO orders (buyer_id, note) VALUES (1902, 'nbsp')"))
    print('utf8mb4', rawq(c, nbsp))
    print('set-latin1', rawq(c, b"SET NAMES latin1; " + nbsp))
    rawq(c, b"SET NAMES latin1")
    print('after', rawq(c, nbsp))
    k.execute("SELECT COUNT(*) FROM orders WHERE buyer_id = 7902"); print(k.fetchone()[0])
    k.execute("SELECT COUNT(*) FROM orders WHERE buyer_id = 1902"); print(k.fetchone()[0])
    k.execute("SELECT COUNT(*) FROM orders WHERE buyer_id = 7901"); print(k.fetchone()[0])
elif what == 'sqlmode':
    c = conn(client_flag=CLIENT.MULTI_STATEMENTS); k = c.cursor()
    ansi = "INSERT INTO \"orders\" (buyer_id, note) VALUES (7903, 'ansi')"
    for s in ["SET sql_mode = 'ANSI_QUOTES'", "SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')",
              "SET @@session.sql_mode = 'TRADITIONAL,ANSI'; " + ansi,
              "SET STATEMENT sql_mode = 'ANSI_QUOTES' FOR " + ansi, "SET GLOBAL sql_mode = 4",
              "EXECUTE IMMEDIATE 'SET sql_mode = @m'"]:
        print(err(lambda: k.execute(s)))
        while k.nextset(): pass
    k.execute("SELECT @@sql_mode LIKE '%ANSI%'"); print(k.fetchone()[0])
    k.execute("SET sql_mode = 'PIPES_AS_CONCAT,STRICT_TRANS_TABLES'")
    print(err(lambda: k.execute("DELETE FROM orders WHERE buyer_id = 1 || 1")))
    k.execute("SELECT COUNT(*) FROM orders WHERE buyer_id = 7903"); print(k.fetchone()[0])
elif what == 'versioned':
    c = conn(client_flag=CLIENT.MULTI_STATEMENTS); k = c.cursor()
    # what mariadb-dump writes: run as code on 10.11 (no longer refused)
    print(err(lambda: k.execute("/*M!100616 SET @OLD_NOTE_VERBOSITY=@@NOTE_VERBOSITY, NOTE_VERBOSITY=0 */")))
    print(err(lambda: k.execute("/*!40101 SET NAMES utf8mb4 */")))
    # above the server's version: a comment, for the proxy too
    print(err(lambda: k.execute("SELECT 1 /*!999999 'x */")))
    print(err(lambda: k.execute("DELETE FROM orders WHERE buyer_id = 1904 /*!999999 OR 1 */")))
    print(err(lambda: k.execute("DELETE FROM orders WHERE buyer_id = 1904 /*!100000 OR 1 */")))
    print(err(lambda: k.execute("SELECT 1 /*!999999 /* x */ ; INSERT INTO orders (buyer_id) VALUES (7904) */")))
    k.execute("SELECT COUNT(*) FROM orders WHERE buyer_id = 7904"); print(k.fetchone()[0])
elif what == 'blob':
    c = conn(max_allowed_packet=64 << 20); k = c.cursor()
    data = os.urandom(20 << 20)
    k.execute("INSERT INTO orders (buyer_id, note, data) VALUES (1301, 'blob', %s)", (data,))
    k.execute("SELECT data FROM orders WHERE buyer_id = 1301")
    got = k.fetchone()[0]
    print('same' if hashlib.sha256(got).digest() == hashlib.sha256(data).digest() else 'differ %d' % len(got))
    k.execute("SELECT REPEAT('x', 18 * 1024 * 1024)")
    print(len(k.fetchone()[0]))
elif what == 'toolarge':
    c = conn(max_allowed_packet=64 << 20); k = c.cursor()
    print(err(lambda: k.execute("INSERT INTO logs (msg) VALUES (%s)", ('x' * (2 << 20),))))
    k.execute("SELECT 'usable'"); print(k.fetchone()[0])
elif what == 'drain':
    # argv[3] = mode: idle (killed at ban_drain_ms) | commit (commits in time)
    import subprocess
    c = conn(); k = c.cursor()
    k.execute("BEGIN"); k.execute("INSERT INTO orders (buyer_id, note) VALUES (1777, %s)", (sys.argv[3],))
    t0 = time.time()
    p = subprocess.Popen(sys.argv[4:], stdout=subprocess.PIPE, text=True)
    if sys.argv[3] == 'commit':
        time.sleep(0.3)
        print('other', err(lambda: k.execute("INSERT INTO orders (buyer_id) VALUES (1778)")))
        print('commit', err(lambda: k.execute("COMMIT")))
        out = p.communicate()[0]
    else:
        out = p.communicate()[0]
        print('commit', err(lambda: k.execute("COMMIT")))
    print('push', out.split()[0] if out else 'none', '%.1f' % (time.time() - t0))
elif what == 'malformed':
    def raw(payloads, auth=True):
        s = socket.create_connection(('127.0.0.1', port)); s.settimeout(3)
        if auth:
            c = conn(); s.close(); s = c._sock; s.settimeout(3)
        else:
            s.recv(4096)
        for p in payloads:
            s.sendall(p)
        try:
            d = s.recv(4096)
        except socket.timeout:
            d = b'timeout'
        s.close()
        return d
    def pkt(payload, seq=0):
        return struct.pack('<I', len(payload))[:3] + bytes([seq]) + payload
    r = raw([pkt(b'\x99garbage')]); print('unknown', r[4:5].hex(), struct.unpack('<H', r[5:7])[0] if len(r) > 6 else -1)
    r = raw([pkt(b'')]); print('empty', r[4:5].hex())
    r = raw([pkt(b'\x17\x01')]); print('short-execute', r[4:5].hex())
    big = b'\xff\xff\xff\x00' + b'\x03' + b'x' * (0xffffff - 1)
    r = raw([big + pkt(b'yyy', 7)]); print('badseq', r[4:5].hex() if len(r) > 4 else 'closed')
    r = raw([pkt(b'\x00\x00\x00\x00garbage-handshake', 1)], auth=False); print('handshake', r[4:5].hex() if len(r) > 4 else 'closed')
    r = raw([b'\x01\x00'], auth=False); print('torn', r if r else 'closed')
    c = conn(); k = c.cursor(); k.execute("SELECT 'alive'"); print(k.fetchone()[0])
elif what == 'race':
    # writers hammer buyer 1888 (autocommit and 3-statement transactions)
    # while a ban on its bucket is pushed; after the ack the row count must
    # not move. argv[3:] = the push command.
    import subprocess, threading
    stop = time.time() + 4; errors = {}
    def writer(i):
        c = None
        while time.time() < stop:
            try:
                if c is None:
                    c = conn(); k = c.cursor()
                if i % 2:
                    k.execute("INSERT INTO orders (buyer_id, note) VALUES (1888, 'race')")
                else:
                    k.execute("BEGIN")
                    for _ in range(3):
                        k.execute("INSERT INTO orders (buyer_id, note) VALUES (1888, 'race')")
                        time.sleep(0.01)
                    k.execute("COMMIT")
            except pymysql.MySQLError as e:
                errors[e.args[0]] = errors.get(e.args[0], 0) + 1
                try:
                    c.rollback()
                except Exception:
                    c = None
                time.sleep(0.01)
    ts = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in ts: t.start()
    time.sleep(1)
    code = subprocess.run(sys.argv[3:], capture_output=True, text=True).stdout
    d = pymysql.connect(unix_socket=os.environ['UR_DB1_SOCKET'], user='root', database='unitroute')
    dk = d.cursor()
    dk.execute("SELECT COUNT(*) FROM orders WHERE buyer_id = 1888"); at_ack = dk.fetchone()[0]
    for t in ts: t.join()
    time.sleep(0.5)
    dk.execute("SELECT COUNT(*) FROM orders WHERE buyer_id = 1888"); later = dk.fetchone()[0]
    print('push', code, 'rows>0', at_ack > 0, 'moved', later - at_ack,
          'refused', sum(v for k, v in errors.items() if k in (7403, 7408)) > 0)
elif what == 'many':
    n = int(sys.argv[3]); cs = []
    for i in range(n):
        cs.append(conn())
    print('open', len(cs))
    sys.stdout.flush()
    time.sleep(float(sys.argv[4]))
    ok = 0
    for c in cs:
        k = c.cursor(); k.execute("SELECT 1"); ok += k.fetchone()[0]
    print('answered', ok)
    for c in cs:
        c.close()
elif what == 'fwd':
    # a TCP forwarder that plays the backend; killed by the test
    import threading
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(('127.0.0.1', int(sys.argv[3]))); ls.listen(64)
    def pipe(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d: break
                b.sendall(d)
        except OSError: pass
        for s in (a, b):
            try: s.shutdown(socket.SHUT_RDWR)
            except OSError: pass
    while True:
        a, _ = ls.accept()
        b = socket.create_connection(('127.0.0.1', port))
        threading.Thread(target=pipe, args=(a, b), daemon=True).start()
        threading.Thread(target=pipe, args=(b, a), daemon=True).start()
elif what == 'hold':
    c = conn(); k = c.cursor(); k.execute("SELECT 1")
    print('connected'); sys.stdout.flush()
    time.sleep(float(sys.argv[3]))
    print(err(lambda: k.execute("SELECT 1")))
EOF
py() { "$PY" "$T/client.py" "$@" 2>&1; }

out=$(py txn $PA | tr '\n' ' ')
t_eq "a refusal inside a transaction leaves it open and intact" "err 7402 1 1 " "$out"
out=$(py multi $PA | tr '\n' ' ')
t_eq "multi-statements: one refused statement refuses the whole query" "err 7402 0 2 " "$out"
out=$(py nbe $PA | tr '\n' ' ')
t_match "NO_BACKSLASH_ESCAPES (set before, or in the same query) is followed" "^err 740[16] err 7406 0 $" "$out"
out=$(py charset $PA $UR_DB1_PORT | tr '\n' ' ')
t_eq "gbk: the 0xBF 0x5C bypass inserts directly; through the proxy SET NAMES gbk, a variable, a collation id and a gbk handshake are refused (7413), on utf8mb4 the server reads it as the proxy does (no INSERT), latin1 0xA0 is whitespace exactly on latin1" \
    "direct ok 1 names err 7413 var err 7413 multi err 7413 bypass err 1064 utf8mb4 handshake err 7413 latin1 err 7402 ok utf8mb4 err 1064 set-latin1 err 7402 after err 7402 0 1 0 " "$out"
out=$(py sqlmode $PA | tr '\n' ' ')
t_eq "sql_mode with ANSI_QUOTES / ANSI or not a literal is refused (7414), connection usable; PIPES_AS_CONCAT keeps || unusable as a key" \
    "err 7414 err 7414 err 7414 err 7414 err 7414 err 7414 0 err 7401 0 " "$out"
out=$(py versioned $PA | tr '\n' ' ')
t_eq "versioned comments follow the server's version (10.11): mariadb-dump lines pass, later versions are comments" \
    "ok ok ok ok err 7401 ok 0 " "$out"
out=$(py blob $PA | tr '\n' ' ')
t_eq "a 20 MB blob round trip, an 18 MB row" "same 18874368 " "$out"
out=$(py toolarge $PB | tr '\n' ' ')
t_eq "a command over max_statement_bytes is refused (7409), connection usable" "err 7409 usable " "$out"

# ---- prepared statements (binary protocol, libmariadb) ------------------------------
st() { "$TOOLS/proxy_stmt" $PA "$UR_DB_USER" "$UR_DB_PASSWORD" unitroute "$@" 2>&1 | tr '\n' ' '; }
t_eq "prepared insert of a local buyer, executed twice" "ok 1 0 ok 1 0 " \
    "$(st "INSERT INTO orders (buyer_id, note) VALUES (?, ?)" -n 2 1401 s:ps)"
t_match "prepared insert of a dc-b buyer is refused at execute (7402)" "^error 7402 UR002" \
    "$(st "INSERT INTO orders (buyer_id, note) VALUES (?, ?)" 7401 s:ps)"
t_match "a NULL key parameter is refused (7401)" "^error 7401" \
    "$(st "INSERT INTO orders (buyer_id, note) VALUES (?, ?)" null s:ps)"
t_match "a keyless prepared write is refused at prepare (7401)" "^prepare-error 7401" \
    "$(st "UPDATE orders SET note = ?" s:x)"
t_eq "prepared update with the key as a string parameter" "ok 2 0 " \
    "$(st "UPDATE orders SET note = ? WHERE buyer_id = ?" s:upd s:1401)"
t_eq "prepared read with a foreign key passes, three times" "ok 1 1 ok 1 1 ok 1 1 " \
    "$(st "SELECT note FROM orders WHERE buyer_id = ?" -n 3 7001)"

t_match "PREPARE + EXECUTE back to back (id -1) is checked (7402)" "^error 7402" \
    "$(st "INSERT INTO orders (buyer_id) VALUES (?)" --direct 7402)"
t_eq "PREPARE + EXECUTE back to back of a local buyer" "ok 1 " \
    "$(st "INSERT INTO orders (buyer_id) VALUES (?)" --direct 1402)"
t_eq "a cursor fetches rows one COM_STMT_FETCH at a time" "ok 0 3 ok 0 3 " \
    "$(st "SELECT id FROM orders WHERE buyer_id IN (1006, 1007, ?)" --cursor -n 2 1008 | sed 's/ok [0-9]* /ok 0 /g')"
t_match "SQL-level PREPARE of a unit write is refused (7401)" "ERROR 7401.*PREPARE" \
    "$(q $PA "PREPARE s FROM 'INSERT INTO orders (buyer_id) VALUES (1403)'")"
t_match "EXECUTE IMMEDIATE is checked like the statement (7402)" "ERROR 7402" \
    "$(q $PA "EXECUTE IMMEDIATE 'INSERT INTO orders (buyer_id) VALUES (7403)'")"
t_eq "EXECUTE IMMEDIATE of a local buyer passes" "" \
    "$(q $PA "EXECUTE IMMEDIATE 'INSERT INTO orders (buyer_id) VALUES (1404)'")"
t_match "a prepared CALL with a hint for this unit's buyer runs" "^ok 1 " \
    "$(st "/* sharding_key=1505 */ CALL add_order(?, ?)" 1505 s:pcall)"
t_match "a prepared CALL without a hint is refused at prepare (7401)" "^prepare-error 7401" \
    "$(st "CALL add_order(?, ?)" 1506 s:pcall)"
t_match "a prepared CALL for a dc-b buyer is refused at execute (7402)" "^error 7402" \
    "$(st "/* sharding_key=7506 */ CALL add_order(?, ?)" 7506 s:pcall)"
t_match "EXECUTE IMMEDIATE of a CALL without a hint is refused (7401)" "ERROR 7401" \
    "$(q $PA "EXECUTE IMMEDIATE 'CALL add_order(1507, ''x'')'")"

# ---- authentication plugins, change user, LOAD DATA LOCAL -----------------------------
root "INSTALL SONAME 'auth_ed25519'" >/dev/null 2>&1
root "CREATE USER 'ed'@'127.0.0.1' IDENTIFIED VIA ed25519 USING PASSWORD('edpw');
      GRANT ALL ON unitroute.* TO 'ed'@'127.0.0.1'"
t_eq "ed25519 authentication (auth switch) through the proxy" "ed@127.0.0.1" \
    "$(mariadb --no-defaults -h127.0.0.1 -P$PA -ued -pedpw --skip-ssl -N -B -e 'SELECT CURRENT_USER()' 2>&1)"
t_match "a wrong password is the server's answer" "ERROR 1045" \
    "$(mariadb --no-defaults -h127.0.0.1 -P$PA -ued -pnope --skip-ssl -e 'SELECT 1' 2>&1)"
t_eq "COM_CHANGE_USER relays a new authentication, statements still checked" "user ed@127.0.0.1 error" \
    "$(st "INSERT INTO orders (buyer_id) VALUES (?)" -C ed:edpw 7405 | cut -d' ' -f1-3)"
seq 1 2000 | awk '{print $1"\tline"$1}' >"$T/data.tsv"
LD="$DB -P$PA --local-infile=1 -N -B"
t_eq "LOAD DATA LOCAL into an unclassified table streams the file" "2000" \
    "$($LD -e "LOAD DATA LOCAL INFILE '$T/data.tsv' INTO TABLE loads (id, msg); SELECT COUNT(*) FROM loads WHERE msg LIKE 'line%'" 2>&1)"
t_match "LOAD DATA into a unit table needs a hint (7401)" "ERROR 7401" \
    "$($LD -e "LOAD DATA LOCAL INFILE '$T/data.tsv' INTO TABLE orders (@i, note)" 2>&1)"
t_eq "LOAD DATA with a hint (mariadb -c)" "2000" \
    "$($LD -c -e "/* sharding_key=1500 */ LOAD DATA LOCAL INFILE '$T/data.tsv' INTO TABLE orders (@i, note) SET buyer_id = 1500; SELECT COUNT(*) FROM orders WHERE buyer_id = 1500" 2>&1)"

# ---- bans and the drain ---------------------------------------------------------
rules 2 "{ first = 1777; last = 1778; }" >"$T/r2.conf"
sig2=$(t_sign "$SECRET" "$T/r2.conf")
PUSH2=(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary @"$T/r2.conf"
       -H "X-Unitroute-Signature: $sig2" "http://127.0.0.1:$AA/v1/rules")
out=$(py drain $PA idle "${PUSH2[@]}" | tr '\n' ' ')
t_match "an idle transaction that wrote the banned bucket is closed at ban_drain_ms" \
    "^commit err 20(13|06) push 200 1\.[0-9] $" "$out"
t_eq "... and its write never committed" "0" "$(root "SELECT COUNT(*) FROM orders WHERE buyer_id = 1777")"
t_match "a write for the banned bucket is refused, retryable (7403)" "ERROR 7403 \(UR003\).*bucket 1777" \
    "$(q $PA "INSERT INTO orders (buyer_id) VALUES (1777)")"
t_eq "other buckets still take writes" "" "$(q $PA "INSERT INTO orders (buyer_id) VALUES (1779)")"
rules 3 "" >"$T/r3.conf"
t_match "the ban is lifted" '^200 ' "$(push $AA "$T/r3.conf")"
rules 4 "{ first = 1777; last = 1778; }" >"$T/r4.conf"
sig4=$(t_sign "$SECRET" "$T/r4.conf")
PUSH4=(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary @"$T/r4.conf"
       -H "X-Unitroute-Signature: $sig4" "http://127.0.0.1:$AA/v1/rules")
out=$(py drain $PA commit "${PUSH4[@]}" | tr '\n' ' ')
t_match "during the drain the transaction may only end: other writes refused (7403/7408), COMMIT passes, ack after it" \
    "^other err 740[38] commit ok push 200 0\.[0-9] $" "$out"
t_eq "... the commit happened before the ack" "1" \
    "$(root "SELECT COUNT(*) FROM orders WHERE buyer_id = 1777 AND note = 'commit'")"
rules 5 "" >"$T/r5.conf"
t_match "the ban is lifted again" '^200 ' "$(push $AA "$T/r5.conf")"
rules 6 "{ first = 1888; last = 1888; }" >"$T/r6.conf"
sig6=$(t_sign "$SECRET" "$T/r6.conf")
out=$(py race $PA curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary @"$T/r6.conf" \
      -H "X-Unitroute-Signature: $sig6" "http://127.0.0.1:$AA/v1/rules")
t_eq "8 writers racing a ban: nothing commits after the ack, later writes refused" \
    "push 200 rows>0 True moved 0 refused True" "$out"
m=$(curl -s "http://127.0.0.1:$AA/metrics")
t_match "metrics count drains and kills" "unitproxy_drain_kills_total [1-9]" "$m"
t_match "metrics count refusals by reason" 'unitproxy_refusals_total\{reason="wrong_unit",code="7402"\} [1-9]' "$m"
t_match "metrics count statements by class and outcome" 'unitproxy_statements_total\{class="write",outcome="allowed"\} [1-9]' "$m"

# ---- malformed packets ---------------------------------------------------------------
out=$(py malformed $PA | tr '\n' ' ')
t_match "malformed packets get an ERR or a close, never a crash" \
    "^unknown ff 7410 empty ff short-execute ff badseq (ff|closed) handshake (ff|closed) torn .* alive $" "$out"
t_check "the proxy is still running" kill -0 "$PID_pa"

# ---- a killed backend ------------------------------------------------------------------
proxy_conf pdead dc-a 19314 $DEAD 19394
start_proxy pdead 19314
t_match "an unreachable backend gives error 7420" "ERROR 7420 \(08S01\).*127.0.0.1:$DEAD" "$(q 19314 'SELECT 1')"
t_start "forwarder" "$T/fwd.log" "$PY" "$T/client.py" fwd "$UR_DB1_PORT" $FWD
FWD_PID=$T_LAST_PID
t_wait_port $FWD 10
start_proxy pk $PK
"$PY" "$T/client.py" hold $PK 1.5 >"$T/hold.out" 2>&1 &
HOLD_PID=$!
t_cleanup "kill $HOLD_PID"
for _ in $(seq 50); do grep -q connected "$T/hold.out" && break; sleep 0.05; done
{ kill -KILL $FWD_PID; wait $FWD_PID; } 2>/dev/null
wait $HOLD_PID
t_match "a backend that dies mid-session: the client gets an error" "^err 20(13|06)" "$(tail -n1 "$T/hold.out")"
t_match "new connections are refused with 7420 while it is down" "ERROR 7420" "$(q $PK 'SELECT 1')"
t_check "the proxy survived" kill -0 "$PID_pk"

# ---- keepalive -----------------------------------------------------------------------
"$PY" "$T/client.py" hold $PA 1 >/dev/null 2>&1 &
HOLD_PID=$!
sleep 0.5
ka=$(ss -tnoH state established "( sport = :$PA )" 2>/dev/null)
t_match "client sockets carry the keepalive timer" "keepalive" "$ka"
ka=$(ss -tnoH state established "( dport = :$UR_DB1_PORT )" 2>/dev/null)
t_match "backend sockets carry the keepalive timer" "keepalive" "$ka"
wait $HOLD_PID

# ---- 500 concurrent connections ----------------------------------------------------
"$PY" "$T/client.py" many $PA 500 2 >"$T/many.out" 2>&1 &
MANY_PID=$!
t_cleanup "kill $MANY_PID"
for _ in $(seq 200); do grep -q open "$T/many.out" && break; sleep 0.1; done
conns=$(curl -s "http://127.0.0.1:$AA/v1/status" | sed -n 's/.*"connections":\([0-9]*\).*/\1/p')
wait $MANY_PID
t_eq "500 concurrent connections open and answer" "open 500 answered 500 " "$(tr '\n' ' ' <"$T/many.out")"
t_eq "status counted them" "500" "$conns"

# ---- restart: rules persisted -------------------------------------------------------
stop_proxy() { # stop_proxy NAME: SIGTERM, wait for a clean exit, check its log
    local pid
    eval "pid=\$PID_$1"
    kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$pid" 2>/dev/null; then
        t_fail "proxy $1 stops on SIGTERM"
    elif grep -qE "Sanitizer|runtime error" "$T/$1.log"; then
        t_fail "proxy $1 exits without sanitizer reports" "$(grep -m3 -E "Sanitizer|runtime error|#[0-9] " "$T/$1.log")"
    else
        t_ok "proxy $1 stops cleanly on SIGTERM (no leak or sanitizer report)"
    fi
    cp "$T/$1.log" "$T/$1.log.old"
}
stop_proxy pa
start_proxy pa $PA
t_match "after a restart the persisted rules (v6, ban) are in force" "ERROR 7403" \
    "$(q $PA "INSERT INTO orders (buyer_id) VALUES (1888)")"
t_match "status shows the persisted version" '"rule_version": 6' "$(curl -s "http://127.0.0.1:$AA/v1/status")"
t_match "a stale push is refused" '^409 ' "$(push $AA "$T/r1.conf")"

stop_proxy pa
stop_proxy pb
stop_proxy pk
stop_proxy pdead
t_done
