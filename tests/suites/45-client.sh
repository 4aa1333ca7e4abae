#!/usr/bin/env bash
# The browser client (packages/herald-client): its unit tests in node, and
# its tests in headless Chromium (playwright-core, Debian's chromium) against
# a real relay: herald.v1 envelopes and resume, send() and presence() errors,
# the SSE fallback, tokens, and one connection shared by eight tabs of one
# HTTP/1.1 origin (leader closing mid-stream, relay restarts). Runs
# packages/herald-client/test/*.test.mjs twice, like the e2e suite: against
# build/herald-relay with two loops, then against the ASan + UBSan build with one, where a relay that
# leaks or errs fails its test at stop; then the sharing tests once more over
# the SSE transport.
set -u
cd "$(dirname "$0")/../.."
. tests/suites/lib/tap.sh
pass=0
fail=0
missing=()
for c in chromium node; do
    command -v "$c" >/dev/null || missing+=("$c")
done
for f in build/herald-relay build/asan/herald-relay tests/e2e/node_modules/playwright-core; do
    [ -e "$f" ] || missing+=("$f")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "not ok - missing: ${missing[*]} (scripts/install-deps.sh, make all asan)"
    echo "0 passed, 1 failed"
    exit 0
fi
run() {
    local label=$1 files=$2
    shift 2
    local log=build/test-logs/client-$label.tap
    mkdir -p build/test-logs
    (cd packages/herald-client/test && "$@" node --test --test-reporter=tap --test-concurrency=1 \
        --test-timeout=180000 $files) >"$log" 2>&1
    tap_tally "$log" "$label"
}
run relay './*.test.mjs' env HERALD_RELAY="$PWD/build/herald-relay" HERALD_WORKERS=2
run asan './*.test.mjs' env HERALD_RELAY="$PWD/build/asan/herald-relay" HERALD_WORKERS=1 \
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1
run sse ./shared.test.mjs env HERALD_RELAY="$PWD/build/herald-relay" HERALD_WORKERS=2 HERALD_CLIENT_TRANSPORT=sse
echo "$pass passed, $fail failed"
