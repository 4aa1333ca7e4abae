#!/usr/bin/env bash
# The relay's layers (docs/ARCHITECTURE.md): make check-layers on the tree,
# then the same check on a scratch copy with one upward include added, which
# must fail and name the edge (the check can fail).
set -u
cd "$(dirname "$0")/../.."
pass=0
fail=0
if out=$(make --no-print-directory check-layers 2>&1); then
    echo "ok - $out"
    pass=$((pass + 1))
else
    echo "$out"
    echo "not ok - make check-layers"
    fail=$((fail + 1))
fi
scratch=$(mktemp -d "${TMPDIR:-/tmp}/herald-layers.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/relay"
cp -r relay/src "$scratch/relay/"
cp -r abi ext "$scratch/"
sed -i '0,/^#include/s||#include "net/conn.h"\n#include|' "$scratch/relay/src/core/broker.c"
if out=$(python3 scripts/check-layers.py "$scratch" 2>&1); then
    echo "not ok - an upward include (core -> net) is not caught"
    fail=$((fail + 1))
elif grep -q 'core/broker -> net/conn (upward' <<<"$out"; then
    echo "ok - an upward include is caught and named: $(grep -m1 'upward' <<<"$out")"
    pass=$((pass + 1))
else
    echo "$out"
    echo "not ok - the upward include was not named"
    fail=$((fail + 1))
fi
echo "$pass passed, $fail failed"
