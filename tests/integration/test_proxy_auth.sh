#!/usr/bin/env bash
# unitproxy relays caching_sha2_password authentication untouched, in every
# path, with a real client implementation (python3-pymysql) and a fake MySQL 8
# server (tests/tools/fake_mysql_sha2.py: MariaDB has no caching_sha2_password
# and Debian ships no MySQL server):
#   fast path (the server has the account's hash cached): 0x01 0x03, OK
#   full path (fresh cache): 0x01 0x04, public key request 0x02, the PEM in
#     AuthMoreData, the RSA-OAEP encrypted password, OK
#   a wrong password: ERR 1045 relayed
#   auth switch from mysql_native_password (0xfe) to caching_sha2_password,
#     with pymysql (full path) and with a raw client (fast path)
# Each path is checked directly against the fake (to show the fake is right)
# and through the proxy, and the proxy's greeting must mask what it cannot
# inspect (TLS, compression, zstd, query attributes, optional metadata),
# which the fake advertises like MySQL 8 does.
#
# Ports: fake server 19801 (greets with caching_sha2_password) and 19802
# (greets with mysql_native_password); proxies 19811, 19812; admin 19891,
# 19892.
# Needs python3-pymysql and python3-cryptography.
. "$(dirname "$0")/../lib/testlib.sh"

PY=/usr/bin/python3
FAKE=$UR_ROOT/tests/tools/fake_mysql_sha2.py
T=$(t_tmpdir)
SECRET=$(t_secret "$T")
F1=19801; F2=19802; P1=19811; P2=19812; A1=19891; A2=19892
USER=app; PASS='s3cret-Pa55'

if ! $PY -c 'import pymysql, cryptography' 2>/dev/null; then
    t_fail "python3-pymysql and python3-cryptography are installed"
    t_done; exit
fi

# ---- the fake server and two proxies --------------------------------------------
t_start "fake mysql" "$T/fake.log" $PY "$FAKE" --listen "$F1" \
    --listen "$F2:mysql_native_password" --user "$USER:$PASS" --user "other:x"
t_wait_port $F1 15 && t_wait_port $F2 5

echo unused >"$T/db.password"
cat >"$T/topology.conf" <<EOF
secret_file = "secret.key";
center = "dc-a";
units = (
  { name = "dc-a"; public_url = "http://127.0.0.1:19881";
    gateway_admin = [ ]; proxy_admin = [ "127.0.0.1:$A1" ];
    db = { host = "127.0.0.1"; port = $F1; user = "$USER"; password_file = "db.password"; }; },
  { name = "dc-b"; public_url = "http://127.0.0.1:19882";
    gateway_admin = [ ]; proxy_admin = [ "127.0.0.1:$A2" ];
    db = { host = "127.0.0.1"; port = $F2; user = "$USER"; password_file = "db.password"; }; }
);
EOF
proxy_conf() { # proxy_conf NAME UNIT LISTEN BACKEND ADMIN
    cat >"$T/$1.conf" <<EOF
unit = "$2";
topology = "topology.conf";
listen = "127.0.0.1:$3";
backend = "127.0.0.1:$4";
admin = "127.0.0.1:$5";
state_file = "state/$1.rules";
workers = 1;
tables = ( { name = "orders"; class = "unit"; column = "buyer_id"; } );
EOF
}
proxy_conf p1 dc-a $P1 $F1 $A1
proxy_conf p2 dc-b $P2 $F2 $A2
t_start "unitproxy p1" "$T/p1.log" "$UR_BIN/unitproxy" -c "$T/p1.conf"; PID1=$T_LAST_PID
t_start "unitproxy p2" "$T/p2.log" "$UR_BIN/unitproxy" -c "$T/p2.conf"; PID2=$T_LAST_PID
t_wait_port $P1 10 && t_wait_port $P2 10

cat >"$T/rules.conf" <<EOF
version = 1L;
buckets = 10000;
ranges = ( { first = 0; last = 4999; unit = "dc-a"; },
           { first = 5000; last = 9999; unit = "dc-b"; } );
bans = ( );
EOF
sig=$(t_sign "$SECRET" "$T/rules.conf")
for a in $A1 $A2; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary @"$T/rules.conf" \
        -H "X-Unitroute-Signature: $sig" "http://127.0.0.1:$a/v1/rules")
    t_eq "signed rules pushed to the proxy on admin port $a" "200" "$code"
done

