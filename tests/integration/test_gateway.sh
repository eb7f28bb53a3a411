#!/usr/bin/env bash
# test_gateway.sh: two gateways (dc-a, dc-b) and two echo upstreams on
# loopback; curl as the client. Ports 18001-18029.
#   routing: local, cross-unit forward, override, query/cookie buyerId,
#            center and local routes, hop loop 421, 400s
#   rules:   signed push accepted / refused (200 / 401 / 409 / 400), a push
#            changes routing without restart, persisted rules survive restart
#   bans:    hold then release (the held POST reaches the new home once, also
#            when it was forwarded to the gateway that held it),
#            hold timeout and reject policy: 503 + Retry-After
#   versions: the hop header carries the sender's signed rule version; a gateway
#            whose rules lag serves a newer sender's hop instead of 421, and
#            one ahead serves an older sender's read instead of bouncing it
#   drain:   a ban push is acked only once the writes already sent on for
#            the banned buckets were answered (or after ban_drain_ms)
#   streams: 100 MB up and down through the gateway, RSS stays flat
#   errors:  502 / 504 name the upstream; malformed requests get 4xx
#   ops:     SIGHUP reload (redirect mode: 307), metrics, status, SIGTERM drain
. "$(dirname "$0")/../lib/testlib.sh"

BIN=$UR_BIN
BUILD_DIR=${UR_TOOLS:-}
if [ -z "$BUILD_DIR" ]; then
    # tools live next to the binaries' build: build*/tools
    for d in "$BIN/../tools" "$UR_ROOT/build/tools" "$UR_ROOT/build-gw/tools"; do
        [ -x "$d/echo_upstream" ] && { BUILD_DIR=$d; break; }
    done
fi
ECHO=$BUILD_DIR/echo_upstream
if [ ! -x "$BIN/unitgw" ] || [ ! -x "$ECHO" ]; then
    t_fail "setup" "need $BIN/unitgw and echo_upstream (make all tests)"
    t_done
    exit 1
fi

GA=18001 GB=18002 AA=18011 AB=18012 UA=18021 UB=18022 STALL=18028 DEAD=18029
D=$(t_tmpdir)
SECRET=$(t_secret "$D")

cat >"$D/topology.conf" <<EOF
secret_file = "secret.key";
center = "dc-a";
units = (
  { name = "dc-a"; public_url = "http://127.0.0.1:$GA"; gateway_admin = [ "127.0.0.1:$AA" ]; },
  { name = "dc-b"; public_url = "http://127.0.0.1:$GB"; gateway_admin = [ "127.0.0.1:$AB" ]; }
);
EOF

# gw_conf UNIT PORT ADMIN UPSTREAM [EXTRA...]
gw_conf() {
    local unit=$1 port=$2 admin=$3 up=$4; shift 4
    cat <<EOF
unit = "$unit"; topology = "topology.conf";
listen = "127.0.0.1:$port"; admin_listen = "127.0.0.1:$admin";
state_dir = "state-$unit"; log_requests = true;
ban_hold_ms = 1500; upstream_timeout_ms = 1000; drain_timeout_ms = 5000;
max_body_bytes = 200000000L;
routes = (
  { prefix = "/api/";    type = "unit";   upstream = "http://127.0.0.1:$up"; },
  { prefix = "/center/"; type = "center"; upstream = "http://127.0.0.1:$up"; },
  { prefix = "/dead/";   type = "local";  upstream = "http://127.0.0.1:$DEAD"; },
  { prefix = "/stall/";  type = "local";  upstream = "http://127.0.0.1:$STALL"; },
  { prefix = "/";        type = "local";  upstream = "http://127.0.0.1:$up"; }
);
EOF
    for x in "$@"; do echo "$x"; done
}
gw_conf dc-a $GA $AA $UA >"$D/gw-a.conf"
gw_conf dc-b $GB $AB $UB >"$D/gw-b.conf"

# rules VERSION [RANGES] [BANS]
rules() {
    local ranges=${2:-'{ first = 0; last = 4999; unit = "dc-a"; }, { first = 5000; last = 9999; unit = "dc-b"; }'}
    cat <<EOF
version = $1L;
buckets = 10000;
ranges = ( $ranges );
overrides = ( { buyer = 42L; unit = "dc-b"; } );
bans = ( ${3:-} );
EOF
}

# push ADMINPORT FILE [SIGNATURE]: prints "HTTP-code body"
push() {
    local sig=${3:-$(t_sign "$SECRET" "$2")}
    curl -s -m 5 -o "$D/push.out" -w '%{http_code}' -X PUT -H "X-Unitroute-Signature: $sig" \
        --data-binary @"$2" "http://127.0.0.1:$1/v1/rules"
    echo " $(cat "$D/push.out")"
}

start_gw() { # start_gw a|b [LOGNAME]
    local port
    port=$([ "$1" = a ] && echo $GA || echo $GB)
    t_start "gw-$1" "$D/${2:-gw-$1}.log" "$BIN/unitgw" -c "$D/gw-$1.conf"
    eval "PID_$1=$T_LAST_PID"
    t_wait_port "$port"
}

