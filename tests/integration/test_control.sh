#!/usr/bin/env bash
# test_control.sh: unitctl end to end. Two MariaDB instances with GTID
# replication both ways (tests/harness/mariadb-cluster.sh), four admin stubs
# (tests/tools/admin_stub: the real admin listener and rules_keeper) standing
# in for dc-a's and dc-b's gateway and proxy, and the control center.
#
# Full cutover (gtid), dry run, pre-flight refusals, rollback on an unreachable
# component, rollback when the target's replication is stopped, abort, a
# second cutover refused while one runs, kill -9 of the control center after
# each journaled step then resume, a restarted component catching up, a
# stale-version push refused, the token, the status page and /metrics.
#
# Ports: MariaDB 3510-3511, everything else 20300-20320.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
if [ -z "${UR_DB_COUNT:-}" ]; then
    exec bash "$HERE/../harness/mariadb-cluster.sh" with 2 3510 -- bash "$0" "$@"
fi
. "$HERE/../lib/testlib.sh"

TOOLS=${UR_TOOLS:-$(dirname "$UR_BIN")/tools}
[ -x "$TOOLS/admin_stub" ] || TOOLS=$UR_ROOT/build/tools
D=$(t_tmpdir)
CTL_PORT=20310
STUB_PORTS=(20301 20302 20303 20304)   # dc-a gateway, dc-a proxy, dc-b gateway, dc-b proxy
STUB_UNITS=(dc-a dc-a dc-b dc-b)
STUB_KINDS=(gateway proxy gateway proxy)
declare -A STUB_PID

t_two_units "$D" 20300
cat >"$D/control.conf" <<EOF
listen = "127.0.0.1:$CTL_PORT";
topology = "topology.conf";
state_dir = "state";
token_file = "token";
initial_rules = "rules.conf";
sync_method = "gtid";
sync_max_lag_s = 5;
cutover_timeout_ms = 5000;
push_timeout_ms = 1000;
push_retry_ms = 100;
reconcile_interval_ms = 300;
EOF

ctl() { "$UR_BIN/unitctl" -c "$D/control.conf" "$@"; }
sql() { # sql I STATEMENT
    mariadb --no-defaults -S "$(eval echo "\$UR_DB$1_SOCKET")" -uroot -N -B unitroute -e "$2"
}

start_stub() { # start_stub I
    local i=$1
    t_start "stub$i" "$D/stub$i.log" "$TOOLS/admin_stub" --listen "127.0.0.1:${STUB_PORTS[$i]}" \
        --unit "${STUB_UNITS[$i]}" --component "${STUB_KINDS[$i]}" \
        --topology "$D/topology.conf" --state "$D/stub$i.rules"
    STUB_PID[$i]=$T_LAST_PID
    t_wait_port "${STUB_PORTS[$i]}"
}
# stub_banner I: the stub's start line (it may land just after the port opened)
stub_banner() {
    local k
    for ((k = 0; k < 40; k++)); do
        grep -q 'listening on' "$D/stub$1.log" && break
        sleep 0.05
    done
    grep 'listening on' "$D/stub$1.log"
}
stop_stub() { kill -TERM "${STUB_PID[$1]}" 2>/dev/null; wait "${STUB_PID[$1]}" 2>/dev/null; }

start_ctl() { # start_ctl [ENV=VALUE...]
    t_start ctl "$D/ctl.log.$((++CTL_RUNS))" env "$@" "$UR_BIN/unitctl" -c "$D/control.conf" serve
    CTL_PID=$T_LAST_PID
    t_wait_port "$CTL_PORT"
}
CTL_RUNS=0
stop_ctl() { kill -TERM "$CTL_PID" 2>/dev/null; wait "$CTL_PID" 2>/dev/null; }

