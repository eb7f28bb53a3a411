#!/usr/bin/env bash
# bench-all.sh (make bench): every benchmark in one go, then one markdown
# table with the peers' figures beside ours from the same run, written to
# build/bench/report.md and printed. Each benchmark's full output is kept
# next to it (build/bench/*.log). The machine is shared: compare ratios.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/build/bench
mkdir -p "$OUT"
cd "$ROOT"

step() { # step NAME CMD...: run a benchmark, log it, show its last lines
    echo "== $1"
    "${@:2}" >"$OUT/$1.log" 2>&1
    local rc=$?
    tail -n 4 "$OUT/$1.log" | sed 's/^/   /'
    [ $rc = 0 ] || echo "   ($1 exited with status $rc; see $OUT/$1.log)"
}

step router build/bench/bench_router
step gateway bash tests/bench/bench-gateway.sh
step proxy bash tests/bench/bench-proxy.sh
step cutover bash tests/bench/bench-cutover.sh
step cutover-load bash tests/bench/bench-cutover-load.sh

field() { sed -n "$2" "$OUT/$1.log" | head -n 1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "?" }'; }

# router
r_unit=$(field router 's/^RESULT lookup: rules_unit_for_buyer \([0-9.]*\) ns.*/\1/p')
r_ban=$(field router 's/^RESULT lookup: .*rules_is_write_banned \([0-9.]*\) ns.*/\1/p')
# gateway
read -r g_ngx g_ngx99 g_gw g_gw99 < <(field gateway \
    's/^medians: nginx+Lua \([0-9.]*\) req\/s p99 \([0-9.]*\) ms; unitgw \([0-9.]*\) req\/s p99 \([0-9.]*\) ms.*/\1 \2 \3 \4/p')
g_redir=$(field gateway 's/^unitgw redirect (307) *\([0-9.]*\) req\/s.*/\1/p')
g_rss=$(field gateway 's/^unitgw RSS with 1000 idle keep-alive connections: \([0-9]*\) MB.*/\1/p')
# proxy
pq() { awk -v t="$1" -v g="$2" '$1 == t && $2 == g { print $3, $4 }' "$OUT/proxy.log" | head -n 1; }
read -r ps_d ps_d95 < <(pq oltp_point_select direct)
read -r ps_h ps_h95 < <(pq oltp_point_select haproxy)
read -r ps_u ps_u95 < <(pq oltp_point_select unitproxy)
read -r rw_d rw_d95 < <(pq oltp_read_write direct)
read -r rw_h rw_h95 < <(pq oltp_read_write haproxy)
read -r rw_u rw_u95 < <(pq oltp_read_write unitproxy)
p_rss=$(field proxy 's/.*: \([0-9.]*\) KB per idle connection.*/\1/p')
# cutover
c_win=$(field cutover 's/^write-ban window: \(.*\)/\1/p')
c_tot=$(field cutover 's/^total cutover: *\(.*\)/\1/p')
cl=$(field cutover-load 's/^RESULT cutover-load: //p')
kv() { printf '%s\n' "$cl" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

{
    echo "# unitroute benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores shared by clients and servers"
    echo
    echo "| benchmark | unitroute | peer (same run) | ratio | target |"
    echo "|---|---|---|---|---|"
    echo "| router lookup (10M random buyerIds, 10000 buckets, 1000 overrides) | ${r_unit:-?} ns unit, ${r_ban:-?} ns ban, 0 allocs | | | < 10 ns, 0 allocs |"
    echo "| gateway forward, wrk -c64 (median req/s, p99) | ${g_gw:-?} req/s, p99 ${g_gw99:-?} ms | nginx+Lua ${g_ngx:-?} req/s, p99 ${g_ngx99:-?} ms | $(ratio "${g_gw:-0}" "${g_ngx:-0}") | >= 1.0x, p99 no worse |"
    echo "| gateway redirect mode | ${g_redir:-?} req/s | | | |"
    echo "| gateway RSS, 1000 idle keep-alive connections | ${g_rss:-?} MB | | | < 30 MB |"
    echo "| proxy oltp_point_select, 16 threads (q/s, p95) | ${ps_u:-?} q/s, p95 ${ps_u95:-?} ms | HAProxy TCP ${ps_h:-?} q/s (p95 ${ps_h95:-?}); direct ${ps_d:-?} (p95 ${ps_d95:-?}) | $(ratio "${ps_u:-0}" "${ps_h:-0}") HAProxy, $(ratio "${ps_u:-0}" "${ps_d:-0}") direct | >= 1.0x HAProxy, >= 0.6x direct |"
    echo "| proxy oltp_read_write, 16 threads (q/s, p95) | ${rw_u:-?} q/s, p95 ${rw_u95:-?} ms | HAProxy TCP ${rw_h:-?} q/s (p95 ${rw_h95:-?}); direct ${rw_d:-?} (p95 ${rw_d95:-?}) | $(ratio "${rw_u:-0}" "${rw_h:-0}") HAProxy, $(ratio "${rw_u:-0}" "${rw_d:-0}") direct | >= 1.0x HAProxy, >= 0.6x direct |"
    echo "| proxy RSS per idle client connection | ${p_rss:-?} KB | | | < 64 KB |"
    echo "| cutover x20 back and forth, 1000 buckets, GTID sync, 2 gateways + 2 proxies | ban window ${c_win:-?}; total ${c_tot:-?} | | | short, measured |"
    echo "| cutover under load (whole system, hold policy) | ban window $(kv ban_ms) ms; client-visible errors $(kv client_errors); failed orders $(kv failed_orders); held $(kv held); check $(kv check) | | | 0 errors |"
} >"$OUT/report.md"
echo
cat "$OUT/report.md"
