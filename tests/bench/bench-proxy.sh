#!/usr/bin/env bash
# bench-proxy.sh: sysbench oltp_point_select and oltp_read_write (16 threads)
# against one MariaDB directly, through HAProxy in TCP mode, and through
# unitproxy; prints queries/s and p95 latency for each and the ratios, then
# unitproxy's RSS per idle client connection.
#
# unitproxy inspects every statement: sbtest1 is configured as a unit table
# sharded by `id`, and the rules make every bucket this unit's, so each
# write's key is extracted from the prepared statement's parameters and
# checked. HAProxy inspects nothing.
#
# The machine is small and shared, so one run of each says little: after a
# warm-up run per test through each target, every test runs BENCH_ROUNDS
# rounds, each round direct / haproxy / unitproxy in turn (the order rotates
# every round), and the medians are reported. Per-round figures are printed
# as "round N: ..." lines; the median lines keep the shape
# "<test> <target> <queries/s> <p95 ms>" that tests/bench/bench-all.sh reads.
#
# Environment: BENCH_TIME (seconds per run, default 8), BENCH_ROUNDS (3),
# BENCH_WARMUP (seconds of warm-up per test and target, 3), BENCH_THREADS
# (sysbench threads, 16), BENCH_PROXY_THREADS (HAProxy nbthread and unitproxy
# workers, the same for both, default 1), BENCH_IDLE (idle connections for
# the RSS figure, 1000), BENCH_BACKEND (tcp; unix: both proxies reach
# MariaDB over its Unix socket, clients stay on TCP). Default total: about 3.5
# minutes.
# Ports: MariaDB 3420; HAProxy 19501; unitproxy 19521, admin 19591.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${UR_DB1_PORT:-}" ]; then
    exec bash "$ROOT/tests/harness/mariadb-cluster.sh" with 1 3420 -- bash "$0" "$@"
fi
BIN=${UR_BIN:-$ROOT/bin}
TIME=${BENCH_TIME:-8}
ROUNDS=${BENCH_ROUNDS:-3}
WARMUP=${BENCH_WARMUP:-3}
THREADS=${BENCH_THREADS:-16}
IDLE=${BENCH_IDLE:-1000}
PT=${BENCH_PROXY_THREADS:-1}
# BENCH_BACKEND=unix: HAProxy and unitproxy reach MariaDB over its Unix socket
# (a proxy on the database's host); clients, direct ones too, stay on TCP
BACKEND_KIND=${BENCH_BACKEND:-tcp}
if [ "$BACKEND_KIND" = unix ]; then BACKEND=$UR_DB1_SOCKET; else BACKEND=127.0.0.1:$UR_DB1_PORT; fi
HAP=19501; PX=19521; ADM=19591
T=$(mktemp -d /tmp/unitroute-bench.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.2
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "port $1 did not open" >&2; cat "$T"/*.log >&2
    exit 1
}

SB_COMMON=(--db-driver=mysql --mysql-host=127.0.0.1 --mysql-user="$UR_DB_USER"
           --mysql-password="$UR_DB_PASSWORD" --mysql-db=unitroute --mysql-ssl=off
           --tables=1 --table-size=10000)
sysbench oltp_read_write "${SB_COMMON[@]}" --mysql-port="$UR_DB1_PORT" prepare >"$T/prepare.log" 2>&1 ||
    { cat "$T/prepare.log"; exit 1; }

# HAProxy, TCP mode
cat >"$T/haproxy.cfg" <<EOF
global
    maxconn 4096
    nbthread $PT
defaults
    mode tcp
    timeout connect 3s
    timeout client 1h
    timeout server 1h
frontend fe
    bind 127.0.0.1:$HAP
    default_backend be
backend be
    server db $BACKEND
EOF
haproxy -db -f "$T/haproxy.cfg" >"$T/haproxy.log" 2>&1 &
PIDS+=($!)

# unitproxy
(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/secret.key")
cat >"$T/topology.conf" <<EOF
secret_file = "secret.key";
center = "dc-a";
units = ( { name = "dc-a"; public_url = "http://127.0.0.1:19081"; gateway_admin = [ ];
            proxy_admin = [ "127.0.0.1:$ADM" ];
            db = { host = "127.0.0.1"; port = $UR_DB1_PORT; user = "unitroute"; password_file = "pw"; }; },
          { name = "dc-b"; public_url = "http://127.0.0.1:19082"; gateway_admin = [ ];
            proxy_admin = [ ];
            db = { host = "127.0.0.1"; port = $UR_DB1_PORT; user = "unitroute"; password_file = "pw"; }; } );
EOF
cat >"$T/proxy.conf" <<EOF
unit = "dc-a";
topology = "topology.conf";
listen = "127.0.0.1:$PX";
backend = "$BACKEND";
admin = "127.0.0.1:$ADM";
state_file = "state/proxy.rules";
log_level = "warn";
workers = $PT;
tables = ( { name = "sbtest1"; class = "unit"; column = "id"; } );
EOF
"$BIN/unitproxy" -c "$T/proxy.conf" >"$T/proxy.log" 2>&1 &
PXPID=$!
PIDS+=($PXPID)
wait_port $HAP
wait_port $PX
cat >"$T/rules.conf" <<EOF
version = 1L;
buckets = 10000;
ranges = ( { first = 0; last = 9999; unit = "dc-a"; } );
overrides = ( );
bans = ( );
EOF
sig=$(openssl dgst -sha256 -hmac "$(cat "$T/secret.key")" -r "$T/rules.conf" | cut -d' ' -f1)
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary @"$T/rules.conf" \
       -H "X-Unitroute-Signature: $sig" "http://127.0.0.1:$ADM/v1/rules")
[ "$code" = 200 ] || { echo "rule push failed: $code"; exit 1; }

run() { # run TEST PORT SECONDS -> "qps p95"
    sysbench "$1" "${SB_COMMON[@]}" --mysql-port="$2" --threads="$THREADS" --time="$3" \
        --percentile=95 --rand-type=uniform run >"$T/run.log" 2>&1
    local qps p95
    qps=$(sed -n 's/.*queries: .*(\([0-9.]*\) per sec.*/\1/p' "$T/run.log")
    p95=$(sed -n 's/.*95th percentile: *\([0-9.]*\).*/\1/p' "$T/run.log")
    if grep -q "FATAL" "$T/run.log"; then
        grep -m3 FATAL "$T/run.log" >&2
    fi
    echo "${qps:-0} ${p95:-0}"
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2];
    else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