stub_version() { # stub_version I: rule version of stub I (0 = none, x = down)
    local v
    v=$(curl -s -m 2 -D - -o /dev/null "http://127.0.0.1:${STUB_PORTS[$1]}/v1/rules" |
        tr -d '\r' | sed -n 's/^X-Unitroute-Version: //p')
    echo "${v:-0}"
}
stub_doc() { curl -s -m 2 "http://127.0.0.1:${STUB_PORTS[$1]}/v1/rules"; }
ctl_version() { ctl rules | sed -n 's/^version = \([0-9]*\)L;/\1/p'; }

# wait_converged [SECONDS]: every stub has the control center's version
wait_converged() {
    local limit=${1:-5} k i v ok
    v=$(ctl_version)
    for ((k = 0; k < limit * 10; k++)); do
        ok=1
        for i in 0 1 2 3; do [ "$(stub_version $i)" = "$v" ] || ok=0; done
        [ $ok = 1 ] && return 0
        sleep 0.1
    done
    return 1
}
no_bans_anywhere() {
    local i
    ctl rules | tr -d '\n' | grep -q 'bans = ();' || return 1
    for i in 0 1 2 3; do stub_doc $i | tr -d '\n' | grep -q 'bans = ();' || return 1; done
}
# unit that buckets 5000-5999 live in now, and the other one
where_5000() { ctl rules | grep -q 'first = 0; last = 5999; unit = "dc-a"' && echo dc-a || echo dc-b; }
other_unit() { [ "$1" = dc-a ] && echo dc-b || echo dc-a; }
db_of() { [ "$1" = dc-a ] && echo 1 || echo 2; }
wait_ctl_idle() { # until no cutover runs (resume finished)
    local k
    for ((k = 0; k < 100; k++)); do
        ctl status 2>/dev/null | grep -q '^cutover: none running' && return 0
        sleep 0.1
    done
    return 1
}

for i in 0 1 2 3; do start_stub $i; done
start_ctl

# ---- first start: the reconcile loop brings every component to v1 --------
t_check "reconcile: every component gets the initial rules" wait_converged 5
t_eq "initial version is 1" "1" "$(ctl_version)"

# ---- the token ----------------------------------------------------------
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$CTL_PORT/v1/status")
t_eq "API without token: 401" "401" "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Unitroute-Token: wrong" \
    "http://127.0.0.1:$CTL_PORT/v1/status")
t_eq "API with a wrong token: 401" "401" "$code"
out=$(ctl --token-file /nonexistent status 2>&1); rc=$?
t_eq "CLI without a token file: exit 1" "1" "$rc"
t_match "CLI names the token problem" "token" "$out"
t_check "the token never appears in the log" bash -c "! grep -qF '$(cat "$D/token")' $D/ctl.log.*"

# ---- status, page, metrics ------------------------------------------------
out=$(ctl status); rc=$?
t_eq "status exit 0" "0" "$rc"
t_match "status shows the bucket map" "5000-9999 +-> dc-b" "$out"
t_match "status shows components and versions" "dc-b +proxy +127.0.0.1:20304 +v1 +up to date" "$out"
page=$(curl -s "http://127.0.0.1:$CTL_PORT/")
t_match "status page" "unitroute control center" "$page"
metrics=$(curl -s "http://127.0.0.1:$CTL_PORT/metrics")
t_match "metrics: component versions" 'unitctl_component_rule_version\{unit="dc-a",kind="gateway",addr="127.0.0.1:20301"\} 1' "$metrics"

# ---- dry run ------------------------------------------------------------------
out=$(ctl cutover --buckets 5000-5999 --to dc-a --dry-run); rc=$?
t_eq "dry run exit 0" "0" "$rc"
t_match "dry run prints the plan" "move buckets:5000-5999 \(1000 buckets\) from dc-b to dc-a" "$out"
t_match "dry run checks replication" "replication check: ok" "$out"
t_eq "dry run changes nothing" "1" "$(ctl_version)"
t_check "dry run journals nothing" test ! -s "$D/state/journal.log"

