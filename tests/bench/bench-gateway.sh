#!/usr/bin/env bash
# bench-gateway.sh: unitgw against nginx + Lua doing the same buyerId -> unit
# upstream mapping, both in front of the same nginx upstream (small body),
# with the same number of workers (nginx worker_processes = unitgw workers)
# and both keeping upstream connections alive.
# wrk, 64 connections: every run is a BENCH_WARMUP s warm-up then
# BENCH_SECONDS s measured; nginx + Lua and unitgw forward mode run
# BENCH_ROUNDS times each, alternating, and the medians are compared (the
# machine is shared: the ratio of medians is the figure to trust). Each round
# also runs gw_floor (tests/bench/gw_floor.c): libmicrohttpd + libcurl used
# as unitgw uses them, forwarding GETs and nothing else, the most any gateway
# built that way reaches here. Also prints unitgw in redirect mode and its RSS
# holding 1000 idle keep-alive connections.
# Loopback only, ports 18500-18599; everything started is stopped on exit.
#   make bench-gateway          (or: bash tests/bench/bench-gateway.sh)
# Env: UR_BIN (unitgw's directory, default bin/), BENCH_FLOOR (gw_floor,
# default build/bench/gw_floor; empty: no floor), BENCH_SECONDS (10),
# BENCH_WARMUP (2), BENCH_ROUNDS (3), BENCH_CONNS (64), BENCH_WORKERS (1),
# BENCH_SYSCALLS (0; 1 = also count each side's system calls per request
# with strace -c during a BENCH_SYSCALL_SECONDS (3) s run: strace slows the
# traced side, so only the per-request counts mean anything there).
set -u
. "$(dirname "$0")/../lib/testlib.sh"

SECS=${BENCH_SECONDS:-10}
WARM=${BENCH_WARMUP:-2}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNS:-64}
WORKERS=${BENCH_WORKERS:-1}
UP=18501 LUA=18502 GW=18503 GWADM=18513 GWR=18504 GWRADM=18514 FLOOR=18505
FLOOR_BIN=${BENCH_FLOOR-$UR_ROOT/build/bench/gw_floor}
D=$(t_tmpdir)
NGINX_MODS=/usr/lib/nginx/modules

for tool in nginx wrk python3 openssl; do
    command -v "$tool" >/dev/null || { echo "bench-gateway: $tool missing (make deps-bench)"; exit 1; }
done
[ -x "$UR_BIN/unitgw" ] || { echo "bench-gateway: $UR_BIN/unitgw missing (make all)"; exit 1; }
[ -z "$FLOOR_BIN" ] || [ -x "$FLOOR_BIN" ] ||
    { echo "bench-gateway: $FLOOR_BIN missing (make tests)"; exit 1; }

# ---- nginx: the upstream, and the nginx + Lua routing peer ----------------------
nginx_conf() { # nginx_conf NAME WORKERS SERVER-BLOCK
    mkdir -p "$D/$1"
    cat >"$D/$1/nginx.conf" <<EOF
$( [ "$1" = lua ] && printf 'load_module %s/ndk_http_module.so;\nload_module %s/ngx_http_lua_module.so;\n' "$NGINX_MODS" "$NGINX_MODS")
worker_processes $2;
pid $D/$1/nginx.pid;
error_log $D/$1/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $D/$1/body;
    proxy_temp_path $D/$1/proxy;
    fastcgi_temp_path $D/$1/fcgi;
    uwsgi_temp_path $D/$1/uwsgi;
    scgi_temp_path $D/$1/scgi;
    keepalive_requests 1000000;
    $3
}
EOF
}
nginx_conf up 1 "server { listen 127.0.0.1:$UP; location / { return 200 \"hello from the upstream\n\"; } }"
nginx_conf lua "$WORKERS" "
    upstream unit_a { server 127.0.0.1:$UP; keepalive 64; }
    upstream unit_b { server 127.0.0.1:$UP; keepalive 64; }
    server {
        listen 127.0.0.1:$LUA;
        location / {
            set \$unit '';
            rewrite_by_lua_block {
                local id = tonumber(ngx.var.http_x_buyer_id)
                if not id then return ngx.exit(400) end
                if id % 10000 < 5000 then ngx.var.unit = 'unit_a' else ngx.var.unit = 'unit_b' end
            }
            proxy_http_version 1.1;
            proxy_set_header Connection '';
            proxy_set_header X-Forwarded-For \$remote_addr;
            add_header X-Unit dc-a;
            proxy_pass http://\$unit;
        }
    }"
