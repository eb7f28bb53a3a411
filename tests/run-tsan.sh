#!/bin/sh
# run-tsan.sh: the multi-threaded integration tests (gateway workers and hold
# thread, proxy workers and ban drain, control center pushes and cutovers, the
# whole system under load) against the ThreadSanitizer build (build-tsan/,
# made by `make test-tsan`). Any ThreadSanitizer report is a failure. Slower
# than `make test` (several minutes) and not part of it. Prints one total,
# "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
reports=$(mktemp -d /tmp/unitroute-tsan.XXXXXX)
log=$reports/test.log
trap 'rm -rf "$reports"' EXIT
pass=0
fail=0
for t in test_gateway test_proxy test_control test_control_real test_invariants; do
    echo "=== $t (ThreadSanitizer)"
    TSAN_OPTIONS="log_path=$reports/tsan" UR_BIN=build-tsan/bin UR_TOOLS=build-tsan/tools \
        UR_CURL_MAX_TIME=120 timeout -k 5 1200 bash "tests/integration/$t.sh" >"$log" 2>&1
    rc=$?
    cat "$log"
    p=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' "$log" | tail -n 1)
    f=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' "$log" | tail -n 1)
    pass=$((pass + ${p:-0}))
    fail=$((fail + ${f:-0}))
    [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ] && { echo "FAIL - $t exited with status $rc"; fail=$((fail + 1)); }
done
for r in "$reports"/tsan*; do
    [ -e "$r" ] || continue
    echo "FAIL - ThreadSanitizer report in $(basename "$r"):"
    grep -E 'WARNING: ThreadSanitizer|SUMMARY' "$r"
    fail=$((fail + 1))
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
