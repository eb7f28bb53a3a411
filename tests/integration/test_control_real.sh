#!/usr/bin/env bash
# test_control_real.sh: unitctl against the real components. Two MariaDB
# instances (GTID replication both ways), a unitgw and a unitproxy per unit,
# and the control center. Proves through the proxies that a cutover moves
# where writes are accepted, that a rollback and a kill -9 resume leave no
# ban, and that a restarted proxy catches up.
#
# Ports: MariaDB 3514-3515, everything else 20600-20640.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
if [ -z "${UR_DB_COUNT:-}" ]; then
    exec bash "$HERE/../harness/mariadb-cluster.sh" with 2 3514 -- bash "$0" "$@"
fi
. "$HERE/../lib/testlib.sh"

D=$(t_tmpdir)
CTL_PORT=20630
t_two_units "$D" 20600
cat >"$D/control.conf" <<EOF
listen = "127.0.0.1:$CTL_PORT";
topology = "topology.conf";
state_dir = "state/control";
token_file = "token";
initial_rules = "rules.conf";
sync_method = "gtid";
cutover_timeout_ms = 5000;
push_timeout_ms = 3000;
push_retry_ms = 100;
reconcile_interval_ms = 300;
EOF
mkdir -p "$D/state"
for u in a b; do
    port=$([ $u = a ] && echo 1 || echo 3)
    db=$([ $u = a ] && echo "$UR_DB1_PORT" || echo "$UR_DB2_PORT")
    cat >"$D/gw-$u.conf" <<EOF
unit = "dc-$u";
topology = "topology.conf";
listen = "127.0.0.1:2061$([ $u = a ] && echo 1 || echo 2)";
admin_listen = "127.0.0.1:2060$port";
state_dir = "state/gw-$u";
routes = ( { prefix = "/"; type = "unit"; upstream = "http://127.0.0.1:20639"; } );
EOF
    cat >"$D/px-$u.conf" <<EOF
unit = "dc-$u";
topology = "topology.conf";
listen = "127.0.0.1:2062$([ $u = a ] && echo 1 || echo 2)";
backend = "127.0.0.1:$db";
admin = "127.0.0.1:2060$((port + 1))";
state_file = "state/px-$u.rules";
ban_drain_ms = 500;
tables = ( { name = "orders"; class = "unit"; column = "buyer_id"; } );
EOF
done

ctl() { "$UR_BIN/unitctl" -c "$D/control.conf" "$@"; }
declare -A PID
start() { # start NAME PORT CMD...
    local name=$1 port=$2; shift 2
    t_start "$name" "$D/$name.log" "$@"
    PID[$name]=$T_LAST_PID
    t_wait_port "$port"
}
stop() { kill -TERM "${PID[$1]}" 2>/dev/null; wait "${PID[$1]}" 2>/dev/null; }
start_gw() { start "gw-$1" "$2" "$UR_BIN/unitgw" -c "$D/gw-$1.conf"; }
start_px() { start "px-$1" "$2" "$UR_BIN/unitproxy" -c "$D/px-$1.conf"; }
start_ctl() {
    t_start ctl "$D/ctl.log.$((++CTL_RUNS))" env "$@" "$UR_BIN/unitctl" -c "$D/control.conf" serve
    PID[ctl]=$T_LAST_PID
    t_wait_port "$CTL_PORT"
}
CTL_RUNS=0
# write_via UNIT BUYER: INSERT through that unit's proxy; prints the error if any
write_via() {
    local port=$([ "$1" = dc-a ] && echo 20621 || echo 20622)
    MYSQL_PWD=$UR_DB_PASSWORD mariadb --no-defaults -h127.0.0.1 -P"$port" -uunitroute \
        unitroute -N -B -e "INSERT INTO orders (buyer_id, v) VALUES ($2, 1)" 2>&1
}
version_of() { # version_of ADMINPORT
    curl -s -m 2 -D - -o /dev/null "http://127.0.0.1:$1/v1/rules" | tr -d '\r' |
        sed -n 's/^X-Unitroute-Version: //p'
}
ctl_version() { ctl rules | sed -n 's/^version = \([0-9]*\)L;/\1/p'; }
wait_converged() {
    local k p ok v
    v=$(ctl_version)
    for ((k = 0; k < ${1:-5} * 10; k++)); do
        ok=1
        for p in 20601 20602 20603 20604; do [ "$(version_of $p)" = "$v" ] || ok=0; done
        [ $ok = 1 ] && return 0
        sleep 0.1
    done
    return 1
}
wait_ctl_idle() {
    local k
    for ((k = 0; k < 100; k++)); do
        ctl status 2>/dev/null | grep -q '^cutover: none running' && return 0
        sleep 0.1
    done
    return 1
}