t_start nginx-up "$D/up/out.log" nginx -c "$D/up/nginx.conf" -p "$D/up"
t_start nginx-lua "$D/lua/out.log" nginx -c "$D/lua/nginx.conf" -p "$D/lua"
LUA_PID=$T_LAST_PID

# ---- unitgw: forward mode (all buyers local) and redirect mode ------------------
SECRET=$(t_secret "$D")
cat >"$D/topology.conf" <<EOF
secret_file = "secret.key";
center = "dc-a";
units = (
  { name = "dc-a"; public_url = "http://127.0.0.1:$GW"; },
  { name = "dc-b"; public_url = "http://127.0.0.1:$GWR"; }
);
EOF
gw_conf() { # gw_conf UNIT PORT ADMIN MODE
    cat <<EOF
unit = "$1"; topology = "topology.conf"; mode = "$4";
listen = "127.0.0.1:$2"; admin_listen = "127.0.0.1:$3";
max_connections = 8192; workers = $WORKERS;
routes = ( { prefix = "/"; type = "unit"; upstream = "http://127.0.0.1:$UP"; } );
EOF
}
gw_conf dc-a $GW $GWADM forward >"$D/gw.conf"
gw_conf dc-a $GWR $GWRADM redirect >"$D/gwr.conf"
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"
t_start unitgw "$D/gw.log" "$UR_BIN/unitgw" -c "$D/gw.conf"
GW_PID=$T_LAST_PID
t_start unitgw-redirect "$D/gwr.log" "$UR_BIN/unitgw" -c "$D/gwr.conf"
for p in $UP $LUA $GW $GWADM $GWR $GWRADM; do t_wait_port $p || exit 1; done
if [ -n "$FLOOR_BIN" ]; then
    t_start gw_floor "$D/floor.log" "$FLOOR_BIN" $FLOOR "http://127.0.0.1:$UP"
    FLOOR_PID=$T_LAST_PID
    t_wait_port $FLOOR || exit 1
fi
cat >"$D/rules.conf" <<EOF
version = 1L;
buckets = 10000;
ranges = ( { first = 0; last = 4999; unit = "dc-a"; }, { first = 5000; last = 9999; unit = "dc-b"; } );
overrides = ( );
bans = ( );
EOF
SIG=$(t_sign "$SECRET" "$D/rules.conf")
for a in $GWADM $GWRADM; do
    curl -s -o /dev/null -X PUT -H "X-Unitroute-Signature: $SIG" --data-binary @"$D/rules.conf" \
        "http://127.0.0.1:$a/v1/rules"
done
ok=$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Buyer-Id: 1' http://127.0.0.1:$GW/x)
[ "$ok" = 200 ] || { echo "bench-gateway: unitgw answered $ok, not 200"; cat "$D/gw.log"; exit 1; }

# ---- measure ------------------------------------------------------------------------
# run NAME URL BUYER: warm up, measure; prints "NAME rps p99"; sets RPS, P99 (ms)
run() {
    wrk -t2 -c"$CONNS" -d"${WARM}s" -H "X-Buyer-Id: $3" "$2" >/dev/null 2>&1
    wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -H "X-Buyer-Id: $3" "$2" >"$D/wrk.txt" 2>&1
    RPS=$(awk '/^Requests\/sec:/ {print $2}' "$D/wrk.txt")
    P99=$(awk '$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
                             if (u == "us") v /= 1000; else if (u == "s") v *= 1000; print v }' "$D/wrk.txt")
    local non2xx
    non2xx=$(awk '/Non-2xx or 3xx/ {print $NF}' "$D/wrk.txt")
    printf '%-30s %12s req/s   p99 %8s ms%s\n' "$1" "${RPS:-?}" "${P99:-?}" \
        "${non2xx:+  (non-2xx/3xx: $non2xx)}"
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2); else print "?" }'; }
echo "bench-gateway: wrk -c$CONNS, ${WARM}s warm-up + ${SECS}s each, $WORKERS worker(s) each side," \
     "$ROUNDS alternating rounds; 2 cores shared by client and servers"
run "nginx upstream (direct)" "http://127.0.0.1:$UP/x" 1
NGX_ALL="" NGX_P99S="" GW_ALL="" GW_P99S="" FLOOR_ALL=""
for r in $(seq 1 "$ROUNDS"); do
    run "nginx + Lua routing  #$r" "http://127.0.0.1:$LUA/x" 1
    NGX_ALL="$NGX_ALL $RPS" NGX_P99S="$NGX_P99S $P99"
    run "unitgw forward (local) #$r" "http://127.0.0.1:$GW/x" 1
    GW_ALL="$GW_ALL $RPS" GW_P99S="$GW_P99S $P99"
    if [ -n "$FLOOR_BIN" ]; then
        run "gw_floor (MHD+curl only) #$r" "http://127.0.0.1:$FLOOR/x" 1
        FLOOR_ALL="$FLOOR_ALL $RPS"
    fi
