#!/usr/bin/env bash
# Runs every suite in tests/suites/ in name order. Each suite prints what it
# likes and ends with a line "N passed, N failed"; this adds them up and ends
# with the same line for the whole run. A suite that dies without that line
# counts as one failure. Set SUITES="unit e2e" to run only some.
set -u
cd "$(dirname "$0")/.."
total_pass=0
total_fail=0
logdir=build/test-logs
mkdir -p "$logdir"
for s in tests/suites/*.sh; do
    name=$(basename "$s" .sh)
    if [ -n "${SUITES:-}" ]; then
        want=0
        for w in $SUITES; do case "$name" in *"$w"*) want=1 ;; esac; done
        [ $want -eq 1 ] || continue
    fi
    echo "=== suite $name"
    start=$(date +%s)
    bash "$s" 2>&1 | tee "$logdir/$name.log"
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$logdir/$name.log" | tail -n 1)
    if [ -z "$line" ]; then
        echo "suite $name ended without a summary line: counted as 1 failure"
        total_fail=$((total_fail + 1))
        continue
    fi
    p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    echo "=== suite $name: $p passed, $f failed ($(($(date +%s) - start)) s)"
done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
