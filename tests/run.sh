#!/bin/sh
# run.sh [unit|integration|all]: run the test suites and print one total,
# "N passed, N failed". Unit tests run twice: plain (build/) and under
# AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/). Integration
# tests run against the sanitized binaries when they exist.
set -u
cd "$(dirname "$0")/.."
what=${1:-all}
pass=0
fail=0
log=$(mktemp /tmp/unitroute-run.XXXXXX)
trap 'rm -f "$log"' EXIT

count() { # count FILE: add cmocka's or the plain summary lines of FILE
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$1" | awk '{s+=$1} END {print s+0}')
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$1" | awk '{s+=$1} END {print s+0}')
    pp=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' "$1" | tail -n 1)
    ff=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' "$1" | tail -n 1)
    pass=$((pass + p + ${pp:-0}))
    fail=$((fail + f + ${ff:-0}))
}

run_one() { # run_one LABEL LIMIT CMD...: run, show output, count, note crashes
    label=$1; limit=$2; shift 2
    echo "=== $label"
    timeout -k 5 "$limit" "$@" >"$log" 2>&1
    rc=$?
    cat "$log"
    before=$fail
    count "$log"
    if [ $rc -ne 0 ] && [ "$fail" -eq "$before" ]; then
        # the exit status says failure but no test was counted as failed:
        # a crash, a timeout or a sanitizer report
        echo "FAIL - $label exited with status $rc"
        fail=$((fail + 1))
    fi
}

if [ "$what" = unit ] || [ "$what" = all ]; then
    for dir in build/tests build-asan/tests; do
        [ -d "$dir" ] || continue
        for t in "$dir"/test_*; do
            [ -x "$t" ] || continue
            case "$t" in *.d|*.o) continue ;; esac
            CMOCKA_MESSAGE_OUTPUT=stdout \
            ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
                run_one "$t" 300 "$t"
        done
    done
    # fuzz targets: every checked-in corpus input once (tests/fuzz/fuzz.h)
    for dir in build/fuzz build-asan/fuzz; do
        [ -d "$dir" ] || continue
        for t in "$dir"/fuzz_*; do
            [ -x "$t" ] || continue
            case "$t" in *.d|*.o) continue ;; esac
            ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
                run_one "$t" 300 "$t" "tests/fuzz/corpus/$(basename "$t")"
        done
    done
fi

if [ "$what" = integration ] || [ "$what" = all ]; then
    bin=bin
    [ -x build-asan/bin/unitgw ] && bin=build-asan/bin
    for t in tests/integration/test_*.sh; do
        [ -f "$t" ] || continue
        UR_BIN=$(pwd)/$bin \
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            run_one "$t" 600 bash "$t"
    done
fi

echo
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
