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
. "$ROOT/tests/lib/stack.sh"
PHASE_S=${DEMO_PHASE_S:-4}         # seconds of traffic per phase
CONCURRENCY=${DEMO_CONCURRENCY:-32}
MOVE=${DEMO_MOVE:-5000-5999}

D=$(mktemp -d /tmp/unitroute-demo.XXXXXX)
cleanup() {
    stack_stop_all
    if [ "${DEMO_OK:-0}" = 1 ]; then rm -rf "$D"; else echo "logs kept in $D"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() { printf '== %s\n' "$*"; }
die() { printf 'demo: %s (logs in %s)\n' "$*" "$D" >&2; exit 1; }

metric_sum() { # metric_sum NAME_REGEX: sum of matching samples on both gateways
    { curl -s "http://127.0.0.1:$P_GWADM_A/metrics"; curl -s "http://127.0.0.1:$P_GWADM_B/metrics"; } |
        grep -E "^($1)(\{| )" | awk '{s += $NF} END {print s + 0}'
}

# ---- start -----------------------------------------------------------------

[ -x "$STACK_BIN/unitgw" ] && [ -x "$STACK_TOOLS/loadgen" ] || die "build first: make"
stack_init "$D"                    # the example configuration, conf/, as it is
stack_ports_free || die "is another demo running?"

say "starting two MariaDB instances (dc-a :$P_DB_A, dc-b :$P_DB_B), GTID replication both ways"
stack_start_db || die "MariaDB did not start"

say "starting two proxies, two order services, two gateways and the control center"
stack_start_all
stack_wait_http "http://127.0.0.1:$P_CTL/" || die "the control center did not start"
stack_wait_versions 1 || die "the rules did not reach every component"
say "every gateway and proxy runs rule version 1 (conf/rules.conf): buckets 0-4999 -> dc-a, 5000-9999 -> dc-b"

# ---- traffic ---------------------------------------------------------------

say "phase 1: ${PHASE_S}s of orders from 10000 buyers through both gateways"
stack_load before 1000000 "$PHASE_S" --concurrency "$CONCURRENCY" || die "loadgen failed"

say "phase 2: the same traffic, and after 1s a cutover of buckets $MOVE from dc-b to dc-a"
stack_load during 2000000 "$PHASE_S" --concurrency "$CONCURRENCY" &
load_pid=$!
sleep 1
stack_ctl cutover --buckets "$MOVE" --to dc-a 2>&1 | tee "$D/cutover.log" | sed 's/^/   | /'
cut_rc=${PIPESTATUS[0]}
wait "$load_pid" || die "loadgen failed"

say "phase 3: ${PHASE_S}s of orders under the new rules"
stack_load after 3000000 "$PHASE_S" --concurrency "$CONCURRENCY" || die "loadgen failed"

# ---- check -----------------------------------------------------------------

say "checking both databases: every acknowledged order exactly once, in its home unit"
stack_ctl rules >"$D/rules-after.conf"
stack_check "$S_CONF/rules.conf" "$D/rules-after.conf" before during after
check_rc=$?

# ---- summary ---------------------------------------------------------------

units() { stack_load_field "$1" units | tr ',' ' '; }
kinds() { local k; k=$(stack_load_field "$1" kinds); [ -n "$k" ] && [ "$k" != - ] || k=none; echo "$k"; }
window=$(sed -n 's/.*write-ban window[^0-9]*\([0-9.]* *[mu]*s\).*/\1/p' "$D/cutover.log" | head -n 1)
syncw=$(sed -n 's/.*replication wait[^0-9]*\([0-9.]* *[mu]*s\).*/\1/p' "$D/cutover.log" | head -n 1)
held=$(metric_sum 'unitgw_holds_total|unitgw_held_requests_total')
check_line=$(grep '^loadgen-check' "$D/check.log")

echo
echo "================================ demo summary ================================"
printf '%-28s %s\n' "phase" "acked orders / requests    requests per serving unit"
for p in before during after; do
    printf '%-28s %-26s %s\n' "  $p" "$(stack_load_field $p acks) / $(stack_load_field $p requests)" "$(units $p)"
done
printf '%-28s %s\n' "errors by kind" ""
for p in before during after; do printf '%-28s %s\n' "  $p" "$(kinds $p)"; done
printf '%-28s %s\n' "cutover $MOVE dc-b->dc-a" "$([ "$cut_rc" = 0 ] && echo "done" || echo "FAILED (exit $cut_rc)")"
printf '%-28s %s\n' "  write-ban window" "${window:-?} (first ban ack -> last new-rules ack)"
printf '%-28s %s\n' "  replication wait" "${syncw:-?}"
printf '%-28s %s\n' "  writes held by gateways" "${held:-0} (released to the new home when the ban lifted)"
printf '%-28s %s\n' "rule versions (gw a b, px a b)" "$(stack_versions)"
printf '%-28s %s\n' "consistency check" "$([ "$check_rc" = 0 ] && echo PASS || echo FAIL)"
echo "  ${check_line#loadgen-check }"
echo "=============================================================================="
if [ "$check_rc" != 0 ] || [ "$cut_rc" != 0 ]; then
    sed 's/^/   /' "$D/check.log"
    exit 1
fi
DEMO_OK=1
say "stopped everything; nothing left running"