t_start up-a "$D/up-a.out" "$ECHO" -p $UA -n up-a -l "$D/up.log"
t_start up-b "$D/up-b.out" "$ECHO" -p $UB -n up-b -l "$D/up.log"
t_wait_port $UA && t_wait_port $UB
start_gw a
start_gw b

c() { curl -s -m "${UR_CURL_MAX_TIME:-10}" "$@"; }   # UR_CURL_MAX_TIME: slower builds (TSan)
field() { sed -n "s/^$1=//p"; }   # field NAME < echo body

# ---- before any rules ------------------------------------------------------
t_eq "no rules: unit route 503" "503" "$(c -o /dev/null -w '%{http_code}' -H 'X-Buyer-Id: 1' http://127.0.0.1:$GA/api/x)"
t_eq "no rules: local route still served" "up-a" "$(c http://127.0.0.1:$GA/hello | field upstream)"
t_eq "no rules: healthz 503" "503" "$(c -o /dev/null -w '%{http_code}' http://127.0.0.1:$AA/healthz)"

# ---- signed pushes ----------------------------------------------------------
rules 1 >"$D/r1.conf"
t_match "push v1 to dc-a: 200 applied" '^200 .*"applied"' "$(push $AA "$D/r1.conf")"
t_match "push v1 to dc-b: 200 applied" '^200 .*"applied"' "$(push $AB "$D/r1.conf")"
t_match "same push again: 200" '^200 ' "$(push $AA "$D/r1.conf")"
t_match "bad signature: 401" '^401 .*error' "$(push $AA "$D/r1.conf" 0000000000000000000000000000000000000000000000000000000000000000)"
printf 'version = 9L;\nbuckets = 10000;\nranges = ( { first = 0; last = 10; unit = "dc-a"; } );\n' >"$D/bad.conf"
t_match "invalid rules: 400" '^400 .*error' "$(push $AA "$D/bad.conf")"
rules 1 '{ first = 0; last = 9999; unit = "dc-a"; }' >"$D/r1x.conf"
t_match "same version, other bytes: 409" '^409 ' "$(push $AA "$D/r1x.conf")"

# ---- routing ---------------------------------------------------------------
out=$(c -i -H 'X-Buyer-Id: 1' -H 'Connection: X-Drop' -H 'X-Drop: secret' -H 'Keep-Alive: 5' \
      "http://127.0.0.1:$GA/api/orders?q=1")
t_match "local forward: up-a serves buyer 1" '^upstream=up-a' "$(echo "$out" | grep upstream=)"
t_match "local forward: X-Unit dc-a" '^X-Unit: dc-a' "$(echo "$out" | grep -i '^X-Unit:')"
t_match "local forward: X-Unit-Home" "X-Unit-Home: http://127.0.0.1:$GA" "$(echo "$out" | grep -i '^X-Unit-Home')"
t_match "local forward: path and query kept" '^query=q=1' "$(echo "$out" | grep '^query=')"
t_match "X-Forwarded-For added" '^h X-Forwarded-For: 127.0.0.1' "$(echo "$out" | grep -i 'h X-Forwarded-For')"
t_match "X-Forwarded-Proto added" 'http' "$(echo "$out" | grep -i 'h X-Forwarded-Proto')"
t_match "Via added" '1.1 unitgw-dc-a' "$(echo "$out" | grep -i '^h Via')"
t_eq "hop-by-hop request headers stripped" "" "$(echo "$out" | grep -iE '^h (X-Drop|Keep-Alive|Connection):')"
t_eq "hop-by-hop response headers stripped" "" "$(echo "$out" | grep -iE '^(X-Secret-Hop|Keep-Alive):')"
out=$(c -i -H 'X-Buyer-Id: 1' -H 'Connection: keep-alive' -H 'Connection: X-Second' \
      -H 'X-Second: secret' "http://127.0.0.1:$GA/api/orders")
t_eq "every Connection header's tokens stripped, not only the first's" "" \
     "$(echo "$out" | grep -iE '^h (X-Second|Connection):')"