# ---- bad requests ----------------------------------------------------------
ctl cutover --buckets 4000-5999 --to dc-a >/dev/null 2>&1; rc=$?
t_eq "buckets spanning two units refused (exit 4)" "4" "$rc"
ctl cutover --buckets 5000-5999 --to dc-b >/dev/null 2>&1; rc=$?
t_eq "cutover to the unit they are in refused (exit 4)" "4" "$rc"
ctl cutover --buckets 5000-5999 --to dc-z >/dev/null 2>&1; rc=$?
t_eq "unknown unit refused (exit 4)" "4" "$rc"
ctl cutover --to dc-a >/dev/null 2>&1; rc=$?
t_eq "cutover without a selection: usage (exit 2)" "2" "$rc"

# ---- full cutover with GTID sync --------------------------------------------
sql 2 "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, buyer BIGINT, v INT)"
for k in 1 2 3 4 5; do sql 2 "INSERT INTO t (buyer, v) VALUES (5000 + $k, $k)"; done
out=$(ctl cutover --buckets 5000-5999 --to dc-a --timeout 10s); rc=$?
echo "$out" | sed 's/^/    | /'
t_eq "full cutover exit 0" "0" "$rc"
t_match "cutover prints the ban step" "ban v2 acked by all 4 components" "$out"
t_match "cutover prints the ban point" "ban point \(source dc-b\): 2-2-[0-9]+" "$out"
t_match "cutover prints the write-ban window" "write-ban window: [0-9]+ ms" "$out"
t_match "cutover prints the replication wait" "replication wait: [0-9]+ ms" "$out"
t_eq "target has every source write" "5" "$(sql 1 'SELECT COUNT(*) FROM t')"
# right after the cutover, not after the next reconcile round
t_eq "status right after the cutover: all 4 components up to date at v3" "4" \
    "$(ctl status | grep -cE ' v3 +up to date$')"
t_check "every component has v3" wait_converged 3
t_eq "control center at v3" "3" "$(ctl_version)"
t_match "new routing on a proxy" 'first = 0; last = 5999; unit = "dc-a"' "$(stub_doc 3)"
t_check "no ban left anywhere" no_bans_anywhere
out=$(ctl history)
t_match "history lists it as done" "buckets:5000-5999 +dc-b +dc-a +done" "$out"

# ---- one buyer (an override) cut over -----------------------------------------
out=$(ctl cutover --buyer 42 --to dc-a); rc=$?
t_eq "buyer cutover exit 0" "0" "$rc"
t_match "buyer cutover bans the buyer" "ban: pushing v4 \(buyer:42 banned\)" "$out"
t_match "buyer 42 now pinned to dc-a everywhere" 'buyer = 42L; unit = "dc-a"' "$(stub_doc 1)"
t_check "buyer cutover: every component converged" wait_converged 3

# ---- stale push refused by a component (rules only go forward) ----------------
printf 'version = 2L;\nbuckets = 10000;\nranges = (\n  { first = 0; last = 9999; unit = "dc-b"; }\n);\noverrides = (\n);\nbans = (\n);\n' >"$D/stale.conf"
sig=$(t_sign "$D/secret.key" "$D/stale.conf")
code=$(curl -s -o "$D/stale.out" -w '%{http_code}' -X PUT --data-binary @"$D/stale.conf" \
    -H "X-Unitroute-Signature: $sig" "http://127.0.0.1:${STUB_PORTS[0]}/v1/rules")
t_eq "stale version push: 409" "409" "$code"
t_match "stale push answer says stale" "stale" "$(cat "$D/stale.out")"
t_eq "component kept v5" "5" "$(stub_version 0)"

