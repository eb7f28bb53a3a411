# testlib.sh: helpers for the integration tests (bash). Source it first:
#   . "$(dirname "$0")/../lib/testlib.sh"
# Every test prints "ok - name" / "FAIL - name: why" lines and ends with
# t_done, which prints "N passed, N failed" and sets the exit status.
# Cleanup commands registered with t_cleanup run on every exit path
# (normal end, failure, INT, TERM), last registered first.

UR_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
UR_BIN=${UR_BIN:-$UR_ROOT/bin}
# test tools (tests/tools/*.c) of the same build as UR_BIN
UR_TOOLS=${UR_TOOLS:-$(d=$(dirname "$UR_BIN")/tools; [ -d "$d" ] && echo "$d" || echo "$UR_ROOT/build/tools")}
T_PASS=0
T_FAIL=0
T_CLEANUP=()

t_ok()   { T_PASS=$((T_PASS + 1)); echo "ok - $1"; }
t_fail() { T_FAIL=$((T_FAIL + 1)); echo "FAIL - $1${2:+: $2}"; }

# t_check NAME CMD...: passes when CMD exits 0.
t_check() {
    local name=$1; shift
    if "$@"; then t_ok "$name"; else t_fail "$name" "command failed: $*"; fi
}

# t_eq NAME EXPECTED ACTUAL
t_eq() {
    if [ "$2" = "$3" ]; then t_ok "$1"; else t_fail "$1" "expected [$2], got [$3]"; fi
}

# t_match NAME REGEX TEXT (grep -E)
t_match() {
    if printf '%s' "$3" | grep -Eq -- "$2"; then t_ok "$1"; else t_fail "$1" "[$3] does not match /$2/"; fi
}

t_cleanup() { T_CLEANUP+=("$1"); }

t_run_cleanup() {
    local i
    for ((i = ${#T_CLEANUP[@]} - 1; i >= 0; i--)); do
        eval "${T_CLEANUP[$i]}" >/dev/null 2>&1 || true
    done
    T_CLEANUP=()
}
trap 't_run_cleanup' EXIT
trap 't_run_cleanup; exit 130' INT
trap 't_run_cleanup; exit 143' TERM

# t_tmpdir: a temp dir removed on exit; prints its path.
t_tmpdir() {
    local d
    d=$(mktemp -d /tmp/unitroute-test.XXXXXX)
    t_cleanup "rm -rf '$d'"
    echo "$d"
}

# t_wait_port PORT [SECONDS]: wait until 127.0.0.1:PORT accepts connections.
t_wait_port() {
    local port=$1 limit=${2:-10} i
    for ((i = 0; i < limit * 20; i++)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "port $port did not open within ${limit}s" >&2
    return 1
}

# t_start NAME LOGFILE CMD...: start a background process, stopped on exit.
# Sets T_LAST_PID.
t_start() {
    local name=$1 log=$2; shift 2
    "$@" >"$log" 2>&1 &
    T_LAST_PID=$!
    t_cleanup "kill -TERM $T_LAST_PID; sleep 0.2; kill -KILL $T_LAST_PID"
}

# t_secret DIR: write a random rule-signing secret (mode 600); prints path.
t_secret() {
    local f="$1/secret.key"
    (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$f")
    echo "$f"
}

# t_two_units DIR BASEPORT: in DIR, a rule-signing secret (secret.key), an
# API token (token), conf/rules.conf (rules.conf) and a two-unit topology
# (topology.conf) whose admin endpoints are BASEPORT+1 (dc-a gateway), +2
# (dc-a proxy), +3 (dc-b gateway), +4 (dc-b proxy), public URLs BASEPORT+11
# and +12, and databases those of the MariaDB harness (UR_DB1/2_PORT).
t_two_units() {
    local d=$1 b=$2
    t_secret "$d" >/dev/null
    (umask 077; head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$d/token")
    cp "$UR_ROOT/conf/rules.conf" "$d/rules.conf"
    cat >"$d/topology.conf" <<EOF
secret_file = "secret.key";
center = "dc-a";
units = (
  { name = "dc-a"; public_url = "http://127.0.0.1:$((b + 11))";
    gateway_admin = [ "127.0.0.1:$((b + 1))" ]; proxy_admin = [ "127.0.0.1:$((b + 2))" ];
    db = { host = "127.0.0.1"; port = $UR_DB1_PORT; user = "unitroute";
           password_file = "$UR_DB_PASSWORD_FILE"; }; },
  { name = "dc-b"; public_url = "http://127.0.0.1:$((b + 12))";
    gateway_admin = [ "127.0.0.1:$((b + 3))" ]; proxy_admin = [ "127.0.0.1:$((b + 4))" ];
    db = { host = "127.0.0.1"; port = $UR_DB2_PORT; user = "unitroute";
           password_file = "$UR_DB_PASSWORD_FILE"; }; }
);
EOF
}

# t_sign SECRETFILE FILE: hex HMAC-SHA256 of FILE's bytes.
t_sign() {
    openssl dgst -sha256 -hmac "$(cat "$1")" -r "$2" | cut -d' ' -f1
}

t_done() {
    echo "$T_PASS passed, $T_FAIL failed"
    [ "$T_FAIL" -eq 0 ]
}
