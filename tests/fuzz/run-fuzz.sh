#!/bin/sh
# run-fuzz.sh BUILD SECONDS [NAME...]: run each libFuzzer target of
# BUILD/fuzz (or only the NAMEs) for SECONDS, starting from the checked-in
# corpus tests/fuzz/corpus/NAME; inputs libFuzzer finds go to
# BUILD/corpus/NAME, a failing input to BUILD/crash-NAME-*. A dictionary
# tests/fuzz/NAME.dict is used when present. Prints "N passed, N failed".
# To keep a failing input as a regression test, copy it into
# tests/fuzz/corpus/NAME/ (make test replays that directory).
set -u
cd "$(dirname "$0")/../.."
build=$1; secs=$2; shift 2
pass=0; fail=0
for f in "$build"/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    case "$f" in *.d|*.o) continue ;; esac
    name=$(basename "$f")
    if [ $# -gt 0 ]; then
        want=0
        for n in "$@"; do [ "$n" = "$name" ] && want=1; done
        [ $want = 1 ] || continue
    fi
    mkdir -p "$build/corpus/$name" "tests/fuzz/corpus/$name"
    dict=
    [ -f "tests/fuzz/$name.dict" ] && dict="-dict=tests/fuzz/$name.dict"
    echo "=== $name: ${secs}s"
    # shellcheck disable=SC2086
    if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
       "$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix="$build/crash-$name-" $dict \
            "$build/corpus/$name" "tests/fuzz/corpus/$name" >"$build/$name.log" 2>&1; then
        grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$build/$name.log" | tail -n 2
        pass=$((pass + 1))
    else
        tail -n 40 "$build/$name.log"
        echo "FAIL - $name: see $build/$name.log and $build/crash-$name-*"
        fail=$((fail + 1))
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
