#!/usr/bin/env bash
# Deployment end to end, all real processes on loopback: nginx (packaging/
# nginx) in front of PHP-FPM (packaging/php-fpm, packaging/php) and the relay
# (directly or under supervisord, packaging/supervisor), headless Chromium
# driven by playwright-core, the hand-off, restarts, `make demo`'s script,
# and the systemd unit. Runs tests/e2e/browser/*.test.mjs (node's runner).
set -u
cd "$(dirname "$0")/../.."
. tests/suites/lib/tap.sh
pass=0
fail=0
missing=()
for c in chromium nginx php-fpm8.2 supervisord supervisorctl systemd-analyze openssl curl node; do
    command -v "$c" >/dev/null || missing+=("$c")
done
[ -f build/herald-relay ] || missing+=(build/herald-relay)
[ -f build/herald.so ] || missing+=(build/herald.so)
if [ ${#missing[@]} -gt 0 ]; then
    echo "not ok - missing: ${missing[*]} (scripts/install-deps.sh, make all)"
    echo "0 passed, 1 failed"
    exit 0
fi
log=build/test-logs/browser.tap
mkdir -p build/test-logs
(cd tests/e2e/browser && node --test --test-reporter=tap --test-concurrency=1 \
    --test-timeout=180000 ./*.test.mjs) >"$log" 2>&1
tap_tally "$log"
echo "$pass passed, $fail failed"
