#!/usr/bin/env bash
# bench-cutover.sh [N]: N cutovers (default 20) of 1000 buckets back and
# forth between dc-b and dc-a on the real system: two MariaDB instances with
# GTID replication both ways, two gateways and two proxies (the ones the
# control center must reach; the order services run too), GTID sync. Before
# each cutover a write on the source moves its GTID position, so every sync
# waits for a real position. Prints the median and max write-ban window
# (first ban ack -> last new-rules ack) and total cutover time, from
# `unitctl history`. Ports 22100-22112 (BENCH_PORT_BASE moves them).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/lib/stack.sh"
N=${1:-20}
D=$(mktemp -d /tmp/unitroute-bench-cutover.XXXXXX)
trap 'stack_stop_all; rm -rf "$D"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stack_init "$D" "${BENCH_PORT_BASE:-22100}"
stack_up || { echo "bench-cutover: the system did not start"; exit 1; }

to=dc-a
for ((k = 1; k <= N; k++)); do
    src=b
    [ $to = dc-b ] && src=a
    stack_sql "$src" "INSERT INTO orders (id, buyer_id, unit) VALUES ($k, 0, 'bench')" ||
        { echo "bench-cutover: write on dc-$src failed"; exit 1; }
    stack_ctl cutover --buckets 5000-5999 --to $to >"$D/cut$k.log" 2>&1 ||
        { echo "bench-cutover: cutover $k failed:"; cat "$D/cut$k.log"; exit 1; }
    [ $to = dc-a ] && to=dc-b || to=dc-a
done
for ((k = 1; k <= N; k++)); do
    sed -n 's/.*write-ban window: \([0-9]*\) ms.*/\1/p' "$D/cut$k.log"
done >"$D/windows"
for ((k = 1; k <= N; k++)); do
    sed -n 's/.*replication wait: [0-9]* ms; total \([0-9]*\) ms.*/\1/p' "$D/cut$k.log"
done >"$D/totals"
stats() { sort -n "$1" | awk '{ a[NR] = $1 } END { printf "median %d ms, max %d ms", a[int((NR + 1) / 2)], a[NR] }'; }
echo "bench-cutover: $N cutovers of buckets 5000-5999 back and forth, 2 gateways + 2 proxies, GTID sync"
echo "write-ban window: $(stats "$D/windows") ($(wc -l <"$D/windows") cutovers; target: median < 300 ms)"
echo "total cutover:    $(stats "$D/totals")"
