#!/usr/bin/env bash
# bench-cutover.sh [N]: N cutovers (default 20) of 1000 buckets back and forth
# between dc-a and dc-b, replication caught up (GTID sync), with 2 gateway and
# 2 proxy admin endpoints (tests/tools/admin_stub), and prints the median and
# max write-ban window and total cutover time from `unitctl history`.
# Ports: MariaDB 3520-3521, others 20500-20520.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=${UR_ROOT:-$(cd "$HERE/../.." && pwd)}
if [ -z "${UR_DB_COUNT:-}" ]; then
    exec bash "$ROOT/tests/harness/mariadb-cluster.sh" with 2 3520 -- bash "$0" "$@"
fi
N=${1:-20}
BIN=${UR_BIN:-$ROOT/bin}
TOOLS=${UR_TOOLS:-$ROOT/build/tools}
D=$(mktemp -d /tmp/unitroute-bench.XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null; done; sleep 0.3; rm -rf "$D"' EXIT
(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$D/secret.key"
 head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$D/token")
cat >"$D/topology.conf" <<EOF
secret_file = "secret.key";
center = "dc-a";
units = (
  { name = "dc-a"; public_url = "http://127.0.0.1:20511";
    gateway_admin = [ "127.0.0.1:20501" ]; proxy_admin = [ "127.0.0.1:20502" ];
    db = { host = "127.0.0.1"; port = $UR_DB1_PORT; user = "unitroute"; password_file = "$UR_DB_PASSWORD_FILE"; }; },
  { name = "dc-b"; public_url = "http://127.0.0.1:20512";
    gateway_admin = [ "127.0.0.1:20503" ]; proxy_admin = [ "127.0.0.1:20504" ];
    db = { host = "127.0.0.1"; port = $UR_DB2_PORT; user = "unitroute"; password_file = "$UR_DB_PASSWORD_FILE"; }; }
);
EOF
cp "$ROOT/conf/rules.conf" "$D/rules.conf"
cat >"$D/control.conf" <<EOF
listen = "127.0.0.1:20510";
topology = "topology.conf";
state_dir = "state";
token_file = "token";
initial_rules = "rules.conf";
sync_method = "gtid";
push_retry_ms = 20;
reconcile_interval_ms = 1000;
log_level = "warn";
EOF
i=0
for spec in 20501:dc-a:gateway 20502:dc-a:proxy 20503:dc-b:gateway 20504:dc-b:proxy; do
    IFS=: read -r port unit kind <<<"$spec"
    "$TOOLS/admin_stub" --listen "127.0.0.1:$port" --unit "$unit" --component "$kind" \
        --topology "$D/topology.conf" --state "$D/stub$port.rules" >"$D/stub$port.log" 2>&1 &
    PIDS+=($!)
done
"$BIN/unitctl" -c "$D/control.conf" serve >"$D/ctl.log" 2>&1 &
PIDS+=($!)
sleep 2
to=dc-a
for ((k = 1; k <= N; k++)); do
    mariadb --no-defaults -S "$UR_DB2_SOCKET" -uroot -e "CREATE TABLE IF NOT EXISTS unitroute.b (id INT AUTO_INCREMENT PRIMARY KEY); INSERT INTO unitroute.b VALUES ()" 2>/dev/null
    "$BIN/unitctl" -c "$D/control.conf" cutover --buckets 5000-5999 --to $to >/dev/null ||
        { echo "cutover $k failed"; exit 1; }
    [ $to = dc-a ] && to=dc-b || to=dc-a
done
"$BIN/unitctl" -c "$D/control.conf" history | awk '$5 == "done" { print $8, $10 }' >"$D/times"
sort -n -k1 "$D/times" | awk '{ a[NR] = $1 } END { printf "write-ban window: median %d ms, max %d ms (%d cutovers)\n", a[int((NR + 1) / 2)], a[NR], NR }'
sort -n -k2 "$D/times" | awk '{ a[NR] = $2 } END { printf "total cutover:    median %d ms, max %d ms\n", a[int((NR + 1) / 2)], a[NR] }'