# ---- rules push: validated, version bumped by the control center ------------
ctl rules | sed 's/version = 5L;/version = 1L;/' >"$D/same.conf"
out=$(ctl rules push "$D/same.conf"); rc=$?
t_eq "rules push exit 0" "0" "$rc"
t_match "rules push gets version 6" "rules v6 is now current" "$out"
t_match "rules push reports acks" "4/4 components acked v6" "$out"
printf 'version = 9L;\nbuckets = 10000;\nranges = ( { first = 0; last = 10; unit = "dc-a"; } );\n' >"$D/bad.conf"
out=$(ctl rules push "$D/bad.conf" 2>&1); rc=$?
t_eq "invalid rules refused (exit 4)" "4" "$rc"
t_match "invalid rules: says why" "invalid rules" "$out"
t_eq "version unchanged after a refusal" "6" "$(ctl_version)"

# ---- pre-flight: unreachable component refused, --force rolls back ----------
from=$(where_5000); to=$(other_unit "$from")
persisted=$(stub_version 3)
stop_stub 3
out=$(ctl cutover --buckets 5000-5999 --to "$to" 2>&1); rc=$?
t_eq "unreachable component: refused by pre-flight (exit 4)" "4" "$rc"
t_match "pre-flight names the component" "127.0.0.1:20304 +UNREACHABLE" "$out"
v_before=$(ctl_version)
out=$(ctl cutover --buckets 5000-5999 --to "$to" --force --timeout 1500ms 2>&1); rc=$?
echo "$out" | sed 's/^/    | /'
t_eq "unreachable component with --force: rolled back (exit 3)" "3" "$rc"
t_match "rollback names the missing ack" "not acked within 1500 ms by: dc-b proxy 127.0.0.1:20304" "$out"
t_eq "rollback version is base + 2" "$((v_before + 2))" "$(ctl_version)"
t_eq "routing unchanged after the rollback" "$from" "$(where_5000)"
t_match "history: rolled back" "rolled_back" "$(ctl history)"

# a component restarted catches up: from its persisted rules, then the reconcile loop
start_stub 3
t_match "restarted component starts from its persisted rules" "rule version $persisted\$" \
    "$(stub_banner 3)"
t_check "restarted component catches up within seconds" wait_converged 3
t_check "no ban left after the rollback" no_bans_anywhere

# ---- replication stopped on the target: refused, then --force times out ----
from=$(where_5000); to=$(other_unit "$from")
sql "$(db_of "$to")" "STOP SLAVE"
out=$(ctl cutover --buckets 5000-5999 --to "$to" 2>&1); rc=$?
t_eq "replication stopped: refused by pre-flight (exit 4)" "4" "$rc"
t_match "pre-flight says replication is not running" "replication .* is not running" "$out"
sql "$(db_of "$from")" "INSERT INTO t (buyer, v) VALUES (5999, 99)"
out=$(ctl cutover --buckets 5000-5999 --to "$to" --force --timeout 2s 2>&1); rc=$?
echo "$out" | sed 's/^/    | /'
t_eq "sync wait timed out: rolled back (exit 3)" "3" "$rc"
t_match "rollback says the sync was not confirmed" "sync not confirmed in time" "$out"
t_eq "routing unchanged" "$from" "$(where_5000)"
t_check "no ban left after the sync rollback" no_bans_anywhere

# ---- abort; a second cutover refused while one runs ---------------------------
ctl cutover --buckets 5000-5999 --to "$to" --force --timeout 60s >"$D/abort.out" 2>&1 &
bg=$!
for k in $(seq 50); do grep -q "sync: waiting" "$D/abort.out" && break; sleep 0.1; done
running=$(ctl status | sed -n 's/^cutover: \([^ ]*\) RUNNING.*/\1/p')
t_match "status shows the running cutover" "^c[0-9]" "$running"
out=$(ctl cutover --buckets 0-99 --to dc-b 2>&1); rc=$?
t_eq "second cutover refused (exit 4)" "4" "$rc"
t_match "refusal names the running cutover" "cutover $running is running" "$out"
ctl rules push "$D/same.conf" >/dev/null 2>&1; rc=$?
t_eq "rules push refused while a cutover runs (exit 4)" "4" "$rc"
# components restarted mid-cutover: one keeps its persisted rules (the ban),
# one lost them and gets them from the reconcile loop
ban_v=$(ctl_version)
stop_stub 1
start_stub 1
t_match "restarted mid-cutover: persisted ban version loaded" "rule version $ban_v\$" \
    "$(stub_banner 1)"
