#!/usr/bin/env bash
# The demo's application side without gateways and proxies: two order services
# (one per database) under load from loadgen, then loadgen check. Also proves
# the checker can fail (a lost row, an interleaved buyer, homes from rules),
# that a retried order is one order, and the error mapping of order_service.
#
# Runs itself inside tests/harness/mariadb-cluster.sh (2 instances, ports
# 3450-3451); HTTP ports 19500-19509.
. "$(dirname "$0")/../lib/testlib.sh"

if [ "${1:-}" != --inside ]; then
    "$UR_ROOT/tests/harness/mariadb-cluster.sh" with 2 3450 -- bash "$0" --inside
    exit $?
fi

# The tools are built next to the binaries' build dir (build-asan/bin ->
# build-asan/tools); bin/ belongs to build/.
TOOLS=${UR_TOOLS:-$(dirname "$UR_BIN")/tools}
[ -x "$TOOLS/loadgen" ] || TOOLS=$UR_ROOT/build/tools
OS=$TOOLS/order_service
LG=$TOOLS/loadgen
TMP=$(t_tmpdir)
P1=$UR_DB1_PORT
P2=$UR_DB2_PORT

q() { # q PORT SQL: as the test user, database unitroute
    mariadb --no-defaults -h127.0.0.1 -P"$1" -u"$UR_DB_USER" -p"$UR_DB_PASSWORD" -N -B unitroute -e "$2"
}

replicated() { # replicated FROM TO: TO has applied everything FROM has
    local pos
    pos=$(q "$1" "SELECT @@gtid_binlog_pos")
    [ "$(q "$2" "SELECT MASTER_GTID_WAIT('$pos', 10)")" = 0 ]
}

# start_service PORT UNIT DBPORT [ARGS...]: sets SVC_PID
start_service() {
    local port=$1 unit=$2 dbport=$3; shift 3
    t_start "order_service $port" "$TMP/os-$port.log" "$OS" --listen "127.0.0.1:$port" \
        --unit "$unit" --db-host 127.0.0.1 --db-port "$dbport" --db-user "$UR_DB_USER" \
        --db-password-file "$UR_DB_PASSWORD_FILE" --threads 4 "$@"
    SVC_PID=$T_LAST_PID
    t_wait_port "$port" 10
}

# stop_service PID NAME: TERM, the exit status must be 0 (sanitizers included)
stop_service() {
    kill -TERM "$1"
    wait "$1"
    t_eq "$2 stops cleanly on TERM" "0" "$?"
}

# post PORT BUYER ORDER: prints "STATUS ERRNO RETRYAFTER" and keeps the body in $TMP/body
post() {
    curl -s -o "$TMP/body" -D "$TMP/headers" -X POST -H "X-Buyer-Id: $2" -H "X-Order-Id: $3" \
        "http://127.0.0.1:$1/orders" >/dev/null
    local status errno retry
    status=$(sed -n '1s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p' "$TMP/headers")
    errno=$(tr -d '\r' <"$TMP/headers" | sed -n 's/^X-Db-Errno: //Ip')
    retry=$(tr -d '\r' <"$TMP/headers" | sed -n 's/^Retry-After: //Ip')
    echo "$status ${errno:--} ${retry:--}"
}

field() { # field NAME TEXT: value of NAME= on the loadgen-* line of TEXT
    printf '%s\n' "$2" | sed -n "s/^loadgen-[a-z]* .*\b$1=\([^ ]*\).*/\1/p" | tail -n 1
}

