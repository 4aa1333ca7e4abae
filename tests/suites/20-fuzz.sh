#!/usr/bin/env bash
# Runs each libFuzzer harness briefly (FUZZ_SECONDS, default 10) from its seed
# corpus in tests/fuzz/corpus/<name>/. New inputs go to a scratch folder, so
# the committed corpus only changes when someone adds to it on purpose.
set -u
cd "$(dirname "$0")/../.."
secs=${FUZZ_SECONDS:-10}
pass=0
fail=0
for f in build/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    name=$(basename "$f")
    work=build/fuzz-work/$name
    rm -rf "$work"
    mkdir -p "$work"
    args=(-max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$work/")
    [ -f "tests/fuzz/$name.dict" ] && args+=(-dict="tests/fuzz/$name.dict")
    dirs=("$work")
    [ -d "tests/fuzz/corpus/$name" ] && dirs+=("tests/fuzz/corpus/$name")
    if "$f" "${args[@]}" "${dirs[@]}" >"$work.log" 2>&1; then
        runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$work.log" | awk '{print $2}')
        echo "ok - $name: $secs s, ${runs:-?} inputs, no finding"
        pass=$((pass + 1))
    else
        echo "not ok - $name"
        tail -n 40 "$work.log"
        fail=$((fail + 1))
    fi
done
echo "$pass passed, $fail failed"
