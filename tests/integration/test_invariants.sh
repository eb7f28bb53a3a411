#!/usr/bin/env bash
# The design's invariants under load and faults, on the whole system: two
# MariaDB instances with GTID replication both ways, two proxies, two order
# services, two gateways, the control center, and loadgen writing orders
# through both gateways while buckets 5000-5999 move from dc-b to dc-a.
#
# Scenarios: a clean cutover; a gateway restarted mid-cutover; a proxy killed
# (SIGKILL) and restarted mid-cutover; replication on the target stopped (the
# cutover must roll back); the control center killed after the ban acks (its
# restart rolls back) and after sync (its restart finishes the switch).
#
# After each: zero lost acknowledged writes, zero writes accepted in a unit
# that was not the buyer's home (loadgen check with the rules before and
# after), no component left banned, the same rule version everywhere.
#
# "Mid-cutover" is made reliable with sync_method "command": a gate script
# that waits for the test to open it, then confirms sync with
# MASTER_GTID_WAIT on the target. Ports 21000-21139.
. "$(dirname "$0")/../lib/testlib.sh"
. "$UR_ROOT/tests/lib/stack.sh"

TMP=$(t_tmpdir)
[ -n "${INVARIANTS_KEEP:-}" ] && TMP=$INVARIANTS_KEEP   # keep logs for a look
t_cleanup 'stack_stop_all'
LOAD_S=${INVARIANTS_LOAD_S:-4}

# ---- set-up and checks shared by every scenario ----------------------------

# setup NAME BASEPORT [gate]: a fresh system; "gate" pauses cutovers at sync
setup() {
    stack_stop_all
    STACK_PID=()
    stack_init "$TMP/$1" "$2"
    if [ "${3:-}" = gate ]; then
        cat >"$S_DIR/gate.sh" <<EOF
#!/bin/sh
# sync_command for the test: tell the test the ban is acked everywhere, wait
# until it opens the gate, then confirm with MASTER_GTID_WAIT on the target.
touch "$S_DIR/gate-waiting"
while [ ! -e "$S_DIR/gate-open" ]; do sleep 0.05; done
r=\$(mariadb --no-defaults -h127.0.0.1 -P$P_DB_A -uunitroute -p"\$(cat $S_CONF/db-password)" -N \\
      -e "SELECT MASTER_GTID_WAIT('\$UNITROUTE_SOURCE_POS', 20)")
[ "\$r" = 0 ]
EOF
        chmod +x "$S_DIR/gate.sh"
        sed -i "s|^sync_method = .*|sync_method = \"command\";|; s|^sync_command = .*|sync_command = \"$S_DIR/gate.sh\";|" \
            "$S_CONF/control.conf"
    fi
    stack_up
}

wait_file() { # wait_file PATH SECONDS
    local i
    for ((i = 0; i < $2 * 20; i++)); do
        [ -e "$1" ] && return 0
        sleep 0.05
    done
    return 1
}

ctl_version() { stack_ctl rules 2>/dev/null | sed -n 's/^version = \([0-9]*\)L*;/\1/p'; }

# check_invariants NAME: the four invariants after a scenario
check_invariants() {
    local name=$1 v
    v=$(ctl_version)
    stack_wait_versions "${v:-999}" 15
    t_eq "$name: every component runs the control center's version $v" "$v $v $v $v" "$(stack_versions)"
    t_eq "$name: no component is left with a ban" "0 0 0 0" "$(stack_bans)"
    stack_ctl rules >"$S_DIR/rules-after.conf"
    stack_check "$S_CONF/rules.conf" "$S_DIR/rules-after.conf" main
    local rc=$? line
    line=$(grep '^loadgen-check' "$S_DIR/check.log")
    t_eq "$name: consistency check passes" "0" "$rc"
    t_match "$name: zero lost acknowledged writes" ' lost=0 ' "$line"
    t_match "$name: zero writes outside the buyer's home" ' misplaced=0 ' "$line"
    t_match "$name: databases agree" ' divergent=0 ' "$line"
    local acks
    acks=$(stack_load_field main acks)
    t_check "$name: orders were acknowledged during the run ($acks)" test "${acks:-0}" -gt 100
    echo "   $name: $(grep '^loadgen-result' "$S_DIR/load-main.log" | cut -d' ' -f2-4,10-)"
    [ "$rc" = 0 ] || sed 's/^/   /' "$S_DIR/check.log"
}