check() { # check ACKS... -- EXTRA ARGS: loadgen check of both databases; sets CHECK_OUT CHECK_RC
    local acks=() a
    while [ $# -gt 0 ] && [ "$1" != -- ]; do acks+=(--acks "$1"); shift; done
    [ "${1:-}" = -- ] && shift
    CHECK_OUT=$("$LG" check "${acks[@]}" --db "db1=127.0.0.1:$P1" --db "db2=127.0.0.1:$P2" \
        --db-user "$UR_DB_USER" --db-password-file "$UR_DB_PASSWORD_FILE" --wait-seconds 20 "$@" 2>&1)
    CHECK_RC=$?
    printf '%s\n' "$CHECK_OUT" | sed 's/^/    | /'
}

# ---- set-up ----------------------------------------------------------------

t_check "help of order_service" "$OS" --help
t_check "help of loadgen" "$LG" --help
"$OS" --listen 127.0.0.1:19509 --unit dc-a >/dev/null 2>&1
t_eq "order_service without the database flags exits 2" "2" "$?"
"$LG" run --gateway http://127.0.0.1:19509 >/dev/null 2>&1
t_eq "loadgen run without its required flags exits 2" "2" "$?"

q "$P1" "$(cat "$UR_ROOT/tests/demo/schema.sql")"
t_check "schema replicated to db2" replicated "$P1" "$P2"
start_service 19500 dc-a "$P1"; PID_A=$SVC_PID
start_service 19501 dc-b "$P2"; PID_B=$SVC_PID
t_match "healthz" '"status":"ok","unit":"dc-a"' "$(curl -s http://127.0.0.1:19500/healthz)"

# ---- requests one by one ------------------------------------------------------

t_eq "a new order is written (200)" "200 - -" "$(post 19500 77 5000001)"
t_eq "the same order again is a retry (200)" "200 - -" "$(post 19500 77 5000001)"
t_match "the retry is marked duplicate" '"duplicate":true' "$(cat "$TMP/body")"
t_eq "a retry through the other unit is one order too (200)" "200 - -" "$(post 19501 77 5000001)"
t_match "and names the unit that wrote it" '"unit":"dc-a"' "$(cat "$TMP/body")"
t_eq "the retried order is one row" "1" "$(q "$P1" "SELECT COUNT(*) FROM orders WHERE id = 5000001")"
t_eq "another buyer's order id is a conflict (409)" "409 - -" "$(post 19500 78 5000001)"
t_eq "no buyer: 400" "400 - -" "$(post 19500 '' 5000002)"
t_eq "bad buyer: 400" "400 - -" "$(post 19500 12x 5000002)"
t_eq "no order id: 400" "400 - -" "$(post 19500 77 '')"
t_eq "GET /orders lists the buyer's order" '1' \
    "$(curl -s 'http://127.0.0.1:19500/orders?buyerId=77' | grep -o '"id":5000001' | wc -l)"
t_eq "GET /orders without buyerId: 400" "400" \
    "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:19500/orders)"
t_eq "unknown path: 404" "404" "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:19500/x)"
q "$P1" "DELETE FROM orders"

# ---- load: each unit writes its own buyers ----------------------------------

# Buyers 1000-1099 are dc-a's and 6000-6099 dc-b's under conf/rules.conf, so
# each service (standing in for a gateway) only writes its own buyers.
load() { # load PORT BUYERBASE ORDERBASE ACKS
    "$LG" run --gateway "http://127.0.0.1:$1" --buyers 100 --buyer-base "$2" --concurrency 8 \
        --duration 1.5 --max-requests 3000 --order-base "$3" --acks "$4" --timeout-ms 5000
}
out_a=$(load 19500 1000 1000000 "$TMP/acks-a") &&
out_b=$(load 19501 6000 2000000 "$TMP/acks-b")
t_eq "both load runs end normally" "0" "$?"
printf '%s\n%s\n' "$out_a" "$out_b" | sed 's/^/    | /'
acks_a=$(field acks "$out_a"); acks_b=$(field acks "$out_b")
t_match "dc-a acknowledged orders" '^[1-9][0-9]*$' "$acks_a"
t_match "dc-b acknowledged orders" '^[1-9][0-9]*$' "$acks_b"
t_eq "no failed orders" "0 0" "$(field failed "$out_a") $(field failed "$out_b")"
t_match "requests counted per serving unit" 'units=dc-a:[0-9]+ ' "$out_a"
t_eq "the acks file has a line per ack" "$acks_a" "$(grep -vc '^#' "$TMP/acks-a")"

check "$TMP/acks-a" "$TMP/acks-b"
t_eq "check passes after the load" "0" "$CHECK_RC"
t_eq "zero lost, zero duplicates, zero misplaced" "0 0 0 0" "$(field lost "$CHECK_OUT") \
$(field duplicates "$CHECK_OUT") $(field misplaced "$CHECK_OUT") $(field divergent "$CHECK_OUT")"
t_eq "check counted every ack" "$((acks_a + acks_b))" "$(field acks "$CHECK_OUT")"
t_eq "db2 holds every row of both units" "$((acks_a + acks_b))" "$(q "$P2" "SELECT COUNT(*) FROM orders")"

# ---- the checker with rules -------------------------------------------------

sed 's/^version = 1L;/version = 2L;/; s/first = 0; last = 4999; unit = "dc-a"/first = 0; last = 999; unit = "dc-a"; }, { first = 1000; last = 1049; unit = "dc-b"; }, { first = 1050; last = 4999; unit = "dc-a"/' \
    "$UR_ROOT/conf/rules.conf" >"$TMP/rules-moved.conf"
check "$TMP/acks-a" "$TMP/acks-b" -- --topology "$UR_ROOT/conf/topology.conf" \
    --rules-before "$UR_ROOT/conf/rules.conf" --rules-after "$TMP/rules-moved.conf"
t_eq "rules: buyers that stayed in their old home pass" "0 0" "$CHECK_RC $(field misplaced "$CHECK_OUT")"
check "$TMP/acks-a" "$TMP/acks-b" -- --topology "$UR_ROOT/conf/topology.conf" \
    --rules-before "$TMP/rules-moved.conf" --rules-after "$TMP/rules-moved.conf"
t_eq "rules: buyers 1000-1049 written outside their home are misplaced (x2 dbs)" "1 100" \
    "$CHECK_RC $(field misplaced "$CHECK_OUT")"
t_match "rules: the reason is given" 'never its home' "$CHECK_OUT"
check "$TMP/acks-a" -- --topology "$UR_ROOT/conf/topology.conf" --rules-before "$UR_ROOT/conf/rules.conf"
t_eq "rules: --rules-before alone is refused (exit 2)" "2" "$CHECK_RC"

# ---- the checker can fail ----------------------------------------------------

victim=$(grep -v '^#' "$TMP/acks-a" | head -n 1)
vid=${victim%% *}
row=$(q "$P2" "SELECT id, buyer_id, unit, amount, created FROM orders WHERE id = $vid" | tr '\t' ',')
q "$P2" "SET sql_log_bin = 0; DELETE FROM orders WHERE id = $vid"
check "$TMP/acks-a" "$TMP/acks-b"
t_eq "a deleted acknowledged row: check fails" "1" "$CHECK_RC"
t_eq "exactly 1 lost" "1" "$(field lost "$CHECK_OUT")"
t_match "the lost order is named" "order $vid .*missing on db2" "$CHECK_OUT"
t_eq "and 1 divergent (db1 still has it)" "1" "$(field divergent "$CHECK_OUT")"
IFS=, read -r id buyer unit amount created <<<"$row"
q "$P2" "SET sql_log_bin = 0; INSERT INTO orders VALUES ($id, $buyer, '$unit', $amount, '$created')"
check "$TMP/acks-a" "$TMP/acks-b"
t_eq "restored: check passes again" "0" "$CHECK_RC"

q "$P1" "INSERT INTO orders VALUES
    (9000001, 777, 'dc-a', 1, '2030-01-01 00:00:01'),
    (9000002, 777, 'dc-b', 1, '2030-01-01 00:00:02'),
    (9000003, 777, 'dc-a', 1, '2030-01-01 00:00:03')"
check "$TMP/acks-a" "$TMP/acks-b"
t_eq "an interleaved buyer (a b a): check fails" "1" "$CHECK_RC"
t_eq "1 misplaced buyer on each database" "2" "$(field misplaced "$CHECK_OUT")"
t_match "the buyer is named with its units" 'buyer 777 on db1: back in a unit it had left \(dc-a x1, dc-b x1, dc-a x1\)' "$CHECK_OUT"
q "$P1" "DELETE FROM orders WHERE buyer_id = 777"
q "$P1" "INSERT INTO orders VALUES (9000004, 778, 'dc-a', 1, '2030-01-01 00:00:01'),
    (9000005, 778, 'dc-b', 1, '2030-01-01 00:00:02')"
check "$TMP/acks-a" "$TMP/acks-b"
t_eq "one move (a b) is allowed" "0 0" "$CHECK_RC $(field misplaced "$CHECK_OUT")"
check "$TMP/acks-a" "$TMP/acks-b" -- --max-moves 0
t_eq "unless --max-moves 0" "1 2" "$CHECK_RC $(field misplaced "$CHECK_OUT")"
q "$P1" "DELETE FROM orders WHERE buyer_id = 778"
check "$TMP/missing-acks"
t_eq "a missing acks file: exit 2" "2" "$CHECK_RC"

# ---- error mapping -----------------------------------------------------------

start_service 19502 dc-a "$P1" --retryable-errno 1146; PID_R=$SVC_PID
start_service 19503 dc-a "$P1" --refusal-errno 1146; PID_F=$SVC_PID
start_service 19504 dc-a 3459; PID_D=$SVC_PID
q "$P1" "SET sql_log_bin = 0; RENAME TABLE orders TO orders_away"
t_eq "missing table: 500 with its errno" "500 1146 -" "$(post 19500 1 5100001)"
t_match "the body carries the server's message" "\"error\":\"Table 'unitroute.orders' doesn't exist\",\"errno\":1146" "$(cat "$TMP/body")"
t_eq "--retryable-errno: 503 + Retry-After" "503 1146 1" "$(post 19502 1 5100001)"
t_eq "--refusal-errno: 409" "409 1146 -" "$(post 19503 1 5100001)"
t_match "dead database port: 502 with a connection errno" '^502 200[23] -$' "$(post 19504 1 5100001)"
t_match "GET maps the same way" '"errno":1146' "$(curl -s 'http://127.0.0.1:19500/orders?buyerId=1')"

# loadgen --retry-503: the table comes back after 0.6 s; every order ends acked.
(sleep 0.6; q "$P1" "SET sql_log_bin = 0; RENAME TABLE orders_away TO orders") &
renamer=$!
out=$("$LG" run --gateway http://127.0.0.1:19502 --buyers 5 --buyer-base 1200 --concurrency 4 \
    --duration 2 --max-requests 8 --order-base 5200000 --acks "$TMP/acks-r" --retry-503 \
    --retry-delay-ms 100)
wait "$renamer"
printf '%s\n' "$out" | sed 's/^/    | /'
t_eq "--retry-503: all 8 orders acknowledged" "8 0" "$(field acks "$out") $(field failed "$out")"
t_match "--retry-503: retries happened and 503s are counted by kind" \
    'retries=[1-9][0-9]* .*kinds=http-503/errno-1146:[1-9]' "$out"
check "$TMP/acks-a" "$TMP/acks-b" "$TMP/acks-r"
t_eq "retried orders are each one row" "0" "$CHECK_RC"

out=$("$LG" run --gateway http://127.0.0.1:19509 --buyers 5 --buyer-base 1 --concurrency 2 \
    --duration 2 --max-requests 5 --order-base 5300000 --acks "$TMP/acks-x")
t_match "a dead gateway: connect errors, no acks" 'acks=0 failed=5 .*kinds=connect:5' "$out"

# Connections killed by the server: the service reconnects and retries once.
killed=0
for id in $(q "$P1" "SELECT id FROM information_schema.processlist WHERE user = '$UR_DB_USER' AND id <> CONNECTION_ID() AND command <> 'Binlog Dump'"); do
    q "$P1" "KILL CONNECTION $id" 2>/dev/null && killed=$((killed + 1))
done
t_match "the server killed the services' connections" '^[1-9]' "$killed"
codes=""
for i in 1 2 3 4 5 6 7 8; do codes="$codes$(post 19500 1 $((5400000 + i)) | cut -d' ' -f1) "; done
t_eq "after the server killed its connections every write succeeds" \
    "200 200 200 200 200 200 200 200 " "$codes"

stop_service "$PID_A" "order_service dc-a"
stop_service "$PID_B" "order_service dc-b"
stop_service "$PID_R" "order_service --retryable-errno"
stop_service "$PID_F" "order_service --refusal-errno"
stop_service "$PID_D" "order_service on a dead port"
t_done