# ---- clients ----------------------------------------------------------------
# cli.py PORT USER PASSWORD SQL...: pymysql; prints the greeting's capability
# flags, then each statement's first value; "ERR code message" on an error.
# raw.py PORT USER PASSWORD: a hand-written client that answers the greeting
# as mysql_native_password with client caps that ask for compression, zstd,
# query attributes and optional metadata, scrambles the switched-to
# caching_sha2_password with the 20-byte nonce (fast path when cached), then
# prints SELECT auth_path() and SELECT client_caps().
cat >"$T/cli.py" <<'EOF'
import sys, pymysql
port, user, pw, sqls = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
try:
    c = pymysql.connect(host="127.0.0.1", port=port, user=user, password=pw,
                        connect_timeout=5, read_timeout=10)
    print("caps=%d" % c.server_capabilities)
    cur = c.cursor()
    for s in sqls:
        cur.execute(s)
        row = cur.fetchone()
        print(row[0] if row else "ok %d" % cur.rowcount)
    c.close()
except pymysql.MySQLError as e:
    print("ERR %s %s" % (e.args[0], e.args[1] if len(e.args) > 1 else ""))
EOF
cat >"$T/raw.py" <<'EOF'
import hashlib, socket, struct, sys
port, user, pw = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3].encode()
s = socket.create_connection(("127.0.0.1", port), timeout=10)
def rd():
    h = b""
    while len(h) < 4: h += s.recv(4 - len(h))
    n, p = int.from_bytes(h[:3], "little"), b""
    while len(p) < n: p += s.recv(n - len(p))
    return h[3], p
def wr(seq, p): s.sendall(len(p).to_bytes(3, "little") + bytes([seq]) + p)
sha1 = lambda b: hashlib.sha1(b).digest()
sha256 = lambda b: hashlib.sha256(b).digest()
xor = lambda a, b: bytes(x ^ y for x, y in zip(a, b))
seq, g = rd()
i = g.index(b"\0", 1) + 1 + 4
nonce = g[i:i + 8]
i += 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10
nonce += g[i:i + 12]
native = xor(sha1(pw), sha1(nonce + sha1(sha1(pw))))
caps = (0x200 | 0x8000 | 0x80000 | 0x200000 | 0x2000 | 0x20000 | 0x1
        | 0x20 | 0x04000000 | 0x08000000 | 0x02000000)
wr(seq + 1, struct.pack("<IIB23x", caps, 1 << 24, 45) + user + b"\0"
   + bytes([len(native)]) + native + b"mysql_native_password\0")
seq, p = rd()
if p[0] != 0xfe:
    print("no switch: %s" % p[:1].hex()); sys.exit()
name, _, data = p[1:].partition(b"\0")
n2 = data[:20]
p1 = sha256(pw)
wr(seq + 1, xor(p1, sha256(sha256(p1) + n2)))
seq, p = rd()
if p[:2] == b"\x01\x04":
    print("switch to %s, full auth asked" % name.decode()); sys.exit()
if p[:2] != b"\x01\x03":
    print("switch to %s, answer %s" % (name.decode(), p[:1].hex())); sys.exit()
seq, p = rd()
if p[0] != 0:
    print("switch to %s, fast, then %s" % (name.decode(), p[:1].hex())); sys.exit()
def query(q):
    wr(0, b"\x03" + q)
    rd(); rd(); rd()            # column count, column definition, EOF
    _, row = rd(); rd()         # row, EOF
    return row[1:1 + row[0]].decode()
print("switch to %s, %s, client caps %s" % (name.decode(), query(b"SELECT auth_path()"),
                                            query(b"SELECT client_caps()")))
