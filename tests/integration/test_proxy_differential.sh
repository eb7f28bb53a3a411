#!/usr/bin/env bash
# Differential end-to-end test of unitproxy's write classifier against a real
# MariaDB: tests/tools/sql_differential.py sends thousands of random
# statements through the proxy (unit dc-a) and, over a direct connection,
# checks after each one that no row of a dc-b buyer, of a banned buyer, or of
# the center table (center = dc-b) was added, changed or removed. A second
# short run sends the same kind of statements straight to MariaDB and must
# find such changes (else the generator is too weak to mean anything).
#
# Rules: 100 buckets (bucket = buyer % 100), 0-49 dc-a, 50-99 dc-b, 40-44
# banned. The seed is fixed (1) so the suite's outcome does not vary from run
# to run; UR_DIFF_SEED=S picks another, UR_DIFF_SEED=random a new one each
# run (printed), UR_DIFF_COUNT=N more statements; UR_DIFF_SECONDS bounds the
# proxy run (default 35 s).
#
# Ports: MariaDB 3430; proxy 23001, admin 23091.
. "$(dirname "$0")/../lib/testlib.sh"

if [ -z "${UR_DB1_PORT:-}" ]; then
    exec bash "$UR_ROOT/tests/harness/mariadb-cluster.sh" with 1 3430 -- bash "$0" "$@"
fi

PY=/usr/bin/python3
DIFF=$UR_ROOT/tests/tools/sql_differential.py
T=$(t_tmpdir)
SECRET=$(t_secret "$T")
PP=23001; PADMIN=23091
SEED=${UR_DIFF_SEED:-1}
[ "$SEED" = random ] && SEED=$(( $(date +%s) % 100000 ))
COUNT=${UR_DIFF_COUNT:-20000}
SECONDS_MAX=${UR_DIFF_SECONDS:-35}
echo "# seed $SEED, $COUNT statements (UR_DIFF_SEED=$SEED UR_DIFF_COUNT=$COUNT to reproduce)"

cat >"$T/topology.conf" <<EOF
secret_file = "secret.key";
center = "dc-b";
units = (
  { name = "dc-a"; public_url = "http://127.0.0.1:23081";
    gateway_admin = [ ]; proxy_admin = [ "127.0.0.1:$PADMIN" ];
    db = { host = "127.0.0.1"; port = $UR_DB1_PORT; user = "unitroute"; password_file = "$UR_DB_PASSWORD_FILE"; }; },
  { name = "dc-b"; public_url = "http://127.0.0.1:23082";
    gateway_admin = [ ]; proxy_admin = [ ];
    db = { host = "127.0.0.1"; port = $UR_DB1_PORT; user = "unitroute"; password_file = "$UR_DB_PASSWORD_FILE"; }; }
);
EOF
cat >"$T/proxy.conf" <<EOF
unit = "dc-a";
topology = "topology.conf";
listen = "127.0.0.1:$PP";
backend = "127.0.0.1:$UR_DB1_PORT";
admin = "127.0.0.1:$PADMIN";
state_file = "state/proxy.rules";
log_level = "warn";
workers = 1;
tables = (
  { name = "orders"; class = "unit"; column = "buyer_id"; },
  { name = "carts"; class = "unit"; column = "customer"; },
  { name = "shop2.payments"; class = "unit"; column = "buyer_id"; },
  { name = "sellers"; class = "center"; }
);
EOF
cat >"$T/rules.conf" <<EOF
version = 1L;
buckets = 100;
ranges = ( { first = 0; last = 49; unit = "dc-a"; },
           { first = 50; last = 99; unit = "dc-b"; } );
overrides = ( );
bans = ( { first = 40; last = 44; } );
EOF

t_check "schema created and seeded (buyers 0..199 in every table)" \
    "$PY" "$DIFF" --setup --db-port "$UR_DB1_PORT"

t_start "unitproxy" "$T/proxy.log" "$UR_BIN/unitproxy" -c "$T/proxy.conf"
PROXY_PID=$T_LAST_PID
t_wait_port $PP 10
sig=$(t_sign "$SECRET" "$T/rules.conf")
code=$(curl -s -o "$T/push.out" -w '%{http_code}' -X PUT --data-binary @"$T/rules.conf" \
    -H "X-Unitroute-Signature: $sig" "http://127.0.0.1:$PADMIN/v1/rules")
t_eq "the rules (0-49 dc-a, ban 40-44) are applied" "200" "$code"

# ---- through the proxy: no protected row may change --------------------------------
"$PY" "$DIFF" --port $PP --db-port "$UR_DB1_PORT" --seed "$SEED" --count "$COUNT" \
    --seconds "$SECONDS_MAX" >"$T/proxy.out" 2>&1
rc=$?
grep -vE '^seed=' "$T/proxy.out" | sed -n '/^VIOLATION/,$p' | head -60 | sed 's/^/# /'
summary=$(tail -1 "$T/proxy.out")
echo "# proxy run: $summary"
t_eq "through the proxy no foreign, banned or center row changed (seed $SEED)" "0" "$rc"
t_match "the proxy run sent statements and got answers" "statements=[1-9][0-9]*.*allowed_ok=[1-9]" "$summary"
t_match "the proxy refused writes with its own errors" "refused=[1-9][0-9]* \(.*740[1-3]:" "$summary"
if kill -0 "$PROXY_PID" 2>/dev/null; then
    t_ok "the proxy is still running after the random statements"
else
    t_fail "the proxy is still running after the random statements" "$(tail -5 "$T/proxy.log")"
fi
kill -TERM "$PROXY_PID" 2>/dev/null
wait "$PROXY_PID"
t_eq "the proxy stops cleanly on SIGTERM" "0" "$?"
if grep -qE "Sanitizer|runtime error" "$T/proxy.log"; then
    t_fail "no sanitizer report in the proxy log" "$(grep -m3 -E "Sanitizer|runtime error|#[0-9] " "$T/proxy.log")"
else
    t_ok "no sanitizer report in the proxy log (leaks included)"
fi

# ---- self-check: the same generator, straight to MariaDB, must do damage ------------
"$PY" "$DIFF" --direct --db-port "$UR_DB1_PORT" --seed "$SEED" --count 400 \
    --seconds 10 --max-violations 3 >"$T/direct.out" 2>&1
summary=$(tail -1 "$T/direct.out")
echo "# direct run (self-check): $summary"
t_match "self-check: sent directly, the generator changes protected rows" "violations=[1-9]" "$summary"
t_done
