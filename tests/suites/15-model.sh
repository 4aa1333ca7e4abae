#!/usr/bin/env bash
# Models: spin checks the ring's sleep/wake handshake (tests/model/ring_wake.pml)
# exhaustively. The protocol in use must verify; the version 1 protocol must
# fail, which shows the property can fail at all.
set -u
cd "$(dirname "$0")/../.."
pass=0
fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $1"; fail=$((fail + 1)); }

if ! command -v spin >/dev/null; then
    not_ok "spin is not installed (scripts/install-deps.sh installs it)"
    echo "$pass passed, $fail failed"
    exit 0
fi

# Build tests/model/ring_wake.pml in build/model/$1 with spin options $2 and
# run its verifier with pan options $3 (-i: the shortest counterexample).
verify() {
    local dir=build/model/$1
    rm -rf "$dir" && mkdir -p "$dir" && cp tests/model/ring_wake.pml "$dir/" &&
        (cd "$dir" && spin -a $2 ring_wake.pml >/dev/null && gcc -O2 -o pan pan.c && ./pan -m100000 $3 2>&1)
}

out=$(verify new "" "")
if echo "$out" | grep -q 'errors: 0' && ! echo "$out" | grep -qE 'Search not completed|max search depth'; then
    ok "ring wake-up, version 2: no lost wake-up ($(echo "$out" | grep -oE '[0-9]+ states, stored'))"
else
    echo "$out" | head -30
    not_ok "ring wake-up, version 2: spin found an error"
fi

out=$(verify old -DOLD -i)
if echo "$out" | grep -q 'assertion violated'; then
    trail=$(cd build/model/old && spin -t -DOLD ring_wake.pml 2>&1)
    steps=$(echo "$trail" | grep -oE 'trail ends after [0-9]+ steps' | grep -oE '[0-9]+')
    end=$(echo "$trail" | grep -E '^\s+(head|tail|sleeping) = ' | tr -d '\t' | paste -sd, | sed 's/,/, /g')
    ok "ring wake-up, version 1: spin finds the lost wake-up in $steps steps ($end, no wake on its way)"
else
    echo "$out" | head -30
    not_ok "ring wake-up, version 1: spin found no lost wake-up (the model cannot fail?)"
fi

echo "$pass passed, $fail failed"