port_of() {
    case $1 in
    direct) echo "$UR_DB1_PORT" ;;
    haproxy) echo "$HAP" ;;
    unitproxy) echo "$PX" ;;
    esac
}

TARGETS=(direct haproxy unitproxy)
echo "sysbench: $THREADS threads, ${TIME}s per run, $ROUNDS rounds (alternating targets), ${WARMUP}s warm-up; HAProxy nbthread = unitproxy workers = $PT; proxies reach MariaDB over $BACKEND_KIND; $(nproc) CPUs shared by all"
for test in oltp_point_select oltp_read_write; do
    declare -A QS=() PS=()
    for target in "${TARGETS[@]}"; do
        run $test "$(port_of $target)" "$WARMUP" >/dev/null
    done
    for r in $(seq "$ROUNDS"); do
        for i in 0 1 2; do
            target=${TARGETS[$(( (i + r - 1) % 3 ))]}
            read -r qps p95 < <(run $test "$(port_of $target)" "$TIME")
            QS[$target]+="$qps "
            PS[$target]+="$p95 "
            printf 'round %d: %-18s %-10s %12s q/s %8s ms p95\n' "$r" "$test" "$target" "$qps" "$p95"
        done
    done
    printf '%-18s %-10s %12s %10s   (medians of %d rounds)\n' test target "queries/s" "p95 ms" "$ROUNDS"
    declare -A Q=()
    for target in "${TARGETS[@]}"; do
        Q[$target]=$(echo "${QS[$target]}" | median)
        printf '%-18s %-10s %12s %10s\n' "$test" "$target" "${Q[$target]}" "$(echo "${PS[$target]}" | median)"
    done
    awk -v t="$test" -v d="${Q[direct]}" -v h="${Q[haproxy]}" -v u="${Q[unitproxy]}" 'BEGIN {
        printf "%-18s unitproxy/haproxy = %.2fx (target >= 1.0), unitproxy/direct = %.2fx (target >= 0.6)\n",
               t, (h > 0 ? u / h : 0), (d > 0 ? u / d : 0) }'
    unset Q QS PS
done
refused=$(curl -s "http://127.0.0.1:$ADM/metrics" | sed -n 's/^unitproxy_statements_total{class="write",outcome="refused"} //p')
echo "unitproxy refused writes during the runs: ${refused:-?} (expected 0)"

# RSS per idle client connection
rss() { awk '/^VmRSS/ {print $2}' "/proc/$PXPID/status"; }
before=$(rss)
/usr/bin/python3 - "$PX" "$IDLE" >"$T/idle.log" 2>&1 <<'EOF' &
import os, sys, time, pymysql
port, n = int(sys.argv[1]), int(sys.argv[2]); cs = []
for i in range(n):
    cs.append(pymysql.connect(host='127.0.0.1', port=port, user=os.environ['UR_DB_USER'],
                              password=os.environ['UR_DB_PASSWORD'], database='unitroute'))
    if i == 0:
        cs[0].cursor().execute("SELECT 1")
print('open', len(cs)); sys.stdout.flush()
time.sleep(3)
EOF
IDLE_PID=$!
PIDS+=($IDLE_PID)
for _ in $(seq 600); do grep -q open "$T/idle.log" && break; sleep 0.1; done
sleep 0.5
after=$(rss)
wait $IDLE_PID
if grep -q open "$T/idle.log"; then
    awk -v b="$before" -v a="$after" -v n="$IDLE" 'BEGIN {
        printf "unitproxy RSS: %d KB before, %d KB with %d idle clients: %.1f KB per idle connection (target < 64 KB)\n",
               b, a, n, (a - b) / n }'
else
    echo "idle connections could not be opened:"; cat "$T/idle.log"
fi
