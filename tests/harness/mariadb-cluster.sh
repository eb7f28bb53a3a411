#!/usr/bin/env bash
# mariadb-cluster.sh: N local MariaDB instances with GTID replication between
# every pair (both ways), for tests and the demo.
#
#   mariadb-cluster.sh with N BASEPORT -- CMD ARGS...
#       start in a temp dir, run CMD with the cluster's variables in its
#       environment, stop and remove everything whatever happens (exit,
#       failure, INT, TERM); exits with CMD's status.
#   mariadb-cluster.sh start DIR N BASEPORT   start, leave running
#   mariadb-cluster.sh stop DIR               stop what start started
#   mariadb-cluster.sh env DIR                print the variables (shell)
#
# Instance i (1..N) listens on 127.0.0.1:BASEPORT+i-1, has server_id and
# gtid_domain_id i, log-bin and log-slave-updates. With N = 2 each replicates
# from the other on the default (unnamed) connection, so plain
# STOP SLAVE / SHOW SLAVE STATUS work; with N > 2 every instance replicates
# from every other on a connection named db<j> (gtid_ignore_duplicates on).
#
# Variables: UR_DB_COUNT, UR_DB<i>_PORT, UR_DB<i>_SOCKET, UR_DB_USER,
# UR_DB_PASSWORD, UR_DB_PASSWORD_FILE, UR_DB_DIR. User unitroute@127.0.0.1
# has every privilege; database `unitroute` exists everywhere. root connects
# over the socket without a password.
set -euo pipefail

MYSQLD=${MYSQLD:-$(command -v mariadbd || echo /usr/sbin/mariadbd)}
INSTALL_DB=${INSTALL_DB:-$(command -v mariadb-install-db || echo /usr/bin/mariadb-install-db)}
CLIENT=${CLIENT:-$(command -v mariadb || command -v mysql)}

die() { echo "mariadb-cluster: $*" >&2; exit 1; }

sql() { # sql I STATEMENT: run as root over instance I's socket
    "$CLIENT" --no-defaults -S "$DIR/db$1/mysqld.sock" -uroot -N -B -e "$2"
}

user_opt() { [ "$(id -u)" = 0 ] && echo "--user=root" || true; }

init_template() { # one mariadb-install-db, copied for every instance
    mkdir -p "$DIR/template"
    "$INSTALL_DB" --no-defaults --datadir="$DIR/template" $(user_opt) \
        --auth-root-authentication-method=normal --skip-test-db \
        >"$DIR/install.log" 2>&1 || { cat "$DIR/install.log" >&2; die "mariadb-install-db failed"; }
}

start_one() { # start_one I PORT
    local i=$1 port=$2 d="$DIR/db$1"
    cp -a "$DIR/template" "$d"
    "$MYSQLD" --no-defaults $(user_opt) --datadir="$d" --port="$port" \
        --bind-address=127.0.0.1 --socket="$d/mysqld.sock" --pid-file="$d/mysqld.pid" \
        --log-error="$d/error.log" --server-id="$i" --gtid-domain-id="$i" \
        --log-bin="$d/binlog" --log-slave-updates --binlog-format=ROW \
        --gtid-ignore-duplicates=ON --skip-name-resolve --max-connections=1200 \
        --innodb-buffer-pool-size=64M --innodb-log-file-size=32M \
        --innodb-flush-log-at-trx-commit=2 --sync-binlog=0 \
        --skip-slave-start --max-allowed-packet=64M >/dev/null 2>&1 &
    echo $! >"$d/launcher.pid"
}

wait_ready() { # wait_ready I
    local i
    for ((i = 0; i < 300; i++)); do
        if sql "$1" "SELECT 1" >/dev/null 2>&1; then return 0; fi
        if ! kill -0 "$(cat "$DIR/db$1/launcher.pid")" 2>/dev/null; then
            cat "$DIR/db$1/error.log" >&2; die "instance $1 exited during start"
        fi
        sleep 0.1
    done
    cat "$DIR/db$1/error.log" >&2
    die "instance $1 did not answer within 30s"
}

setup_users() { # setup_users I: local only, not replicated
    sql "$1" "SET sql_log_bin = 0;
        CREATE USER 'unitroute'@'127.0.0.1' IDENTIFIED BY '$PASSWORD';
        CREATE USER 'unitroute'@'localhost' IDENTIFIED BY '$PASSWORD';
        GRANT ALL PRIVILEGES ON *.* TO 'unitroute'@'127.0.0.1' WITH GRANT OPTION;
        GRANT ALL PRIVILEGES ON *.* TO 'unitroute'@'localhost' WITH GRANT OPTION;
        CREATE DATABASE unitroute;
        FLUSH PRIVILEGES;"
}

