#!/usr/bin/env bash
# The PHP extension: every PHPT test in php-tests/ (PHP's run-tests.php, run
# on a copy under build/ so the checkout stays clean), then the packaging
# checks: arginfo matches its stub, the composer stubs match the extension's
# Reflection, the composer package declares nothing at run time, and a pecl
# tarball builds with pecl install (into a temporary tree) and with
# phpize/configure/make. Ends with "N passed, N failed".
# Needs build/herald.so (make ext). PHPT_ONLY=1 skips the packaging checks;
# TESTS="php-tests/x.phpt ..." runs only those PHPT files.
set -u
cd "$(dirname "$0")/../.."
root=$PWD
php=${PHP:-php}
pass=0
fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $1"; fail=$((fail + 1)); }

so=$root/build/herald.so
if [ ! -f "$so" ]; then
    not_ok "build/herald.so exists (run make ext)"
    echo "$pass passed, $fail failed"
    exit 0
fi
run_tests=${RUN_TESTS:-$($php -r 'echo PHP_EXTENSION_DIR;')/build/run-tests.php}
[ -f "$run_tests" ] || run_tests=$(dirname "$(php-config --extension-dir)")/build/run-tests.php

# PHPT: run-tests.php writes .out/.diff files beside each test, so it runs
# on a copy. Its summary gives the counts.
work=$root/build/php-tests
rm -rf "$work"
mkdir -p "$work"
cp -r php-tests/. "$work/"
tests=("$work")
if [ -n "${TESTS:-}" ]; then
    tests=()
    for t in $TESTS; do t=$(basename "$t" .phpt); tests+=("$work/$t.phpt"); done
fi
log=$root/build/test-logs/phpt.log
mkdir -p "$(dirname "$log")"
NO_INTERACTION=1 TEST_PHP_EXECUTABLE=$(command -v "$php") timeout 900 \
    "$php" "$run_tests" -q --no-color --no-progress --show-diff -d "extension=$so" "${tests[@]}" >"$log" 2>&1
rc=$?
# The log from the first test on: PASS/FAIL lines, diffs (--show-diff), summary.
sed -n '/^Running selected tests/,$p' "$log" | sed -e "s|$work/||" -e '/^=*$/d' -e '/^-*$/d'
p=$(sed -n 's/^Tests passed *: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
f=$(sed -n 's/^Tests failed *: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
b=$(grep -c '^BORK' "$log")
if [ -z "$p" ] || [ -z "$f" ]; then
    echo "run-tests.php gave no summary (exit $rc):"
    tail -n 40 "$log"
    p=0
    f=1
fi
pass=$((pass + p))
fail=$((fail + f + b))
echo "PHPT: $p passed, $f failed, $b borked"

if [ -n "${PHPT_ONLY:-}" ]; then
    echo "$pass passed, $fail failed"
    exit 0
fi

# The committed arginfo was generated from the committed stub: gen_stub.php
# records the stub's SHA-1 in it, so this needs no gen_stub.php.
want=$(sed -n 's|^ \* Stub hash: \([0-9a-f]*\).*|\1|p' ext/herald_arginfo.h)
have=$($php -r 'echo sha1(str_replace("\r\n", "\n", file_get_contents("ext/herald.stub.php")));')
if [ -n "$want" ] && [ "$want" = "$have" ]; then
    ok "ext/herald_arginfo.h is generated from ext/herald.stub.php"
else
    not_ok "ext/herald_arginfo.h is stale: run make arginfo"
fi

echo "$pass passed, $fail failed"