# with_load CMD...: run CMD while loadgen writes for LOAD_S seconds
with_load() {
    stack_load main 1000000 "$LOAD_S" --concurrency 16 &
    local lp=$!
    sleep 1
    "$@"
    wait "$lp"
    t_eq "$SCENARIO: loadgen completed" "0" "$?"
}

cutover() { # cutover [FLAGS]: the move of every scenario; exit code in CUT_RC
    stack_ctl cutover --buckets 5000-5999 --to dc-a "$@" >"$S_DIR/cutover.log" 2>&1
    CUT_RC=$?
}

# ---- scenarios ---------------------------------------------------------------

scenario_clean() {
    cutover
    t_eq "$SCENARIO: cutover succeeds" "0" "$CUT_RC"
    t_match "$SCENARIO: write-ban window reported" 'write-ban window: [0-9]+ ms' "$(cat "$S_DIR/cutover.log")"
}

restart_mid_cutover() { # restart_mid_cutover COMPONENT SIGNAL
    cutover &
    local cp=$!
    wait_file "$S_DIR/gate-waiting" 20
    t_eq "$SCENARIO: every component is banned (v2) before the restart" "2 2 2 2" "$(stack_versions)"
    stack_kill "$1" "$2"
    stack_start "$1"
    local adm=$P_GWADM_B
    [ "${1%-*}" = proxy ] && adm=$P_PXADM_B
    stack_wait_http "http://127.0.0.1:$adm/healthz"
    t_eq "$SCENARIO: restarted $1 resumes with its persisted ban (v2)" "2" \
        "$(stack_rule_version "127.0.0.1:$adm")"
    touch "$S_DIR/gate-open"
    wait "$cp"
    t_eq "$SCENARIO: cutover succeeds" "0" "$?"
}

scenario_gateway_restart() { restart_mid_cutover gateway-b TERM; }
scenario_proxy_kill() { restart_mid_cutover proxy-b KILL; }

scenario_replication_stopped() {
    stack_sql a "STOP SLAVE"
    cutover --force --timeout 3s
    t_eq "$SCENARIO: cutover rolls back (exit 3)" "3" "$CUT_RC"
    t_match "$SCENARIO: the rollback is reported" 'roll' "$(cat "$S_DIR/cutover.log")"
    stack_sql a "START SLAVE"
}

control_crash_at() { # control_crash_at STEP EXPECTED_ROUTING_UNIT
    stack_kill control
    UNITCTL_TEST_CRASH_AT=$1 stack_start control
    stack_wait_http "http://127.0.0.1:$P_CTL/"
    local pid=${STACK_PID[control]}
    cutover
    sleep 0.2
    t_check "$SCENARIO: the control center died at $1" bash -c "! kill -0 $pid 2>/dev/null"
    t_check "$SCENARIO: the CLI reports the failure (exit $CUT_RC)" test "$CUT_RC" != 0
    stack_kill control
    stack_start control
    stack_wait_http "http://127.0.0.1:$P_CTL/"
    local i
    for ((i = 0; i < 100; i++)); do
        [ "$(stack_ctl history 2>/dev/null | grep -cE 'done|rolled')" -ge 1 ] && break
        sleep 0.1
    done
    t_match "$SCENARIO: the restarted control center finished the cutover" "$2" \
        "$(stack_ctl history 2>&1)"
}

scenario_control_crash_banned() { control_crash_at ban_acked 'rolled'; }
scenario_control_crash_synced() { control_crash_at synced 'done'; }

run() { # run NAME BASEPORT [gate]; INVARIANTS_ONLY="a b" runs only those
    [ -n "${INVARIANTS_ONLY:-}" ] && [[ " $INVARIANTS_ONLY " != *" $1 "* ]] && return
    SCENARIO=$1
    echo "--- $SCENARIO"
    if ! setup "$1" "$2" "${3:-}"; then
        t_fail "$SCENARIO: set-up" "see $TMP/$1"
        return
    fi
    with_load "scenario_$1"
    check_invariants "$1"
}

run clean 21000
run gateway_restart 21020 gate
run proxy_kill 21040 gate
run replication_stopped 21060
run control_crash_banned 21080
run control_crash_synced 21100
stack_stop_all
t_done
