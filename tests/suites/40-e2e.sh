#!/usr/bin/env bash
# End-to-end tests: a real relay, real clients (npm ws, eventsource), real
# publishers on the ingest socket. Runs every tests/e2e/*.test.mjs twice:
# against build/herald-relay, then against the ASan + UBSan build, where a
# relay that leaks or errs fails its test at stop (exit code, sanitizer log).
set -u
cd "$(dirname "$0")/../.."
. tests/suites/lib/tap.sh
pass=0
fail=0
run() {
    local label=$1
    shift
    local log=build/test-logs/e2e-$label.tap
    mkdir -p build/test-logs
    (cd tests/e2e && "$@" node --test --test-reporter=tap --test-concurrency=2 \
        --test-timeout=120000 ./*.test.mjs) >"$log" 2>&1
    tap_tally "$log" "$label"
}
run relay env HERALD_RELAY="$PWD/build/herald-relay"
run asan env HERALD_RELAY="$PWD/build/asan/herald-relay" \
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1
echo "$pass passed, $fail failed"