done
NGX_RPS=$(echo "$NGX_ALL" | median) NGX_P99=$(echo "$NGX_P99S" | median)
GW_RPS=$(echo "$GW_ALL" | median) GW_P99=$(echo "$GW_P99S" | median)
run "unitgw redirect (307)" "http://127.0.0.1:$GWR/x" 5001
echo "medians: nginx+Lua $NGX_RPS req/s p99 $NGX_P99 ms; unitgw $GW_RPS req/s p99 $GW_P99 ms"
echo "ratio unitgw / nginx+Lua: $(awk -v a="$GW_RPS" -v b="$NGX_RPS" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "?" }')" \
     "(p99 $GW_P99 ms vs $NGX_P99 ms)"
if [ -n "$FLOOR_BIN" ]; then
    FLOOR_RPS=$(echo "$FLOOR_ALL" | median)
    echo "floor of libmicrohttpd + libcurl (gw_floor, no routing): $FLOOR_RPS req/s;" \
         "gw_floor / nginx+Lua: $(awk -v a="$FLOOR_RPS" -v b="$NGX_RPS" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "?" }')," \
         "unitgw / gw_floor: $(awk -v a="$GW_RPS" -v b="$FLOOR_RPS" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "?" }')"
fi

# ---- system calls per request (optional) -------------------------------------------
# syscalls NAME URL PID...: strace -c the processes during a wrk run; prints the
# calls per request (those at 0.05 or more, in strace's order: most time first)
syscalls() {
    local name=$1 url=$2 sp req
    shift 2
    # shellcheck disable=SC2046
    strace -c -f $(printf -- '-p %s ' "$@") -o "$D/$name.strace" 2>/dev/null &
    sp=$!
    sleep 0.5
    wrk -t2 -c"$CONNS" -d"${BENCH_SYSCALL_SECONDS:-3}s" -H "X-Buyer-Id: 1" "$url" >"$D/$name.wrk" 2>&1
    kill -INT $sp
    wait $sp 2>/dev/null
    req=$(awk '/requests in/ {print $1}' "$D/$name.wrk")
    awk -v n="${req:-0}" -v name="$name" '
        $1 ~ /^[0-9.]+$/ && $NF != "total" { k[++m] = $NF; c[$NF] = $4; t += $4 }
        END { if (n == 0) { print name ": no requests"; exit }
              printf "%s: %.2f syscalls/request (%d requests):", name, t / n, n
              for (i = 1; i <= m; i++) if (c[k[i]] / n >= 0.05) printf " %s %.2f", k[i], c[k[i]] / n
              print "" }' \
        "$D/$name.strace"
}
if [ "${BENCH_SYSCALLS:-0}" = 1 ]; then
    if command -v strace >/dev/null; then
        # shellcheck disable=SC2046
        syscalls "nginx+Lua workers" "http://127.0.0.1:$LUA/x" $(pgrep -P "$LUA_PID")
        syscalls "unitgw" "http://127.0.0.1:$GW/x" "$GW_PID"
        [ -z "$FLOOR_BIN" ] || syscalls "gw_floor" "http://127.0.0.1:$FLOOR/x" "$FLOOR_PID"
    else
        echo "bench-gateway: strace missing: no system call counts"
    fi
fi

# ---- RSS with 1000 idle keep-alive connections ---------------------------------------
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
python3 - "$GW" "$D/idle.ready" <<'EOF' &
import socket, sys, time, os
port, ready = int(sys.argv[1]), sys.argv[2]
socks = []
for i in range(1000):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /x HTTP/1.1\r\nHost: b\r\nX-Buyer-Id: 1\r\n\r\n")
    socks.append(s)
for s in socks:
    s.settimeout(5)
    s.recv(4096)
open(ready, "w").close()
time.sleep(5)
EOF
IDLE=$!
t_cleanup "kill $IDLE"
for _ in $(seq 1 100); do [ -f "$D/idle.ready" ] && break; sleep 0.1; done
sleep 0.5
echo "unitgw RSS with 1000 idle keep-alive connections: $(( $(rss "$GW_PID") / 1024 )) MB" \
     "(target < 30 MB; after the load runs above)"
wait $IDLE 2>/dev/null