mariadb --no-defaults -S "$UR_DB1_SOCKET" -uroot unitroute \
    -e "CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, buyer_id BIGINT, v INT)"
start_gw a 20601; start_px a 20602; start_gw b 20603; start_px b 20604
start_ctl
t_check "real components get the initial rules" wait_converged 5

out=$(write_via dc-b 5001); t_eq "before: dc-b accepts buyer 5001" "" "$out"
out=$(write_via dc-a 5001); t_match "before: dc-a refuses buyer 5001" "ERROR" "$out"

out=$(ctl cutover --buckets 5000-5999 --to dc-a --timeout 10s); rc=$?
echo "$out" | sed 's/^/    | /'
t_eq "cutover with the real gateway and proxy: exit 0" "0" "$rc"
t_match "write-ban window printed" "write-ban window: [0-9]+ ms" "$out"
t_check "every component at the new version" wait_converged 3
out=$(write_via dc-a 5001); t_eq "after: dc-a accepts buyer 5001" "" "$out"
out=$(write_via dc-b 5001); t_match "after: dc-b refuses buyer 5001" "ERROR" "$out"
n=$(mariadb --no-defaults -S "$UR_DB1_SOCKET" -uroot -N -B unitroute \
    -e "SELECT COUNT(*) FROM orders WHERE buyer_id = 5001")
t_eq "dc-a has both writes (the one before the cutover replicated)" "2" "$n"

# kill -9 after the ban acks: the restart rolls back, no ban is left
stop ctl
start_ctl UNITCTL_TEST_CRASH_AT=ban_acked
ctl cutover --buckets 5000-5999 --to dc-b >/dev/null 2>&1
for k in $(seq 50); do kill -0 "${PID[ctl]}" 2>/dev/null || break; sleep 0.1; done
out=$(write_via dc-a 5002); t_match "while the control center is dead the ban holds" "ERROR" "$out"
start_ctl
wait_ctl_idle
t_match "resumed: rolled back" " rolled_back " "$(ctl history | grep '^c' | tail -n 1)"
t_check "every component converged after the resume" wait_converged 5
out=$(write_via dc-a 5002); t_eq "after the rollback dc-a accepts buyer 5002 again" "" "$out"

# a proxy down: refused, then forced and rolled back; the proxy catches up
stop px-b
out=$(ctl cutover --buckets 5000-5999 --to dc-b 2>&1); rc=$?
t_eq "proxy down: refused (exit 4)" "4" "$rc"
ctl cutover --buckets 5000-5999 --to dc-b --force --timeout 1s >/dev/null 2>&1; rc=$?
t_eq "proxy down, forced: rolled back (exit 3)" "3" "$rc"
out=$(write_via dc-a 5003); t_eq "after that rollback dc-a accepts writes" "" "$out"
start_px b 20604
t_check "restarted proxy catches up" wait_converged 5
out=$(write_via dc-b 5003); t_match "restarted proxy refuses buyer 5003 (home dc-a)" "ERROR" "$out"

stop ctl
for n in gw-a px-a gw-b px-b; do stop $n; done
t_check "no sanitizer report in any log" bash -c "! grep -lE 'Sanitizer|runtime error' $D/*.log*"
t_done
