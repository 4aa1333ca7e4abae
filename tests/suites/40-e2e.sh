#!/usr/bin/env bash
# End-to-end tests: a real relay, real clients (npm ws, eventsource), real
# publishers on the ingest socket. Runs every tests/e2e/*.test.mjs twice:
# against build/herald-relay, then against the ASan + UBSan build, where a
# relay that leaks or errs fails its test at stop (exit code, sanitizer log).
set -u
cd "$(dirname "$0")/../.."
pass=0
fail=0
run() {
    local label=$1
    shift
    local log=build/test-logs/e2e-$label.tap
    mkdir -p build/test-logs
    (cd tests/e2e && "$@" node --test --test-reporter=tap --test-concurrency=2 \
        --test-timeout=120000 ./*.test.mjs) >"$log" 2>&1
    grep -E '^(not )?ok |^# (pass|fail)' "$log" | sed "s/^/[$label] /"
    grep -E -A30 '^not ok ' "$log" | head -150
    local p f
    p=$(grep -E '^# pass ' "$log" | tail -n1 | awk '{print $3}')
    f=$(grep -E '^# fail ' "$log" | tail -n1 | awk '{print $3}')
    # A test the runner cancelled (a timeout) is a failure too.
    c=$(grep -E '^# cancelled ' "$log" | tail -n1 | awk '{print $3}')
    f=$((${f:-0} + ${c:-0}))
    if [ -z "$p" ]; then
        echo "[$label] node test runner did not finish:"
        tail -n 40 "$log"
        f=$((${f:-0} + 1))
    fi
    pass=$((pass + ${p:-0}))
    fail=$((fail + ${f:-0}))
}
run relay env HERALD_RELAY="$PWD/build/herald-relay"
run asan env HERALD_RELAY="$PWD/build/asan/herald-relay" \
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1
echo "$pass passed, $fail failed"
