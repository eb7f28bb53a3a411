# stack.sh: the whole two-unit system (MariaDB pair, two proxies, two order
# services, two gateways, the control center) for the demo and the invariant
# tests (bash; source it).
#
#   stack_init DIR [BASEPORT]  work dir for logs and state; without BASEPORT
#                              the example conf/ is used as it is, with it a
#                              copy of conf/ whose ports are moved to
#                              BASEPORT..BASEPORT+12 (so tests never collide
#                              with a running demo)
#   stack_up                   all of it: ports free, MariaDB, components,
#                              every gateway and proxy on rule version 1
#   stack_start_db             MariaDB pair + schema
#   stack_start NAME           proxy-a proxy-b app-a app-b gateway-a gateway-b control
#   stack_kill NAME [SIGNAL]   stop one (TERM by default, KILL for a crash)
#   stack_stop_all             stop everything (the caller's EXIT trap)
#   stack_wait_versions V      every gateway and proxy runs rule version >= V
#   stack_versions             the four rule versions, space separated
#   stack_load PHASE BASE SECONDS [loadgen run flags...]
#   stack_check ACKS_PHASES... [loadgen check flags...]
#
# Ports (example conf/): MariaDB 3307/3308, proxies 3311/3312, order services
# 7081/7082, gateways 8081/8082, control 9000, gateway admin 9081/9082, proxy
# admin 9091/9092.

STACK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STACK_BIN=${UR_BIN:-$STACK_ROOT/bin}
STACK_TOOLS=${UR_TOOLS:-$(d=$(dirname "$STACK_BIN")/tools; [ -d "$d" ] && echo "$d" || echo "$STACK_ROOT/build/tools")}
STACK_HARNESS=$STACK_ROOT/tests/harness/mariadb-cluster.sh
STACK_EXAMPLE_PORTS=(3307 3308 3311 3312 7081 7082 8081 8082 9000 9081 9082 9091 9092)
declare -A STACK_PID=()

