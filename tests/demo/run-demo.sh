#!/usr/bin/env bash
# The demo (make demo): two units on this machine, traffic, a cutover, a
# summary.
#
#   loadgen ──> unitgw dc-a :8081 ──> order_service :7081 ──> unitproxy :3311 ──> MariaDB :3307
#          └──> unitgw dc-b :8082 ──> order_service :7082 ──> unitproxy :3312 ──> MariaDB :3308
#                       unitctl serve :9000 pushes the rules; GTID replication both ways
#
# Phases: traffic before, traffic during a cutover of buckets 5000-5999 from
# dc-b to dc-a, traffic after; then the consistency check on both databases.
# Everything it starts is stopped on exit, failure or Ctrl-C.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${UR_BIN:-$ROOT/bin}
TOOLS=${UR_TOOLS:-$ROOT/build/tools}
CONF=$ROOT/conf
HARNESS=$ROOT/tests/harness/mariadb-cluster.sh
PHASE_S=${DEMO_PHASE_S:-4}         # seconds of traffic per phase
CONCURRENCY=${DEMO_CONCURRENCY:-32}
MOVE=${DEMO_MOVE:-5000-5999}

D=$(mktemp -d /tmp/unitroute-demo.XXXXXX)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.3
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    "$HARNESS" stop "$D/db" >/dev/null 2>&1
    if [ "${DEMO_OK:-0}" = 1 ]; then rm -rf "$D"; else echo "logs kept in $D"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() { printf '== %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

start() { # start NAME CMD...: background process, log in $D/NAME.log
    local name=$1; shift
    "$@" >"$D/$name.log" 2>&1 &
    PIDS+=($!)
}

wait_http() { # wait_http URL: until it answers 200
    local i
    for ((i = 0; i < 100; i++)); do
        curl -fs -o /dev/null "$1" && return 0
        sleep 0.1
    done
    die "$1 did not answer (logs in $D)"
}

rule_version() { # rule_version ADMIN_ADDR
    curl -s "http://$1/v1/status" | sed -n 's/.*"rule_version": *\([0-9]*\).*/\1/p'
}

wait_versions() { # wait_versions V: every gateway and proxy has version >= V
    local i a v ok
    for ((i = 0; i < 100; i++)); do
        ok=1
        for a in 127.0.0.1:9081 127.0.0.1:9082 127.0.0.1:9091 127.0.0.1:9092; do
            v=$(rule_version "$a")
            [ "${v:-0}" -ge "$1" ] || ok=0
        done
        [ $ok = 1 ] && return 0
        sleep 0.1
    done
    die "components did not reach rule version $1"
}

metric_sum() { # metric_sum NAME_REGEX: sum of matching samples on both gateways
    { curl -s http://127.0.0.1:9081/metrics; curl -s http://127.0.0.1:9082/metrics; } |
        grep -E "^($1)(\{| )" | awk '{s += $NF} END {print s + 0}'
}

run_load() { # run_load PHASE ORDER_BASE [--background]
    "$TOOLS/loadgen" run --gateway http://127.0.0.1:8081 --gateway http://127.0.0.1:8082 \
        --buyers 10000 --buyer-base 0 --concurrency "$CONCURRENCY" --duration "$PHASE_S" \
        --order-base "$2" --acks "$D/acks-$1" --retry-503 --retry-connect \
        --timeout-ms 8000 >"$D/load-$1.log" 2>&1
}

load_field() { # load_field PHASE KEY: a key=value of loadgen's last line
    sed -n "s/^loadgen-result .*\b$2=\([^ ]*\).*/\1/p" "$D/load-$1.log"
}

# ---- start -----------------------------------------------------------------

[ -x "$BIN/unitgw" ] && [ -x "$TOOLS/loadgen" ] || die "build first: make"
for port in 3307 3308 3311 3312 7081 7082 8081 8082 9000 9081 9082 9091 9092; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        die "port $port is in use: is another demo running?"
    fi
done
rm -rf "$CONF/state"      # every demo starts from conf/rules.conf, version 1

say "starting two MariaDB instances (dc-a :3307, dc-b :3308), GTID replication both ways"
"$HARNESS" start "$D/db" 2 3307 >"$D/harness.log" 2>&1 || { cat "$D/harness.log"; die "MariaDB did not start"; }
. "$D/db/env"
(umask 077; cp "$UR_DB_PASSWORD_FILE" "$CONF/db-password")
mariadb --no-defaults -S "$UR_DB1_SOCKET" -uroot unitroute <"$ROOT/tests/demo/schema.sql"
pos=$(mariadb --no-defaults -S "$UR_DB1_SOCKET" -uroot -N -e "SELECT @@gtid_binlog_pos")
mariadb --no-defaults -S "$UR_DB2_SOCKET" -uroot -N -e "SELECT MASTER_GTID_WAIT('$pos', 10)" >/dev/null

say "starting two proxies, two order services, two gateways and the control center"
start proxy-a "$BIN/unitproxy" -c "$CONF/proxy-a.conf"
start proxy-b "$BIN/unitproxy" -c "$CONF/proxy-b.conf"
for u in a b; do
    n=$([ $u = a ] && echo 1 || echo 2)
    start "app-$u" "$TOOLS/order_service" --listen "127.0.0.1:708$n" --unit "dc-$u" \
        --db-host 127.0.0.1 --db-port "331$n" --db-user unitroute \
        --db-password-file "$CONF/db-password" --threads 16
done
start gateway-a "$BIN/unitgw" -c "$CONF/gateway-a.conf"
start gateway-b "$BIN/unitgw" -c "$CONF/gateway-b.conf"
start control "$BIN/unitctl" serve -c "$CONF/control.conf"
wait_http http://127.0.0.1:9000/
wait_versions 1
say "every gateway and proxy runs rule version 1 (conf/rules.conf): buckets 0-4999 -> dc-a, 5000-9999 -> dc-b"

# ---- traffic ---------------------------------------------------------------

say "phase 1: ${PHASE_S}s of orders from 10000 buyers through both gateways"
run_load before 1000000 || die "loadgen failed (see $D/load-before.log)"

say "phase 2: the same traffic, and after 1s a cutover of buckets $MOVE from dc-b to dc-a"
run_load during 2000000 &
load_pid=$!
sleep 1
"$BIN/unitctl" -c "$CONF/control.conf" cutover --buckets "$MOVE" --to dc-a 2>&1 | tee "$D/cutover.log" | sed 's/^/   | /'
cut_rc=${PIPESTATUS[0]}
wait "$load_pid" || die "loadgen failed (see $D/load-during.log)"

say "phase 3: ${PHASE_S}s of orders under the new rules"
run_load after 3000000 || die "loadgen failed (see $D/load-after.log)"

# ---- check -----------------------------------------------------------------

say "checking both databases: every acknowledged order exactly once, in its home unit"
"$BIN/unitctl" -c "$CONF/control.conf" rules >"$D/rules-after.conf"
"$TOOLS/loadgen" check --acks "$D/acks-before" --acks "$D/acks-during" --acks "$D/acks-after" \
    --db dc-a=127.0.0.1:3307 --db dc-b=127.0.0.1:3308 --db-user unitroute \
    --db-password-file "$CONF/db-password" --rules-before "$CONF/rules.conf" \
    --rules-after "$D/rules-after.conf" --topology "$CONF/topology.conf" >"$D/check.log" 2>&1
check_rc=$?

# ---- summary ---------------------------------------------------------------

units() { load_field "$1" units | tr ',' ' '; }
kinds() { local k; k=$(load_field "$1" kinds); [ -n "$k" ] && [ "$k" != - ] || k=none; echo "$k"; }
window=$(sed -n 's/.*write-ban window[^0-9]*\([0-9.]* *[mu]*s\).*/\1/p' "$D/cutover.log" | head -n 1)
syncw=$(sed -n 's/.*replication wait[^0-9]*\([0-9.]* *[mu]*s\).*/\1/p' "$D/cutover.log" | head -n 1)
held=$(metric_sum 'unitgw_holds_total|unitgw_held_requests_total')
check_line=$(grep '^loadgen-check' "$D/check.log")

echo
echo "================================ demo summary ================================"
printf '%-28s %s\n' "phase" "acked orders / requests    requests per serving unit"
for p in before during after; do
    printf '%-28s %-26s %s\n' "  $p" "$(load_field $p acks) / $(load_field $p requests)" "$(units $p)"
done
printf '%-28s %s\n' "errors by kind" ""
for p in before during after; do printf '%-28s %s\n' "  $p" "$(kinds $p)"; done
printf '%-28s %s\n' "cutover $MOVE dc-b->dc-a" "$([ "$cut_rc" = 0 ] && echo "done" || echo "FAILED (exit $cut_rc)")"
printf '%-28s %s\n' "  write-ban window" "${window:-?} (first ban ack -> last new-rules ack)"
printf '%-28s %s\n' "  replication wait" "${syncw:-?}"
printf '%-28s %s\n' "  writes held by gateways" "${held:-0} (released to the new home when the ban lifted)"
printf '%-28s %s\n' "rule version everywhere" "$(for a in 9081 9082 9091 9092; do printf '%s ' "$(rule_version 127.0.0.1:$a)"; done)"
printf '%-28s %s\n' "consistency check" "$([ "$check_rc" = 0 ] && echo PASS || echo FAIL)"
echo "  ${check_line#loadgen-check }"
echo "=============================================================================="
if [ "$check_rc" != 0 ] || [ "$cut_rc" != 0 ]; then
    sed 's/^/   /' "$D/check.log"
    exit 1
fi
DEMO_OK=1
say "stopped everything; nothing left running"