stop_stub 0
rm -f "$D/stub0.rules"
start_stub 0
t_match "restarted without state: no rules at first" "rule version 0\$" "$(stub_banner 0)"
t_check "restarted without state: caught up by the reconcile loop" wait_converged 3
t_match "the caught-up component has the ban" "first = 5000; last = 5999; \}" \
    "$(stub_doc 0 | sed -n '/^bans/,$p')"
out=$(ctl abort); rc=$?
t_eq "abort exit 0" "0" "$rc"
wait $bg; rc=$?
t_eq "aborted cutover exits 3 (rolled back)" "3" "$rc"
t_match "aborted cutover says so" "aborted by the operator" "$(cat "$D/abort.out")"
out=$(ctl abort 2>&1); rc=$?
t_eq "abort with nothing running refused (exit 4)" "4" "$rc"
t_check "no ban left after the abort" no_bans_anywhere
sql "$(db_of "$to")" "START SLAVE"
sleep 1

# ---- kill -9 of the control center after each journaled step, then resume ----
for step in begin ban_push ban_acked ban_point synced switch_push; do
    from=$(where_5000); to=$(other_unit "$from")
    stop_ctl
    start_ctl UNITCTL_TEST_CRASH_AT=$step
    ctl cutover --buckets 5000-5999 --to "$to" --timeout 10s >"$D/crash.out" 2>&1
    for k in $(seq 50); do kill -0 "$CTL_PID" 2>/dev/null || break; sleep 0.1; done
    t_check "crash at $step: the control center died" bash -c "! kill -0 $CTL_PID 2>/dev/null"
    start_ctl
    wait_ctl_idle
    expect=rolled_back; expect_unit=$from
    case $step in synced|switch_push) expect=done; expect_unit=$to ;; esac
    last=$(ctl history | grep '^c' | tail -n 1)
    t_match "crash at $step: resumed to $expect" " $expect " "$last"
    t_eq "crash at $step: buckets in $expect_unit" "$expect_unit" "$(where_5000)"
    t_check "crash at $step: every component converged" wait_converged 5
    t_check "crash at $step: no ban left" no_bans_anywhere
done

# a crash during a rollback: the restart finishes the rollback
from=$(where_5000); to=$(other_unit "$from")
stop_stub 2
stop_ctl
start_ctl UNITCTL_TEST_CRASH_AT=rollback_push
ctl cutover --buckets 5000-5999 --to "$to" --force --timeout 1s >"$D/crash.out" 2>&1
for k in $(seq 50); do kill -0 "$CTL_PID" 2>/dev/null || break; sleep 0.1; done
start_stub 2
start_ctl
wait_ctl_idle
t_match "crash at rollback_push: rollback finished" " rolled_back " "$(ctl history | grep '^c' | tail -n 1)"
t_check "crash at rollback_push: every component converged" wait_converged 5
t_check "crash at rollback_push: no ban left" no_bans_anywhere
t_eq "crash at rollback_push: routing unchanged" "$from" "$(where_5000)"

# ---- a torn last journal line is ignored and reported ------------------------
stop_ctl
printf '99 1 cX begin sel=buck' >>"$D/state/journal.log"
start_ctl
t_check "torn journal line: control center starts" wait_ctl_idle
t_match "torn journal line reported" "torn last line" "$(cat "$D/ctl.log.$CTL_RUNS")"

stop_ctl
for i in 0 1 2 3; do stop_stub $i; done
t_check "no sanitizer report in any log" bash -c "! grep -lE 'Sanitizer|runtime error' $D/*.log*"
t_done