connect_replication() { # connect_replication I J: I replicates from J
    local name=""
    [ "$N" -gt 2 ] && name="'db$2'"
    sql "$1" "CHANGE MASTER $name TO MASTER_HOST = '127.0.0.1',
        MASTER_PORT = $((BASEPORT + $2 - 1)), MASTER_USER = 'unitroute',
        MASTER_PASSWORD = '$PASSWORD', MASTER_USE_GTID = slave_pos,
        MASTER_CONNECT_RETRY = 1;
        START SLAVE $name;"
}

wait_replication() { # every connection of every instance running
    local i k running
    for ((k = 0; k < 200; k++)); do
        running=0
        for ((i = 1; i <= N; i++)); do
            running=$((running + $(sql "$i" "SHOW ALL SLAVES STATUS\G" |
                grep -Ec '^(Yes)$' || true)))
        done
        # each instance has N-1 connections with IO and SQL threads running
        [ "$running" -ge $((N * (N - 1) * 2)) ] && return 0
        sleep 0.1
    done
    for ((i = 1; i <= N; i++)); do sql "$i" "SHOW ALL SLAVES STATUS\G" >&2 || true; done
    die "replication did not start within 20s"
}

write_env() {
    {
        echo "export UR_DB_DIR='$DIR'"
        echo "export UR_DB_COUNT=$N"
        echo "export UR_DB_USER=unitroute"
        echo "export UR_DB_PASSWORD='$PASSWORD'"
        echo "export UR_DB_PASSWORD_FILE='$DIR/password'"
        for ((i = 1; i <= N; i++)); do
            echo "export UR_DB${i}_PORT=$((BASEPORT + i - 1))"
            echo "export UR_DB${i}_SOCKET='$DIR/db$i/mysqld.sock'"
        done
    } >"$DIR/env"
}

do_start() {
    [ "$N" -ge 1 ] && [ "$N" -le 9 ] || die "N must be 1..9"
    local i j
    for ((i = 0; i < N; i++)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$((BASEPORT + i))") 2>/dev/null; then
            die "port $((BASEPORT + i)) is already in use"
        fi
    done
    mkdir -p "$DIR"
    PASSWORD=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
    (umask 077; printf '%s\n' "$PASSWORD" >"$DIR/password")
    init_template
    for ((i = 1; i <= N; i++)); do start_one "$i" $((BASEPORT + i - 1)); done
    for ((i = 1; i <= N; i++)); do wait_ready "$i"; setup_users "$i"; done
    if [ "$N" -gt 1 ]; then
        for ((i = 1; i <= N; i++)); do
            for ((j = 1; j <= N; j++)); do
                [ "$i" != "$j" ] && connect_replication "$i" "$j"
            done
        done
        wait_replication
    fi
    write_env
}

do_stop() {
    local pidf pid k
    for pidf in "$DIR"/db*/launcher.pid; do
        [ -f "$pidf" ] || continue
        pid=$(cat "$pidf")
        kill -TERM "$pid" 2>/dev/null || continue
    done
    for pidf in "$DIR"/db*/launcher.pid; do
        [ -f "$pidf" ] || continue
        pid=$(cat "$pidf")
        for ((k = 0; k < 150; k++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        rm -f "$pidf"
    done
}

case "${1:-}" in
with)
    [ $# -ge 4 ] && [ "$4" = "--" ] || die "usage: $0 with N BASEPORT -- CMD ARGS..."
    N=$2; BASEPORT=$3; shift 4
    DIR=$(mktemp -d /tmp/unitroute-mariadb.XXXXXX)
    CHILD=
    # the command runs in the background so a signal is handled at once
    # (bash defers traps while a foreground child runs)
    trap '[ -n "$CHILD" ] && kill -TERM "$CHILD" 2>/dev/null; do_stop; rm -rf "$DIR"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    do_start
    # shellcheck disable=SC1091
    . "$DIR/env"
    set +e
    "$@" <&0 &
    CHILD=$!
    wait "$CHILD"
    rc=$?
    CHILD=
    exit $rc
    ;;
start)
    [ $# -eq 4 ] || die "usage: $0 start DIR N BASEPORT"
    DIR=$2; N=$3; BASEPORT=$4
    trap 'do_stop' ERR
    do_start
    ;;
stop)
    [ $# -eq 2 ] || die "usage: $0 stop DIR"
    DIR=$2
    do_stop
    ;;
env)
    [ $# -eq 2 ] || die "usage: $0 env DIR"
    cat "$2/env"
    ;;
*)
    sed -n '2,22s/^# \{0,1\}//p' "$0"
    exit 2
    ;;
esac
