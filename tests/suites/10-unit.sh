#!/usr/bin/env bash
# Unit tests: every build/tests/test_* binary (cmocka, ASan + UBSan), TAP output.
set -u
cd "$(dirname "$0")/../.."
pass=0
fail=0
for t in build/tests/test_*; do
    [ -x "$t" ] || continue
    out=$(CMOCKA_MESSAGE_OUTPUT=TAP timeout 120 "$t" 2>&1)
    rc=$?
    echo "$out"
    p=$(printf '%s\n' "$out" | grep -cE '^ok ')
    f=$(printf '%s\n' "$out" | grep -cE '^not ok ')
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "not ok - $t exited $rc"
        f=1
    fi
    pass=$((pass + p))
    fail=$((fail + f))
done
echo "$pass passed, $fail failed"