out=$(c -i -H 'X-Buyer-Id: 5001' http://127.0.0.1:$GA/api/x)
t_match "cross-unit forward: up-b serves buyer 5001" '^upstream=up-b' "$(echo "$out" | grep upstream=)"
t_match "cross-unit forward: X-Unit dc-b" '^X-Unit: dc-b' "$(echo "$out" | grep -i '^X-Unit:')"
t_match "cross-unit forward: X-Unit-Home dc-b" "X-Unit-Home: http://127.0.0.1:$GB" "$(echo "$out" | grep -i '^X-Unit-Home')"
t_match "cross-unit forward: two Via hops" 'unitgw-dc-a, 1.1 unitgw-dc-b' "$(echo "$out" | grep -i '^h Via')"

# request bodies: small ones of known length go with the headers in one write,
# larger or chunked ones are streamed; either way method, type and bytes arrive
head -c 100 /dev/urandom >"$D/b100"; head -c 5000 /dev/urandom >"$D/b5k"; head -c 40000 /dev/urandom >"$D/b40k"
fnv() { c --data-binary @"$1" "http://127.0.0.1:$UA/direct" | field body_fnv; }   # the upstream's own view
out=$(c -H 'X-Buyer-Id: 1' -H 'Content-Type: application/json' --data-binary @"$D/b100" http://127.0.0.1:$GA/api/b)
t_eq "small POST: body intact" "$(fnv "$D/b100") 100" "$(echo "$out" | field body_fnv) $(echo "$out" | field body_bytes)"
t_match "small POST: method and the client's Content-Type kept" '^method=POST' "$(echo "$out" | grep '^method=')"
t_match "small POST: Content-Type application/json" '^h Content-Type: application/json' "$(echo "$out" | grep -i '^h Content-Type')"
out=$(c -H 'X-Buyer-Id: 1' -H 'Content-Type:' --data-binary @"$D/b100" http://127.0.0.1:$GA/api/b)
t_eq "small POST without a Content-Type: none added" "" "$(echo "$out" | grep -i '^h Content-Type')"
out=$(c -X PUT -H 'X-Buyer-Id: 5001' --data-binary @"$D/b5k" http://127.0.0.1:$GA/api/b)
t_eq "small PUT forwarded to dc-b: method and body intact" "PUT $(fnv "$D/b5k") 5000" \
    "$(echo "$out" | field method) $(echo "$out" | field body_fnv) $(echo "$out" | field body_bytes)"
out=$(c -H 'X-Buyer-Id: 1' --data-binary @"$D/b40k" http://127.0.0.1:$GA/api/b)
t_eq "larger POST (streamed): body intact" "$(fnv "$D/b40k") 40000" "$(echo "$out" | field body_fnv) $(echo "$out" | field body_bytes)"
out=$(c -H 'X-Buyer-Id: 1' -H 'Transfer-Encoding: chunked' --data-binary @"$D/b100" http://127.0.0.1:$GA/api/b)
t_eq "chunked POST (streamed): body intact" "$(fnv "$D/b100") 100" "$(echo "$out" | field body_fnv) $(echo "$out" | field body_bytes)"
t_eq "override: buyer 42 -> dc-b" "up-b" "$(c -H 'X-Buyer-Id: 42' http://127.0.0.1:$GA/api/x | field upstream)"
t_eq "override: buyer 10042 (same bucket) -> dc-a" "up-a" "$(c -H 'X-Buyer-Id: 10042' http://127.0.0.1:$GA/api/x | field upstream)"
t_eq "buyerId from query" "up-a" "$(c "http://127.0.0.1:$GB/api/x?buyerId=7" | field upstream)"
t_eq "buyerId from cookie" "up-b" "$(c -b 'a=1; buyer_id=6000' http://127.0.0.1:$GA/api/x | field upstream)"
t_eq "center route from dc-b -> dc-a" "up-a" "$(c http://127.0.0.1:$GB/center/x | field upstream)"
t_eq "local route on dc-b" "up-b" "$(c http://127.0.0.1:$GB/other | field upstream)"
out=$(c -i -H 'X-Buyer-Id: 5001' -H 'X-Unitroute-Hop: dc-b' http://127.0.0.1:$GA/api/x)
t_match "hop loop: 421" '^HTTP/1.1 421' "$out"
t_match "hop loop: reason" 'already forwarded' "$out"
t_match "missing buyerId: 400 with message" 'missing buyerId' "$(c -i http://127.0.0.1:$GA/api/x)"
t_match "invalid buyerId: 400" '^HTTP/1.1 400' "$(c -i -H 'X-Buyer-Id: 12abc' http://127.0.0.1:$GA/api/x)"
t_match "X-Unit on errors too" 'X-Unit: dc-a' "$(c -i -H 'X-Buyer-Id: -1' http://127.0.0.1:$GA/api/x)"
t_eq "keep-alive: two requests, one connection" "1" \
    "$(c -sv http://127.0.0.1:$GA/a http://127.0.0.1:$GA/b 2>&1 | grep -c 'Re-using')"

# ---- a push changes routing without restart --------------------------------
rules 2 '{ first = 0; last = 0; unit = "dc-a"; }, { first = 1; last = 1; unit = "dc-b"; }, { first = 2; last = 4999; unit = "dc-a"; }, { first = 5000; last = 9999; unit = "dc-b"; }' >"$D/r2.conf"
push $AA "$D/r2.conf" >/dev/null; push $AB "$D/r2.conf" >/dev/null
t_eq "push v2: buyer 1 now in dc-b" "up-b" "$(c -H 'X-Buyer-Id: 1' http://127.0.0.1:$GA/api/x | field upstream)"
t_match "stale push v1: 409" '^409 ' "$(push $AA "$D/r1.conf")"

# ---- hold, then release to the new home ----------------------------------------
R2='{ first = 0; last = 0; unit = "dc-a"; }, { first = 1; last = 1; unit = "dc-b"; }, { first = 2; last = 4999; unit = "dc-a"; }, { first = 5000; last = 9999; unit = "dc-b"; }'
R4='{ first = 0; last = 0; unit = "dc-a"; }, { first = 1; last = 1; unit = "dc-b"; }, { first = 2; last = 99; unit = "dc-a"; }, { first = 100; last = 100; unit = "dc-b"; }, { first = 101; last = 4999; unit = "dc-a"; }, { first = 5000; last = 9999; unit = "dc-b"; }'
rules 3 "$R2" '{ first = 100; last = 100; }' >"$D/r3.conf"
rules 4 "$R4" >"$D/r4.conf"
push $AA "$D/r3.conf" >/dev/null; push $AB "$D/r3.conf" >/dev/null
: >"$D/up.log"
( c -i -X POST -H 'X-Buyer-Id: 100' --data 'held-body' http://127.0.0.1:$GB/api/held >"$D/held.out" ) &
HELD=$!
sleep 0.4
t_eq "held POST not delivered during the ban" "" "$(grep /api/held "$D/up.log")"
t_eq "reads flow during the ban" "up-a" "$(c -H 'X-Buyer-Id: 100' http://127.0.0.1:$GB/api/read | field upstream)"
t_match "metrics: one held request" '^unitgw_held_requests 1' "$(c http://127.0.0.1:$AB/metrics | grep '^unitgw_held_requests')"
push $AA "$D/r4.conf" >/dev/null; push $AB "$D/r4.conf" >/dev/null
wait $HELD
t_match "released POST answered 200" '^HTTP/1.1 200' "$(cat "$D/held.out")"
t_eq "released POST reached the new home once" "up-b POST /api/held 9" "$(grep /api/held "$D/up.log")"
t_match "metrics: hold released" '^unitgw_holds_released_total 1' "$(c http://127.0.0.1:$AB/metrics | grep released)"

# ---- hold timeout: 503 + Retry-After ----------------------------------------
rules 5 "$R4" '{ first = 200; last = 200; }' >"$D/r5.conf"
push $AA "$D/r5.conf" >/dev/null; push $AB "$D/r5.conf" >/dev/null
start=$(date +%s%N)
out=$(c -i -X POST -H 'X-Buyer-Id: 200' --data 'x' http://127.0.0.1:$GB/api/t)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
t_match "hold timeout: 503" '^HTTP/1.1 503' "$out"
t_match "hold timeout: Retry-After" 'Retry-After: 1' "$out"
t_check "hold timeout: after ban_hold_ms (${ms} ms)" test "$ms" -ge 1400 -a "$ms" -lt 5000
t_eq "write ban: never delivered" "" "$(grep /api/t "$D/up.log")"

# ---- hop header with the sender's rule version --------------------------------
# v6 moves bucket 5300 dc-b -> dc-a; only dc-b gets it at first, as in a
# cutover where the gateways get the new routing one after the other.
R6='{ first = 0; last = 0; unit = "dc-a"; }, { first = 1; last = 1; unit = "dc-b"; }, { first = 2; last = 99; unit = "dc-a"; }, { first = 100; last = 100; unit = "dc-b"; }, { first = 101; last = 4999; unit = "dc-a"; }, { first = 5000; last = 5299; unit = "dc-b"; }, { first = 5300; last = 5300; unit = "dc-a"; }, { first = 5301; last = 9999; unit = "dc-b"; }'
rules 6 "$R6" '{ first = 200; last = 200; }' >"$D/r6.conf"
t_match "push v6 to dc-b only" '^200 ' "$(push $AB "$D/r6.conf")"
out=$(c -i -H 'X-Buyer-Id: 5300' http://127.0.0.1:$GB/api/v)
t_match "dc-b (v6) -> dc-a (v5): newer sender trusted, 200" '^HTTP/1.1 200' "$out"
t_match "newer sender trusted: served by up-a" '^upstream=up-a' "$(echo "$out" | grep upstream=)"
t_match "newer sender trusted: X-Unit dc-a" '^X-Unit: dc-a' "$(echo "$out" | grep -i '^X-Unit:')"
t_match "newer sender trusted: X-Unit-Home dc-a" "X-Unit-Home: http://127.0.0.1:$GA" "$(echo "$out" | grep -i '^X-Unit-Home')"
t_match "metrics: hop trusted counted on dc-a" '^unitgw_hop_trusted_total 1$' "$(c http://127.0.0.1:$AA/metrics | grep '^unitgw_hop_trusted_total')"
out=$(c -i -H 'X-Buyer-Id: 5300' -H 'X-Unitroute-Hop: dc-a; v=6' http://127.0.0.1:$GB/api/v)
t_match "hop from an equal version: still 421" '^HTTP/1.1 421' "$out"
t_match "421 names both versions" 'sender rule version 6.*dc-b at rule version 6' "$out"
t_match "hop from an older version: 421" '^HTTP/1.1 421' "$(c -i -H 'X-Buyer-Id: 5300' -H 'X-Unitroute-Hop: dc-a; v=5' http://127.0.0.1:$GB/api/v)"
t_match "hop without a version (older sender): 421" '^HTTP/1.1 421' "$(c -i -H 'X-Buyer-Id: 5300' -H 'X-Unitroute-Hop: dc-a' http://127.0.0.1:$GB/api/v)"
t_match "hop with a malformed version: 421" '^HTTP/1.1 421' "$(c -i -H 'X-Buyer-Id: 5300' -H 'X-Unitroute-Hop: dc-a; v=7x' http://127.0.0.1:$GB/api/v)"
# a client writing the header itself: only a version signed with the topology's secret counts
out=$(c -i -H 'X-Buyer-Id: 5300' -H 'X-Unitroute-Hop: dc-a; v=99' http://127.0.0.1:$GB/api/v)
t_match "forged hop (newer version, no signature): 421" '^HTTP/1.1 421' "$out"
t_match "forged hop: reason says not signed" 'not signed with our secret' "$out"
FAKESIG=$(printf '%064d' 0)
t_match "forged hop (newer version, wrong signature): 421" '^HTTP/1.1 421' "$(c -i -H 'X-Buyer-Id: 5300' -H "X-Unitroute-Hop: dc-a; v=99; sig=$FAKESIG" http://127.0.0.1:$GB/api/v)"
t_match "metrics: misdirected still counted on dc-b" 'unitgw_requests_total\{route="unit",outcome="misdirected",unit="dc-a"\} 6' "$(c http://127.0.0.1:$AB/metrics)"
t_match "metrics: nothing trusted on dc-b" '^unitgw_hop_trusted_total 0$' "$(c http://127.0.0.1:$AB/metrics | grep '^unitgw_hop_trusted_total')"
# the other way round: dc-a (v5) still sends buyer 5300 to dc-b (v6), which would send it back
out=$(c -i -H 'X-Buyer-Id: 5300' http://127.0.0.1:$GA/api/v)
t_match "dc-a (v5) -> dc-b (v6): a read from an older sender is served, 200" '^HTTP/1.1 200' "$out"
t_match "older sender's read: served by up-b" '^upstream=up-b' "$(echo "$out" | grep upstream=)"
t_match "older sender's read: X-Unit-Home is dc-a (dc-b's newer rules)" "X-Unit-Home: http://127.0.0.1:$GA" "$(echo "$out" | grep -i '^X-Unit-Home')"
t_match "dc-a (v5) -> dc-b (v6): a write from an older sender is 421" '^HTTP/1.1 421' "$(c -i -X POST -d x=1 -H 'X-Buyer-Id: 5300' http://127.0.0.1:$GA/api/v)"
t_match "metrics: older sender's read counted as trusted on dc-b" '^unitgw_hop_trusted_total 1$' "$(c http://127.0.0.1:$AB/metrics | grep '^unitgw_hop_trusted_total')"
push $AA "$D/r6.conf" >/dev/null
t_eq "both on v6: buyer 5300 served in dc-a, no hop" "up-a" "$(c -H 'X-Buyer-Id: 5300' http://127.0.0.1:$GB/api/v | field upstream)"
t_match "both on v6: a hop at an equal version is 421 on dc-a too" '^HTTP/1.1 421' "$(c -i -H 'X-Buyer-Id: 5001' -H 'X-Unitroute-Hop: dc-b; v=6' http://127.0.0.1:$GA/api/v)"

# ---- ban drain ------------------------------------------------------------------
# drain_probe GWPORT ADMINPORT RULES SIG BUYER:SLEEP_MS...: POSTs (slow
# upstream) for each buyer, then after 150 ms the signed rule push. Prints
# "put=CODE put_ms=N ready=R... post=CODE...": ready is 1 when that POST's
# answer had already arrived when the push's answer did.
drain_probe() {
    python3 - "$@" <<'PY'
import select, socket, sys, time
gw, adm, rules, sig = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
def conn(port):
    return socket.create_connection(("127.0.0.1", port), timeout=10)
def read_all(s):
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            return out
        out += d
def status(b):
    return b.split(b"\r\n")[0].split(b" ")[1].decode() if b else "none"
posts = []
for arg in sys.argv[5:]:
    buyer, ms = arg.split(":")
    s = conn(gw)
    s.sendall(("POST /api/slow?sleep_ms=%s HTTP/1.1\r\nHost: t\r\nX-Buyer-Id: %s\r\n"
               "Content-Length: 5\r\nConnection: close\r\n\r\nwrite" % (ms, buyer)).encode())
    posts.append(s)
time.sleep(0.15)
body = open(rules, "rb").read()
p = conn(adm)
t0 = time.monotonic()
p.sendall(("PUT /v1/rules HTTP/1.1\r\nHost: t\r\nX-Unitroute-Signature: %s\r\n"
           "Content-Length: %d\r\nConnection: close\r\n\r\n" % (sig, len(body))).encode() + body)
put = read_all(p)
put_ms = int((time.monotonic() - t0) * 1000)
ready = [str(int(bool(select.select([s], [], [], 0)[0]))) for s in posts]
codes = [status(read_all(s)) for s in posts]
print("put=%s put_ms=%d ready=%s post=%s" % (status(put), put_ms, ",".join(ready), ",".join(codes)))
PY
}
probe_field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# buyer 301 (bucket 301, dc-a) is banned by v7, buyer 303 is not
rules 7 "$R6" '{ first = 200; last = 200; }, { first = 301; last = 301; }' >"$D/r7.conf"
out=$(drain_probe $GA $AA "$D/r7.conf" "$(t_sign "$SECRET" "$D/r7.conf")" 301:600 303:900)
echo "   drain probe: $out"
put_ms=$(probe_field "$out" put_ms)
t_eq "ban push with a write in flight: 200" "200" "$(probe_field "$out" put)"
t_eq "the ban's ack came after the banned write's answer, not the unbanned one's" "1,0" "$(probe_field "$out" ready)"
t_check "ack waited for the write (${put_ms} ms; it ends ~450 ms after the push)" test "$put_ms" -ge 350 -a "$put_ms" -lt 700
t_eq "both writes answered 200" "200,200" "$(probe_field "$out" post)"
m=$(c http://127.0.0.1:$AA/metrics)
t_match "metrics: drain not timed out" '^unitgw_ban_drain_timeouts_total 0$' "$(echo "$m" | grep '^unitgw_ban_drain_timeouts_total')"
t_match "metrics: last drain waited" '^unitgw_ban_drain_ms_last [3-6][0-9][0-9]$' "$(echo "$m" | grep '^unitgw_ban_drain_ms_last')"
start=$(date +%s%N)
t_match "push v7 to dc-b (nothing in flight): 200" '^200 ' "$(push $AB "$D/r7.conf")"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
t_check "nothing in flight: acked at once (${ms} ms)" test "$ms" -lt 300

# a write forwarded to dc-b and held there by dc-b's ban: dc-b's drain covers
# what dc-b sends upstream; dc-a must not wait for it (the hold lasts until
# the new routing, which the control center pushes only after this ack)
rules 8 "$R6" '{ first = 200; last = 200; }, { first = 301; last = 301; }, { first = 5400; last = 5400; }' >"$D/r8.conf"
rules 9 "$R6" '{ first = 200; last = 200; }, { first = 301; last = 301; }' >"$D/r9.conf"
push $AB "$D/r8.conf" >/dev/null
: >"$D/up.log"
( c -i -X POST -H 'X-Buyer-Id: 5400' --data 'fw' http://127.0.0.1:$GA/api/fw >"$D/fw.out" ) &
FW=$!
sleep 0.3
t_match "forwarded write held by dc-b's ban" '^unitgw_held_requests 1' "$(c http://127.0.0.1:$AB/metrics | grep '^unitgw_held_requests')"
start=$(date +%s%N)
t_match "ban push to dc-a with a forwarded write held at dc-b: 200" '^200 ' "$(push $AA "$D/r8.conf")"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
t_check "dc-a did not wait for the write held at dc-b (${ms} ms)" test "$ms" -lt 300
push $AB "$D/r9.conf" >/dev/null; push $AA "$D/r9.conf" >/dev/null
wait $FW
t_match "the held forwarded write answered 200 once the ban lifted" '^HTTP/1.1 200' "$(cat "$D/fw.out")"
t_eq "the forwarded write reached dc-b's upstream once" "up-b POST /api/fw 2" "$(grep /api/fw "$D/up.log")"

# ban_drain_ms small: the ack does not wait for the slow write, and counts it
gw_conf dc-a $GA $AA $UA 'ban_drain_ms = 150;' >"$D/gw-a.conf"
kill -HUP "$PID_a"
sleep 0.5
t_match "reload: ban_drain_ms 150" '"ban_drain_ms": 150' "$(c http://127.0.0.1:$AA/v1/status)"
rules 10 "$R6" '{ first = 200; last = 200; }, { first = 301; last = 302; }' >"$D/r10.conf"
out=$(drain_probe $GA $AA "$D/r10.conf" "$(t_sign "$SECRET" "$D/r10.conf")" 302:900)
echo "   drain probe: $out"
put_ms=$(probe_field "$out" put_ms)
t_eq "ban_drain_ms=150: push answered 200" "200" "$(probe_field "$out" put)"
t_check "ban_drain_ms=150: acked after ~150 ms (${put_ms} ms)" test "$put_ms" -ge 140 -a "$put_ms" -lt 600
t_eq "ban_drain_ms=150: the write was still in flight at the ack" "0" "$(probe_field "$out" ready)"
t_eq "ban_drain_ms=150: the write was not aborted (200)" "200" "$(probe_field "$out" post)"
m=$(c http://127.0.0.1:$AA/metrics)
t_match "metrics: drain timeout counted" '^unitgw_ban_drain_timeouts_total 1$' "$(echo "$m" | grep '^unitgw_ban_drain_timeouts_total')"
t_match "metrics: one write left in flight" '^unitgw_ban_drain_left_total 1$' "$(echo "$m" | grep '^unitgw_ban_drain_left_total')"
t_match "drain timeout logged" 'ban drain .*1 write\(s\) to banned buckets still in flight' "$(cat "$D/gw-a.log")"
push $AB "$D/r10.conf" >/dev/null

# ---- SIGHUP: redirect mode, reject policy ------------------------------------
gw_conf dc-a $GA $AA $UA 'mode = "redirect";' 'ban_policy = "reject";' >"$D/gw-a.conf"
kill -HUP "$PID_a"
sleep 0.5
out=$(c -i -H 'X-Buyer-Id: 5001' "http://127.0.0.1:$GA/api/x/y?a=1&b=2")
t_match "redirect mode (after SIGHUP): 307" '^HTTP/1.1 307' "$out"
t_match "redirect: Location keeps path and query" "Location: http://127.0.0.1:$GB/api/x/y\\?a=1&b=2" "$out"
t_eq "redirect: local buyer still served" "up-a" "$(c -H 'X-Buyer-Id: 2' http://127.0.0.1:$GA/api/x | field upstream)"
start=$(date +%s%N)
out=$(c -i -X PUT -H 'X-Buyer-Id: 200' --data 'x' http://127.0.0.1:$GA/api/t)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
t_match "reject policy: 503 + Retry-After" 'Retry-After: 1' "$out"
t_check "reject policy: at once (${ms} ms)" test "$ms" -lt 1000
echo 'bogus_key = 1;' >>"$D/gw-a.conf"
kill -HUP "$PID_a"
sleep 0.3
t_match "bad reload refused, logged with file:line" 'gw-a.conf:[0-9]+: unknown key' "$(cat "$D/gw-a.log")"
t_match "bad reload: still running the old config" '^HTTP/1.1 307' "$(c -i -H 'X-Buyer-Id: 5001' http://127.0.0.1:$GA/api/x)"

# ---- streams and memory ----------------------------------------------------------
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
before=$(rss "$PID_b")
got=$(head -c 100000000 /dev/zero | c -T - -X POST http://127.0.0.1:$GB/upload | field body_bytes)
t_eq "100 MB chunked upload streamed" "100000000" "$got"
# a slow upload longer than upstream_timeout_ms (1 s here): the upstream's time
# to answer counts from the last body bytes it took, so this is no 504
got=$(head -c 3000000 /dev/zero | c -T - -X POST --limit-rate 1M http://127.0.0.1:$GB/upload | field body_bytes)
t_eq "3 s upload with upstream_timeout_ms 1000: streamed, not 504" "3000000" "$got"
got=$(c -o /dev/null -w '%{size_download}' "http://127.0.0.1:$GB/dl?bytes=100000000")
t_eq "100 MB download streamed" "100000000" "$got"
got=$(c -o /dev/null -w '%{size_download}' -H 'X-Buyer-Id: 2' "http://127.0.0.1:$GB/api/dl?bytes=50000000&chunked=1")
t_eq "50 MB chunked download across units" "50000000" "$got"
after=$(rss "$PID_b")
t_check "RSS flat through 200 MB (${before} kB -> ${after} kB)" test $((after - before)) -lt 40000

# ---- bodies across units, HEAD, status codes ------------------------------------------
head -c 3000000 /dev/urandom >"$D/body.bin"
direct=$(c --data-binary @"$D/body.bin" http://127.0.0.1:$UB/x | field body_fnv)
via=$(c --data-binary @"$D/body.bin" -H 'X-Buyer-Id: 5001' http://127.0.0.1:$GB/api/x | field body_fnv)
t_eq "3 MB POST through the gateway: same bytes upstream" "$direct" "$via"
rules_buyer=$(c --data-binary @"$D/body.bin" -H 'X-Buyer-Id: 2' http://127.0.0.1:$GB/api/x)
t_eq "3 MB POST forwarded dc-b -> dc-a: same bytes" "$direct" "$(echo "$rules_buyer" | field body_fnv)"
t_eq "3 MB POST forwarded: served by up-a" "up-a" "$(echo "$rules_buyer" | field upstream)"
t_match "HEAD passes" '^HTTP/1.1 200' "$(c -I http://127.0.0.1:$GB/x)"
t_match "upstream status passes (204)" '^HTTP/1.1 204' "$(c -i "http://127.0.0.1:$GB/x?status=204")"
t_match "upstream status passes (404)" '^HTTP/1.1 404' "$(c -i "http://127.0.0.1:$GB/x?status=404")"

# ---- upstream failures --------------------------------------------------------------
out=$(c -i http://127.0.0.1:$GB/dead/x)
t_match "dead upstream: 502" '^HTTP/1.1 502' "$out"
t_match "502 body names the upstream" "upstream http://127.0.0.1:$DEAD" "$out"
out=$(c -i "http://127.0.0.1:$GB/slow?sleep_ms=2500")
t_match "slow upstream: 504" '^HTTP/1.1 504' "$out"
# an upstream that stops reading a request body: no progress for
# upstream_timeout_ms is a 504 too (the deadline restarts only on progress)
t_start stall-upstream "$D/stall.log" python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
conns = []
while True:
    c, _ = s.accept(); c.recv(65536); conns.append(c)   # then never read again
' "$STALL"
t_wait_port $STALL
start=$(date +%s%N)
stalled=$(head -c 50000000 /dev/zero | c -i -T - -X POST http://127.0.0.1:$GB/stall/x 2>/dev/null)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
t_match "upstream stops reading the body: 504" '^HTTP/1.1 504' "$stalled"
t_check "... after about upstream_timeout_ms without progress (${ms} ms)" test "$ms" -lt 8000
t_match "504 body names the upstream" "upstream http://127.0.0.1:$UB" "$out"

# ---- malformed requests: 4xx, never a crash -------------------------------------
raw() { # raw PORT: send stdin, print the status line
    python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(sys.stdin.buffer.read()); s.settimeout(5)
out = b""
try:
    while True:
        d = s.recv(65536)
        if not d: break
        out += d
except Exception: pass
print(out.split(b"\r\n")[0].decode("latin-1"))' "$1"
}
t_match "bad chunked encoding: 400" ' 400 ' "$(printf 'POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n' | raw $GB)"
t_match "oversized header: 431" ' 431 ' "$(python3 -c 'import sys; sys.stdout.write("GET /x HTTP/1.1\r\nHost: a\r\nX-Big: " + "a"*20000 + "\r\n\r\n")' | raw $GB)"
t_match "too many headers: 431" ' 431 ' "$(python3 -c 'import sys; sys.stdout.write("GET /x HTTP/1.1\r\nHost: a\r\n" + "".join("X-H%d: v\r\n" % i for i in range(150)) + "\r\n")' | raw $GB)"
t_match "long URL: 414" ' 414 ' "$(python3 -c 'import sys; sys.stdout.write("GET /" + "a"*9000 + " HTTP/1.1\r\nHost: a\r\n\r\n")' | raw $GB)"
t_match "body over max_body_bytes: 413" ' 413 ' "$(printf 'POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 500000000\r\n\r\n' | raw $GB)"
t_match "bad Content-Length: 400" ' 400 ' "$(printf 'GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n' | raw $GB)"
t_match "HEAD with a body: 400" ' 400 ' "$(printf 'HEAD /api/x HTTP/1.1\r\nHost: a\r\nX-Buyer-Id: 1\r\nContent-Length: 5\r\n\r\nhello' | raw $GB)"
printf 'GARBAGE\r\n\r\n' | raw $GB >/dev/null
t_eq "gateway alive after malformed input" "ok" "$(c http://127.0.0.1:$AB/healthz)"

# ---- admin: metrics and status ------------------------------------------------------
m=$(c http://127.0.0.1:$AA/metrics)
t_match "metrics: requests by route/outcome/unit" 'unitgw_requests_total\{route="unit",outcome="misdirected",unit="dc-b"\} 2' "$m"
t_match "metrics: upstream latency histogram" 'unitgw_upstream_latency_seconds_bucket\{le="\+Inf"\} [1-9]' "$m"
t_match "metrics: rule version" 'unitroute_rule_version.* 10' "$m"
t_match "status JSON" '"unit": "dc-b".*"rule_version": 10.*"holds_total": 3' "$(c http://127.0.0.1:$AB/v1/status)"

# ---- restart keeps the rules; SIGTERM drains ------------------------------------------
( c -o "$D/drain.out" -w '%{http_code}' "http://127.0.0.1:$GB/slow?sleep_ms=700" >"$D/drain.code" ) &
SLOW=$!
sleep 0.2
kill -TERM "$PID_b"
wait $SLOW
t_eq "SIGTERM: in-flight request completes" "200" "$(cat "$D/drain.code")"
for _ in $(seq 1 50); do kill -0 "$PID_b" 2>/dev/null || break; sleep 0.1; done
t_check "SIGTERM: process exits" bash -c "! kill -0 $PID_b 2>/dev/null"
start_gw b gw-b2
t_match "restart: persisted rules loaded" 'loaded version 10' "$(cat "$D/gw-b2.log")"
t_eq "restart: routing by persisted rules" "up-b" "$(c -H 'X-Buyer-Id: 1' http://127.0.0.1:$GB/api/x | field upstream)"

# ---- a held forwarded write, released by new routing, goes on to the new home --------
# dc-a (v10) forwards buyer 5401's write to dc-b, where v11's ban holds it; v12
# moves 5401 to dc-a: dc-b sends it on (with its own hop header, signed v12) and
# dc-a, still on v10, serves it on the newer sender's word. Not a 421.
R12='{ first = 0; last = 0; unit = "dc-a"; }, { first = 1; last = 1; unit = "dc-b"; }, { first = 2; last = 99; unit = "dc-a"; }, { first = 100; last = 100; unit = "dc-b"; }, { first = 101; last = 4999; unit = "dc-a"; }, { first = 5000; last = 5299; unit = "dc-b"; }, { first = 5300; last = 5300; unit = "dc-a"; }, { first = 5301; last = 5400; unit = "dc-b"; }, { first = 5401; last = 5401; unit = "dc-a"; }, { first = 5402; last = 9999; unit = "dc-b"; }'
rules 11 "$R6" '{ first = 200; last = 200; }, { first = 301; last = 302; }, { first = 5401; last = 5401; }' >"$D/r11.conf"
rules 12 "$R12" '{ first = 200; last = 200; }, { first = 301; last = 302; }' >"$D/r12.conf"
gw_conf dc-a $GA $AA $UA >"$D/gw-a.conf"     # back to forward mode
kill -HUP "$PID_a"
sleep 0.5
push $AB "$D/r11.conf" >/dev/null
: >"$D/up.log"
( c -i -X POST -H 'X-Buyer-Id: 5401' --data 'mv' http://127.0.0.1:$GA/api/mv >"$D/mv.out" ) &
MV=$!
sleep 0.3
t_match "forwarded write held at dc-b (v11)" '^unitgw_held_requests 1' "$(c http://127.0.0.1:$AB/metrics | grep '^unitgw_held_requests')"
push $AB "$D/r12.conf" >/dev/null
wait $MV
t_match "released under v12 and sent on to the new home: 200" '^HTTP/1.1 200' "$(cat "$D/mv.out")"
t_eq "the moved write reached dc-a's upstream once" "up-a POST /api/mv 2" "$(grep /api/mv "$D/up.log")"
kill -TERM "$PID_a" "$PID_b"
for _ in $(seq 1 100); do kill -0 "$PID_a" 2>/dev/null || kill -0 "$PID_b" 2>/dev/null || break; sleep 0.1; done
t_eq "no sanitizer reports" "" "$(grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error' "$D"/gw-*.log)"

t_done