wr(0, b"\x01")
EOF
cli() { timeout 30 $PY "$T/cli.py" "$@" 2>&1; }    # cli PORT USER PASSWORD SQL...
raw() { timeout 30 $PY "$T/raw.py" "$@" 2>&1; }    # raw PORT USER PASSWORD
flush() { cli $F1 "$USER" "$PASS" "FLUSH PRIVILEGES" >/dev/null; }  # empty the cache
# bits: SSL 0x800, COMPRESS 0x20, ZSTD 1<<26, QUERY_ATTRIBUTES 1<<27,
# OPTIONAL_RESULTSET_METADATA 1<<25
masked_bits() { local c=${1#caps=}; echo $((c & (0x800 | 0x20 | 1 << 25 | 1 << 26 | 1 << 27))); }

# ---- directly against the fake: it is a MySQL 8 server ----------------------------
out=$(cli $F1 "$USER" "$PASS" "SELECT auth_path()" "SELECT 1")
t_eq "direct: a fresh cache takes the full path (public key, RSA), then SELECT 1" \
    "full,key 1" "$(echo $out | cut -d' ' -f2-)"
t_eq "direct: the greeting advertises TLS, compression, zstd, query attributes, metadata" \
    "$((0x800 | 0x20 | 1 << 25 | 1 << 26 | 1 << 27))" "$(masked_bits "$(echo $out | cut -d' ' -f1)")"
t_eq "direct: the cached account takes the fast path" "fast 1" \
    "$(cli $F1 "$USER" "$PASS" "SELECT auth_path()" "SELECT 1" | tail -n +2 | xargs)"
t_match "direct: a wrong password is ERR 1045" "^ERR 1045 Access denied for user 'app'" \
    "$(cli $F1 "$USER" wrong "SELECT 1")"
t_eq "direct: auth switch from mysql_native_password (pymysql: full path)" "switch,full,key" \
    "$(cli $F2 "$USER" "$PASS" "SELECT auth_path()" | tail -n 1)"
t_match "direct: auth switch, fast path (raw client)" "^switch to caching_sha2_password, switch,fast," \
    "$(raw $F2 "$USER" "$PASS")"

# ---- through the proxy -------------------------------------------------------------
flush
out=$(cli $P1 "$USER" "$PASS" "SELECT auth_path()" "SELECT 1")
t_eq "proxy: full path (fresh cache: 0x01 0x04, key request, PEM, RSA), then SELECT 1" \
    "full,key 1" "$(echo $out | cut -d' ' -f2-)"
t_eq "proxy: the greeting masks TLS, compression, zstd, query attributes, metadata" \
    "0" "$(masked_bits "$(echo $out | cut -d' ' -f1)")"
t_eq "proxy: fast path (0x01 0x03, OK), then SELECT 1" "fast 1" \
    "$(cli $P1 "$USER" "$PASS" "SELECT auth_path()" "SELECT 1" | tail -n +2 | xargs)"
t_match "proxy: a wrong password's ERR 1045 is relayed (cached account)" \
    "^ERR 1045 Access denied for user 'app'@'127.0.0.1' \(using password: YES\)" \
    "$(cli $P1 "$USER" wrong "SELECT 1")"
flush
t_match "proxy: a wrong password's ERR 1045 is relayed (fresh cache, full path)" \
    "^ERR 1045 Access denied" "$(cli $P1 "$USER" wrong "SELECT 1")"
t_match "proxy: an unknown user gets ERR 1045" "^ERR 1045" "$(cli $P1 nobody x "SELECT 1")"
t_eq "proxy: after the failures the full path still works" "full,key" \
    "$(cli $P1 "$USER" "$PASS" "SELECT auth_path()" | tail -n 1)"
t_eq "proxy: auth switch from mysql_native_password (pymysql: full path)" "switch,full,key 1" \
    "$(cli $P2 "$USER" "$PASS" "SELECT auth_path()" "SELECT 1" | tail -n +2 | xargs)"
t_eq "proxy: the native-greeting backend's greeting is masked too" "0" \
    "$(masked_bits "$(cli $P2 "$USER" "$PASS" | head -n 1)")"
out=$(raw $P2 "$USER" "$PASS")
t_match "proxy: auth switch, fast path (raw client)" "^switch to caching_sha2_password, switch,fast," "$out"
c=${out##* }
t_eq "proxy: the client's compression, zstd, query attributes, metadata requests are masked" \
    "0" "$(masked_bits "${c:-x}")"
t_match "proxy: a wrong password after an auth switch gets ERR 1045" "^ERR 1045" \
    "$(cli $P2 "$USER" wrong "SELECT 1")"

# after caching_sha2_password the session is inspected as usual
t_eq "proxy: a dc-a buyer's write passes after caching_sha2 authentication" "ok 1" \
    "$(cli $P1 "$USER" "$PASS" "INSERT INTO orders (buyer_id) VALUES (1001)" | tail -n 1)"
t_match "proxy: a dc-b buyer's write is refused (7402)" "^ERR 7402 .*buyer 7001" \
    "$(cli $P1 "$USER" "$PASS" "INSERT INTO orders (buyer_id) VALUES (7001)" | tail -n 1)"

# 20 logins in a row, alternating paths, leave the proxy healthy
bad=0
for i in $(seq 1 10); do
    [ "$((i % 3))" = 0 ] && flush
    r=$(cli $P1 "$USER" "$PASS" "SELECT $i" | tail -n 1); [ "$r" = "$i" ] || bad=$((bad + 1))
    r=$(cli $P2 "$USER" "$PASS" "SELECT $i" | tail -n 1); [ "$r" = "$i" ] || bad=$((bad + 1))
done
t_eq "20 logins through both proxies, cache flushed now and then" "0" "$bad"
t_check "the proxies are still running" kill -0 "$PID1" "$PID2"
t_eq "no sanitizer or error reports in the proxy logs" "" \
    "$(grep -hE 'ERROR: AddressSanitizer|runtime error|LeakSanitizer' "$T"/p1.log "$T"/p2.log)"
t_done