stack_init() {
    S_DIR=$1
    local base=${2:-} i
    mkdir -p "$S_DIR"
    if [ -z "$base" ]; then
        S_CONF=$STACK_ROOT/conf
        P=("${STACK_EXAMPLE_PORTS[@]}")
        rm -rf "$S_CONF/state"            # start from conf/rules.conf, version 1
    else
        S_CONF=$S_DIR/conf
        mkdir -p "$S_CONF"
        P=()
        for ((i = 0; i < ${#STACK_EXAMPLE_PORTS[@]}; i++)); do P+=($((base + i))); done
        local sedexpr=""
        for ((i = 0; i < ${#STACK_EXAMPLE_PORTS[@]}; i++)); do
            sedexpr+="s/\\b${STACK_EXAMPLE_PORTS[$i]}\\b/@${i}@/g;"
        done
        for ((i = 0; i < ${#STACK_EXAMPLE_PORTS[@]}; i++)); do sedexpr+="s/@${i}@/${P[$i]}/g;"; done
        for f in "$STACK_ROOT"/conf/*.conf; do sed "$sedexpr" "$f" >"$S_CONF/$(basename "$f")"; done
        (umask 077
         head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$S_CONF/secret.key"
         head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$S_CONF/control.token")
    fi
    P_DB_A=${P[0]}; P_DB_B=${P[1]}; P_PX_A=${P[2]}; P_PX_B=${P[3]}
    P_APP_A=${P[4]}; P_APP_B=${P[5]}; P_GW_A=${P[6]}; P_GW_B=${P[7]}; P_CTL=${P[8]}
    P_GWADM_A=${P[9]}; P_GWADM_B=${P[10]}; P_PXADM_A=${P[11]}; P_PXADM_B=${P[12]}
    STACK_ADMINS="127.0.0.1:$P_GWADM_A 127.0.0.1:$P_GWADM_B 127.0.0.1:$P_PXADM_A 127.0.0.1:$P_PXADM_B"
}

# stack_ports_free: 0 if no port of the stack is taken.
stack_ports_free() {
    local port
    for port in "${P[@]}"; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "port $port is in use" >&2
            return 1
        fi
    done
}

stack_start_db() {
    "$STACK_HARNESS" start "$S_DIR/db" 2 "$P_DB_A" >"$S_DIR/harness.log" 2>&1 || {
        cat "$S_DIR/harness.log" >&2; return 1; }
    # shellcheck disable=SC1091
    . "$S_DIR/db/env"
    (umask 077; cp "$UR_DB_PASSWORD_FILE" "$S_CONF/db-password")
    mariadb --no-defaults -S "$UR_DB1_SOCKET" -uroot unitroute <"$STACK_ROOT/tests/demo/schema.sql" || return 1
    local pos
    pos=$(mariadb --no-defaults -S "$UR_DB1_SOCKET" -uroot -N -e "SELECT @@gtid_binlog_pos")
    [ "$(mariadb --no-defaults -S "$UR_DB2_SOCKET" -uroot -N -e "SELECT MASTER_GTID_WAIT('$pos', 10)")" = 0 ]
}

# stack_sql UNIT(a|b) STATEMENT: as root over the socket
stack_sql() {
    local sock=$UR_DB1_SOCKET
    [ "$1" = b ] && sock=$UR_DB2_SOCKET
    mariadb --no-defaults -S "$sock" -uroot -N -B unitroute -e "$2"
}

stack_start() {
    local name=$1 u=${1##*-} cmd
    case "$name" in
    proxy-?)   cmd=("$STACK_BIN/unitproxy" -c "$S_CONF/proxy-$u.conf") ;;
    gateway-?) cmd=("$STACK_BIN/unitgw" -c "$S_CONF/gateway-$u.conf") ;;
    control)   cmd=("$STACK_BIN/unitctl" serve -c "$S_CONF/control.conf") ;;
    app-?)
        local app=$P_APP_A px=$P_PX_A
        [ "$u" = b ] && { app=$P_APP_B; px=$P_PX_B; }
        cmd=("$STACK_TOOLS/order_service" --listen "127.0.0.1:$app" --unit "dc-$u"
             --db-host 127.0.0.1 --db-port "$px" --db-user unitroute
             --db-password-file "$S_CONF/db-password" --threads 16) ;;
    *) echo "stack_start: unknown component $name" >&2; return 1 ;;
    esac
    "${cmd[@]}" >>"$S_DIR/$name.log" 2>&1 &
    STACK_PID[$name]=$!
}

stack_kill() {
    local pid=${STACK_PID[$1]:-} i
    [ -n "$pid" ] || return 0
    kill "-${2:-TERM}" "$pid" 2>/dev/null
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    unset "STACK_PID[$1]"
}

stack_stop_all() {
    local name
    for name in "${!STACK_PID[@]}"; do kill -TERM "${STACK_PID[$name]}" 2>/dev/null; done
    for name in "${!STACK_PID[@]}"; do stack_kill "$name"; done
    [ -n "${S_DIR:-}" ] && "$STACK_HARNESS" stop "$S_DIR/db" >/dev/null 2>&1
    return 0
}

stack_start_all() {
    stack_start proxy-a && stack_start proxy-b && stack_start app-a && stack_start app-b &&
        stack_start gateway-a && stack_start gateway-b && stack_start control
}

# stack_up: the whole system running its first rules; 0 or 1
stack_up() {
    stack_ports_free && stack_start_db && stack_start_all &&
        stack_wait_http "http://127.0.0.1:$P_CTL/" && stack_wait_versions 1
}

# stack_wait_http URL [SECONDS]
stack_wait_http() {
    local i
    for ((i = 0; i < ${2:-10} * 10; i++)); do
        curl -fs -o /dev/null "$1" && return 0
        sleep 0.1
    done
    echo "$1 did not answer" >&2
    return 1
}

stack_rule_version() {
    curl -s --max-time 2 "http://$1/v1/status" | sed -n 's/.*"rule_version": *\([0-9]*\).*/\1/p'
}

stack_versions() {
    local a out=""
    for a in $STACK_ADMINS; do out+="$(stack_rule_version "$a") "; done
    echo "${out% }"
}

stack_wait_versions() {
    local i a v ok
    for ((i = 0; i < ${2:-20} * 10; i++)); do
        ok=1
        for a in $STACK_ADMINS; do
            v=$(stack_rule_version "$a")
            [ "${v:-0}" -ge "$1" ] || ok=0
        done
        [ $ok = 1 ] && return 0
        sleep 0.1
    done
    echo "components did not reach rule version $1: $(stack_versions)" >&2
    return 1
}

# stack_bans: the bans of the rule set each component runs ("" = none)
stack_bans() {
    local a
    for a in $STACK_ADMINS; do
        curl -s --max-time 2 "http://$a/v1/rules" | sed -n '/^bans = (/,/^);/p' | grep -c '{' || true
    done | tr '\n' ' ' | sed 's/ $//'
}

stack_ctl() { "$STACK_BIN/unitctl" -c "$S_CONF/control.conf" "$@"; }

# stack_load PHASE ORDER_BASE SECONDS [flags]: loadgen through both gateways
stack_load() {
    local phase=$1 base=$2 secs=$3
    shift 3
    "$STACK_TOOLS/loadgen" run --gateway "http://127.0.0.1:$P_GW_A" --gateway "http://127.0.0.1:$P_GW_B" \
        --buyers 10000 --buyer-base 0 --order-base "$base" --duration "$secs" \
        --acks "$S_DIR/acks-$phase" --retry-503 --retry-connect --timeout-ms 8000 "$@" \
        >"$S_DIR/load-$phase.log" 2>&1
}

stack_load_field() { # PHASE KEY
    sed -n "s/^loadgen-result .*\\b$2=\\([^ ]*\\).*/\\1/p" "$S_DIR/load-$1.log"
}

# stack_check RULES_BEFORE RULES_AFTER PHASE...: loadgen check on both databases
stack_check() {
    local before=$1 after=$2 acks=() p
    shift 2
    for p in "$@"; do acks+=(--acks "$S_DIR/acks-$p"); done
    "$STACK_TOOLS/loadgen" check "${acks[@]}" \
        --db "dc-a=127.0.0.1:$P_DB_A" --db "dc-b=127.0.0.1:$P_DB_B" --db-user unitroute \
        --db-password-file "$S_CONF/db-password" --rules-before "$before" \
        --rules-after "$after" --topology "$S_CONF/topology.conf" >"$S_DIR/check.log" 2>&1
}
