#!/usr/bin/env bash
# The example configuration in conf/ as a user runs it, from the top of the
# checkout with relative paths (bin/unitgw -c conf/gateway-a.conf ...): every
# file passes its program's check, and the control center finds the secret
# and the database password files next to the topology (a path resolved
# twice would look in conf/conf/). Uses the example's control port 9000 and
# the state directory conf/state/control-example-test (removed after).
. "$(dirname "$0")/../lib/testlib.sh"
cd "$UR_ROOT" || exit 1

for u in a b; do
    out=$("$UR_BIN/unitgw" -t -c "conf/gateway-$u.conf" 2>&1)
    t_eq "unitgw -t -c conf/gateway-$u.conf" "0" "$?"
    out=$("$UR_BIN/unitproxy" -t -c "conf/proxy-$u.conf" 2>&1)
    t_eq "unitproxy -t -c conf/proxy-$u.conf" "0" "$?"
done

# the control center, on a copy of control.conf with its own state directory
cfg=conf/control-example-test.conf
sed 's|^state_dir = .*|state_dir = "state/control-example-test";|' conf/control.conf >"$cfg"
t_cleanup "rm -rf '$UR_ROOT/$cfg' '$UR_ROOT/conf/state/control-example-test'"
t_start control "$(t_tmpdir)/control.log" "$UR_BIN/unitctl" serve -c "$cfg"
ok=1
for ((i = 0; i < 100; i++)); do
    curl -fs -o /dev/null http://127.0.0.1:9000/ && break
    kill -0 "$T_LAST_PID" 2>/dev/null || { ok=0; break; }
    sleep 0.1
done
t_eq "unitctl serve -c $cfg starts (finds conf/secret.key)" "1" "$ok"
out=$("$UR_BIN/unitctl" -c "$cfg" status 2>&1)
t_match "it runs the example rules, version 1" "rules v1, 10000 buckets" "$out"
out=$("$UR_BIN/unitctl" -c "$cfg" cutover --buckets 5000-5999 --to dc-a --dry-run 2>&1)
t_match "the dry run reads the topology's db password_file where it is" \
    "conf/db-password|replication check" "$out"
t_check "no path is resolved twice (conf/conf/)" bash -c "! grep -q 'conf/conf/' <<<\"\$1\"" _ "$out"
t_done
