#!/usr/bin/env bash
# bench-cutover-load.sh: cutovers under load on the whole system (MariaDB
# pair, proxies, order services, gateways with the hold policy, control
# center). loadgen writes orders through both gateways for LOAD_S seconds
# (default 10) while buckets 5000-5999 move dc-b -> dc-a (one cutover: a
# move back would put the same buyers in a unit they had left, which the
# consistency check rightly flags). Reports the write-ban window, the client-visible
# errors (every non-2xx answer or failed transfer, retried or not), orders
# that failed for good, writes held by the gateways, and the consistency
# check. Ports 22000-22012 (BENCH_PORT_BASE moves them).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/lib/stack.sh"
LOAD_S=${LOAD_S:-10}
D=$(mktemp -d /tmp/unitroute-bench-cutover.XXXXXX)
trap 'stack_stop_all; rm -rf "$D"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stack_init "$D" "${BENCH_PORT_BASE:-22000}"
stack_up || { echo "bench-cutover-load: the system did not start"; exit 1; }

stack_load main 1000000 "$LOAD_S" --concurrency 32 &
lp=$!
sleep 3
stack_ctl cutover --buckets 5000-5999 --to dc-a >"$D/cut1.log" 2>&1
wait "$lp"
stack_ctl rules >"$D/rules-after.conf"
stack_check "$S_CONF/rules.conf" "$D/rules-after.conf" main
check_rc=$?

held=$( { curl -s "http://127.0.0.1:$P_GWADM_A/metrics"; curl -s "http://127.0.0.1:$P_GWADM_B/metrics"; } |
        grep -E '^unitgw_holds_total' | awk '{s += $NF} END {print s + 0}')
window() { sed -n 's/.*write-ban window: \([0-9]*\) ms.*/\1/p' "$1"; }
echo "cutover under load: ${LOAD_S}s of orders through both gateways, 32 concurrent, buckets 5000-5999 dc-b -> dc-a"
echo "  $(grep '^loadgen-result' "$D/load-main.log" | cut -d' ' -f2-)"
echo "  write-ban window: $(window "$D/cut1.log") ms (first ban ack -> last new-rules ack)"
echo "  writes held by the gateways: $held"
echo "  consistency: $(grep '^loadgen-check' "$D/check.log" | cut -d' ' -f2-)"
printf 'RESULT cutover-load: ban_ms=%s client_errors=%s failed_orders=%s held=%s acks=%s rps=%s check=%s\n' \
    "$(window "$D/cut1.log")" "$(stack_load_field main errors)" \
    "$(stack_load_field main failed)" "$held" "$(stack_load_field main acks)" \
    "$(stack_load_field main rps)" "$([ $check_rc = 0 ] && echo pass || echo FAIL)"
[ $check_rc = 0 ]
