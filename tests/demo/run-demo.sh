#!/usr/bin/env bash
# The demo (make demo): two units on this machine.
# Stage 1 (foundation): two MariaDB instances with GTID replication both ways;
# a write in each unit is read in the other. Everything is stopped on exit or
# Ctrl-C.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

demo_in_cluster() {
    q() { mariadb --no-defaults -h127.0.0.1 -P"$1" -u"$UR_DB_USER" -p"$UR_DB_PASSWORD" -N -B unitroute -e "$2"; }
    echo "== two units: dc-a's database on 127.0.0.1:$UR_DB1_PORT, dc-b's on 127.0.0.1:$UR_DB2_PORT"
    q "$UR_DB1_PORT" "CREATE TABLE orders (id BIGINT PRIMARY KEY, buyer_id BIGINT, unit VARCHAR(8))"
    local pos1 pos2
    pos1=$(q "$UR_DB1_PORT" "SELECT @@gtid_binlog_pos")
    q "$UR_DB2_PORT" "SELECT MASTER_GTID_WAIT('$pos1', 10)" >/dev/null  # the table is there
    q "$UR_DB1_PORT" "INSERT INTO orders VALUES (1, 4242, 'dc-a')"
    q "$UR_DB2_PORT" "INSERT INTO orders VALUES (2, 5555, 'dc-b')"
    pos1=$(q "$UR_DB1_PORT" "SELECT @@gtid_binlog_pos")
    pos2=$(q "$UR_DB2_PORT" "SELECT @@gtid_binlog_pos")
    q "$UR_DB2_PORT" "SELECT MASTER_GTID_WAIT('$pos1', 10)" >/dev/null
    q "$UR_DB1_PORT" "SELECT MASTER_GTID_WAIT('$pos2', 10)" >/dev/null
    echo "== orders as seen by dc-a:"
    q "$UR_DB1_PORT" "SELECT id, buyer_id, unit FROM orders ORDER BY id" | sed 's/^/   /'
    echo "== orders as seen by dc-b:"
    q "$UR_DB2_PORT" "SELECT id, buyer_id, unit FROM orders ORDER BY id" | sed 's/^/   /'
    local a b
    a=$(q "$UR_DB1_PORT" "SELECT COUNT(*) FROM orders")
    b=$(q "$UR_DB2_PORT" "SELECT COUNT(*) FROM orders")
    if [ "$a" = 2 ] && [ "$b" = 2 ]; then
        echo "== replication works both ways (dc-a gtid $pos1, dc-b gtid $pos2)"
    else
        echo "== replication FAILED: dc-a has $a rows, dc-b has $b" >&2
        return 1
    fi
}
export -f demo_in_cluster

"$ROOT/tests/harness/mariadb-cluster.sh" with 2 3307 -- bash -c demo_in_cluster
echo "== stopped: nothing left running"
