#!/usr/bin/env bash
# The MariaDB harness: two instances replicate both ways with GTID, and the
# instances are stopped whatever happens to the command run with them.
. "$(dirname "$0")/../lib/testlib.sh"
HARNESS="$UR_ROOT/tests/harness/mariadb-cluster.sh"

# Runs inside the harness: writes on each instance, reads on the other.
replication_checks() {
    q() { mariadb --no-defaults -h127.0.0.1 -P"$1" -u"$UR_DB_USER" -p"$UR_DB_PASSWORD" -N -B unitroute -e "$2"; }
    wait_rows() { # wait_rows PORT QUERY EXPECTED
        local i got
        for ((i = 0; i < 100; i++)); do
            got=$(q "$1" "$2" 2>/dev/null)
            [ "$got" = "$3" ] && { echo "$got"; return 0; }
            sleep 0.05
        done
        echo "$got"
    }
    q "$UR_DB1_PORT" "CREATE TABLE t (id INT PRIMARY KEY, origin VARCHAR(8))"
    q "$UR_DB1_PORT" "INSERT INTO t VALUES (1, 'db1')"
    t_eq "row written on db1 is read on db2" "db1" \
        "$(wait_rows "$UR_DB2_PORT" "SELECT origin FROM t WHERE id = 1" db1)"
    q "$UR_DB2_PORT" "INSERT INTO t VALUES (2, 'db2')"
    t_eq "row written on db2 is read on db1" "db2" \
        "$(wait_rows "$UR_DB1_PORT" "SELECT origin FROM t WHERE id = 2" db2)"
    t_eq "server ids differ" "1 2" \
        "$(q "$UR_DB1_PORT" "SELECT @@server_id") $(q "$UR_DB2_PORT" "SELECT @@server_id")"
    local pos
    pos=$(q "$UR_DB1_PORT" "SELECT @@gtid_binlog_pos")
    t_match "db1's binlog position carries its own domain" '(^|,)1-1-[0-9]+' "$pos"
    t_eq "db2 applies db1's position (MASTER_GTID_WAIT)" "0" \
        "$(q "$UR_DB2_PORT" "SELECT MASTER_GTID_WAIT('$pos', 5)")"
    q "$UR_DB2_PORT" "STOP SLAVE"
    q "$UR_DB1_PORT" "INSERT INTO t VALUES (3, 'db1')"
    pos=$(q "$UR_DB1_PORT" "SELECT @@gtid_binlog_pos")
    t_eq "with replication stopped the wait times out" "-1" \
        "$(q "$UR_DB2_PORT" "SELECT MASTER_GTID_WAIT('$pos', 0.5)")"
    q "$UR_DB2_PORT" "START SLAVE"
    t_eq "after START SLAVE the row arrives" "db1" \
        "$(wait_rows "$UR_DB2_PORT" "SELECT origin FROM t WHERE id = 3" db1)"
    t_done
}
export -f replication_checks t_ok t_fail t_eq t_match t_done
export T_PASS T_FAIL

out=$("$HARNESS" with 2 3300 -- bash -c 'replication_checks' 2>&1)
rc=$?
echo "$out" | grep -E '^(ok|FAIL) - '
T_PASS=$((T_PASS + $(echo "$out" | grep -c '^ok - ')))
T_FAIL=$((T_FAIL + $(echo "$out" | grep -c '^FAIL - ')))
t_eq "the command's status is the harness's status" "0" "$rc"
t_eq "no mariadbd left after a normal end" "0" "$(pgrep -fc 'mariadbd.*--port=330[01] ' || true)"

# A TERM to the harness while its command runs stops the instances.
tmp=$(t_tmpdir)
"$HARNESS" with 2 3302 -- bash -c "touch $tmp/running; sleep 60" >/dev/null 2>&1 &
hpid=$!
t_cleanup "kill -KILL $hpid"
for ((i = 0; i < 200; i++)); do
    [ -e "$tmp/running" ] && break
    sleep 0.1
done
t_eq "instances are running under the harness" "2" "$(pgrep -fc 'mariadbd.*--port=330[23] ')"
dir=$(pgrep -af 'mariadbd.*--port=3303' | sed -n 's/.*--datadir=\([^ ]*\)\/db2.*/\1/p')
kill -TERM "$hpid"
for ((i = 0; i < 300; i++)); do
    kill -0 "$hpid" 2>/dev/null || break
    sleep 0.1
done
t_eq "TERM stops the instances" "0" "$(pgrep -fc 'mariadbd.*--port=330[23]' || true)"
t_check "TERM removes the data directory" test -n "$dir" -a ! -e "$dir"

# A failing command: its status comes back and the instances stop.
"$HARNESS" with 1 3304 -- false >/dev/null 2>&1
t_eq "a failing command's status is returned" "1" "$?"
t_eq "no mariadbd left after a failing command" "0" "$(pgrep -fc 'mariadbd.*--port=3304' || true)"
t_done
