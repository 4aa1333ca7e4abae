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
# The tests' sockets are named after the test ({TMP}/herald_<test>.sock,
# sys_get_temp_dir()): a temp folder of this run's own (TMPDIR, short for
# the 108-byte socket path limit) keeps a run in another checkout at the
# same time from using the same paths.
phpt_tmp=$(mktemp -d "${TMPDIR:-/tmp}/herald-phpt.XXXXXX")
TMPDIR=$phpt_tmp HERALD_SOURCE_DIR=$root NO_INTERACTION=1 TEST_PHP_EXECUTABLE=$(command -v "$php") timeout 900 \
    "$php" "$run_tests" -q --no-color --no-progress --show-diff -d "extension=$so" "${tests[@]}" >"$log" 2>&1
rc=$?
rm -rf "$phpt_tmp"
# The log from the first test on: PASS/FAIL lines, diffs (--show-diff), summary.
sed -n '/^Running selected tests/,$p' "$log" | sed -e "s|$work/||" -e '/^=*$/d' -e '/^-*$/d'
p=$(sed -n 's/^Tests passed *: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
f=$(sed -n 's/^Tests failed *: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
b=$(grep -c '^BORK' "$log")
# Every test can run here (scripts/install-deps.sh installs what they need):
# a skipped test counts as a failure.
sk=$(sed -n 's/^Tests skipped *: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
b=$((b + ${sk:-0}))
if [ -z "$p" ] || [ -z "$f" ]; then
    echo "run-tests.php gave no summary (exit $rc):"
    tail -n 40 "$log"
    p=0
    f=1
fi
pass=$((pass + p))
fail=$((fail + f + b))
echo "PHPT: $p passed, $f failed, $b borked or skipped"

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

# The composer package: a path repository install (no network) gives the
# stubs file, and its autoloader declares nothing at run time.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/herald-php-suite.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
if command -v composer >/dev/null; then
    app=$scratch/app
    mkdir -p "$app"
    cat >"$app/composer.json" <<JSON
{
    "name": "herald-test/app",
    "repositories": [{"type": "path", "url": "$root/packages/herald-stubs", "options": {"symlink": false}},
                     {"packagist.org": false}],
    "require": {"herald/herald-stubs": "*@dev"}
}
JSON
    if (cd "$app" && COMPOSER_ALLOW_SUPERUSER=1 COMPOSER_HOME=$scratch/composer-home \
            COMPOSER_CACHE_DIR=$scratch/composer-cache timeout 300 composer install \
            --no-interaction --no-progress --quiet) >"$scratch/composer.log" 2>&1 \
        && [ -f "$app/vendor/herald/herald-stubs/stubs/herald.php" ]; then
        ok "composer installs herald/herald-stubs with stubs/herald.php"
    else
        not_ok "composer installs herald/herald-stubs"
        cat "$scratch/composer.log"
    fi
    # Without the extension nothing is declared; with it, no redeclaration.
    out=$(cd "$app" && $php -n -r 'require "vendor/autoload.php"; var_dump(function_exists("sse_emit"));' 2>&1)
    out2=$(cd "$app" && $php -n -d "extension=$so" -r 'require "vendor/autoload.php";
        var_dump((new ReflectionFunction("sse_emit"))->isInternal());' 2>&1)
    if [ "$out" = "bool(false)" ] && [ "$out2" = "bool(true)" ]; then
        ok "the composer package declares no function at run time"
    else
        not_ok "the composer package declares no function at run time: $out / $out2"
    fi
    # The installed package is the stubs and nothing else (it used to be the
    # whole repository, build/ and node_modules/ included: 25 MB).
    listing=$(cd "$app/vendor/herald/herald-stubs" 2>/dev/null && find . -type f | sort | tr '\n' ' ')
    if [ "$listing" = "./README.md ./composer.json ./stubs/herald.php " ]; then
        ok "the composer package holds the stubs only ($listing)"
    else
        not_ok "the composer package holds the stubs only: $listing"
    fi
else
    not_ok "composer is installed (scripts/install-deps.sh)"
fi

# package.xml lists every file of the extension and its tests, and its
# version is the extension's.
listed=$(sed -n 's/.*<file name="\([^"]*\)".*/\1/p' package.xml | sort)
wanted=$( (cd "$root" && ls config.m4 abi/*.h ext/*.c ext/*.h ext/Makefile.frag ext/*.stub.php php-tests/*.phpt php-tests/inc/* docs/PHP.md) \
    | xargs -n1 basename | sort)
xml_version=$(sed -n 's|.*<release>\([0-9][^<]*\)</release>.*|\1|p' package.xml | head -n 1)
ext_version=$(sed -n 's/^#define PHP_HERALD_VERSION "\(.*\)"/\1/p' ext/php_herald.h)
if [ "$listed" = "$wanted" ] && [ "$xml_version" = "$ext_version" ]; then
    ok "package.xml lists every file and has version $ext_version"
else
    not_ok "package.xml is out of date (version $xml_version, extension $ext_version)"
    diff <(echo "$listed") <(echo "$wanted")
fi

# pecl package makes the release tarball. Then, at the same time: pecl
# install builds it into a scratch tree, and phpize, configure and make build
# it in the unpacked tarball. The system's PHP and PEAR stay as they were:
# pecl gets a config of its own (registry, temp and doc dirs in the scratch
# tree, no php.ini) and a php-config wrapper first in PATH that names a
# scratch extension dir (pecl installs the .so where `make install` put it,
# and ignores its ext_dir setting for that).
pecl_dir=$scratch/pecl
mkdir -p "$pecl_dir"
tgz=$pecl_dir/herald-$ext_version.tgz
sys_ext_dir=$(php-config --extension-dir)
had_so=no
[ -e "$sys_ext_dir/herald.so" ] && had_so=yes
if command -v pecl >/dev/null && (cd "$pecl_dir" && pecl package "$root/package.xml") >"$scratch/package.log" 2>&1 \
    && [ -f "$tgz" ]; then
    ok "pecl package creates herald-$ext_version.tgz"

    (
        cd "$pecl_dir" && tar xzf "$tgz" && cd "herald-$ext_version" \
            && phpize && ./configure --enable-herald && make
    ) >"$scratch/tarball.log" 2>&1 &
    tarball_pid=$!

    mkdir -p "$pecl_dir/bin" "$pecl_dir/temp" "$pecl_dir/download" "$pecl_dir/cache"
    real_php_config=$(command -v php-config)
    cat >"$pecl_dir/bin/php-config" <<SH
#!/bin/sh
case "\$1" in
--prefix) echo "$pecl_dir/prefix" ;;
--extension-dir) echo "$pecl_dir/prefix/ext" ;;
*) exec "$real_php_config" "\$@" ;;
esac
SH
    chmod +x "$pecl_dir/bin/php-config"
    conf=$pecl_dir/pear.conf
    pecl config-create "$pecl_dir/root" "$conf" >/dev/null 2>&1
    # config-create sets the dirs for the pecl channel only; copy them to the
    # top level and move temp, download and cache out of /tmp/pear.
    $php -r '[, $f, $d] = $argv;
        [$head, $body] = explode("\n", file_get_contents($f), 2);
        $c = unserialize($body);
        foreach ($c["__channels"]["pecl.php.net"] as $k => $v) { $c[$k] = $v; }
        foreach (["temp_dir" => "temp", "download_dir" => "download", "cache_dir" => "cache"] as $k => $v) { $c[$k] = "$d/$v"; }
        $c["php_ini"] = "";
        file_put_contents($f, "$head\n" . serialize($c));' "$conf" "$pecl_dir"
    PATH=$pecl_dir/bin:$PATH pecl -c "$conf" install --nodeps "$tgz" >"$scratch/pecl.log" 2>&1
    rc=$?
    installed=$pecl_dir/prefix/ext/herald.so
    v=""
    [ -f "$installed" ] && v=$($php -n -d "extension=$installed" -r 'echo phpversion("herald"), " ", function_exists("ws_publish") ? "ok" : "missing";' 2>&1)
    if [ $rc -eq 0 ] && [ "$v" = "$ext_version ok" ] && grep -q '^install ok' "$scratch/pecl.log"; then
        ok "pecl install of the tarball builds and installs herald.so (into a scratch tree)"
    else
        not_ok "pecl install of the tarball (exit $rc, loads as: $v)"
        tail -n 40 "$scratch/pecl.log"
    fi
    if ! pecl list 2>/dev/null | grep -q '^herald ' && { [ $had_so = yes ] || [ ! -e "$sys_ext_dir/herald.so" ]; } \
        && ! grep -rqs 'herald' "$(php -r 'echo php_ini_loaded_file();')"; then
        ok "pecl install left the system's PEAR registry, extension dir and php.ini alone"
    else
        not_ok "pecl install changed the system (pecl list, $sys_ext_dir or php.ini)"
    fi

    wait "$tarball_pid"
    rc=$?
    built=$pecl_dir/herald-$ext_version/modules/herald.so
    v=""
    [ -f "$built" ] && v=$($php -n -d "extension=$built" -r 'echo phpversion("herald");' 2>&1)
    if [ $rc -eq 0 ] && [ "$v" = "$ext_version" ]; then
        ok "phpize && ./configure && make builds the unpacked tarball"
    else
        not_ok "phpize && ./configure && make in the unpacked tarball (exit $rc)"
        tail -n 40 "$scratch/tarball.log"
    fi
    # The tarball's own make test runs its PHPT files (php-tests/, not tests/),
    # with this checkout's relay. phpize's harness loads no shared extension
    # but the one it built (php -n): a test that needs another one (posix,
    # sockets) is skipped there, and only for that reason.
    (cd "$pecl_dir/herald-$ext_version" && NO_INTERACTION=1 HERALD_SOURCE_DIR=$root \
        TEST_PHP_ARGS="--no-color" timeout 900 make test) >"$scratch/tarball-test.log" 2>&1
    tp=$(sed -n 's/^Tests passed *: *\([0-9]*\).*/\1/p' "$scratch/tarball-test.log" | tail -n 1)
    tf=$(sed -n 's/^Tests failed *: *\([0-9]*\).*/\1/p' "$scratch/tarball-test.log" | tail -n 1)
    ts=$(sed -n 's/^Tests skipped *: *\([0-9]*\).*/\1/p' "$scratch/tarball-test.log" | tail -n 1)
    other_skips=$(grep 'SKIP' "$scratch/tarball-test.log" | grep -vc 'Required extension missing')
    nphpt=$(ls php-tests/*.phpt | wc -l)
    if [ $((${tp:-0} + ${ts:-0})) -eq "$nphpt" ] && [ "${tf:-1}" -eq 0 ] && [ "$other_skips" -eq 0 ] \
        && [ "${tp:-0}" -gt $((nphpt / 2)) ]; then
        ok "make test in the unpacked tarball runs its $nphpt PHPT tests: $tp pass, ${ts:-0} need a shared extension phpize's harness does not load"
    else
        not_ok "make test in the unpacked tarball: passed ${tp:-?} of $nphpt, failed ${tf:-?}, skipped ${ts:-?}"
        tail -n 40 "$scratch/tarball-test.log"
        # What a failed test printed against what it expected.
        for d in "$pecl_dir/herald-$ext_version"/php-tests/*.diff; do
            [ -f "$d" ] && echo "--- $d" && head -n 40 "$d"
        done
    fi
else
    not_ok "pecl package (php-pear)"
    cat "$scratch/package.log" 2>/dev/null
fi

# The PHP way in a checkout (a clone of this one): phpize, configure, make,
# make install, as OPERATIONS.md says. phpize's Makefile must not take the
# project's build over (GNUmakefile), make install installs herald.so, and
# git sees nothing new (what phpize writes is ignored); after phpize --clean
# the project's make still works.
co=$scratch/checkout
if git clone -q "$root" "$co" 2>"$scratch/clone.log" \
    && (cd "$co" && phpize && ./configure --enable-herald && make && make install INSTALL_ROOT="$scratch/root") \
        >"$scratch/phpize-checkout.log" 2>&1; then
    installed=$(find "$scratch/root" -name herald.so | head -n 1)
    dirty=$(cd "$co" && git status --porcelain)
    v=""
    [ -n "$installed" ] && v=$($php -n -d "extension=$installed" -r 'echo phpversion("herald");' 2>&1)
    if [ -x "$co/build/herald-relay" ] && [ -f "$co/build/herald.so" ] && [ "$v" = "$ext_version" ] \
        && [ -z "$dirty" ]; then
        ok "phpize && configure && make && make install in a checkout: the project's build and herald.so, git status clean"
    else
        not_ok "phpize in a checkout (relay built: $([ -x "$co/build/herald-relay" ] && echo yes || echo no), installed: ${v:-no}, untracked: $dirty)"
        tail -n 30 "$scratch/phpize-checkout.log"
    fi
    if (cd "$co" && phpize --clean && make) >"$scratch/phpize-clean.log" 2>&1 && [ -x "$co/build/herald-relay" ]; then
        ok "after phpize --clean, make builds the project again"
    else
        not_ok "after phpize --clean, make builds the project again"
        tail -n 30 "$scratch/phpize-clean.log"
    fi
else
    not_ok "phpize && configure && make && make install in a checkout"
    tail -n 30 "$scratch/phpize-checkout.log" "$scratch/clone.log" 2>/dev/null
fi

# Building and testing left nothing behind in the checkout: none of what
# phpize, configure, make, run-tests.php, pecl or composer would write there.
litter=$( {
    ls -d configure configure.ac config.h config.h.in config.log config.status config.nice \
        acinclude.m4 aclocal.m4 autom4te.cache install-sh libtool ltmain.sh Makefile.fragments \
        Makefile.objects missing mkinstalldirs modules run-tests.php .libs herald-*.tgz vendor \
        composer.lock 2>/dev/null
    find ext stubs \( -name '*.lo' -o -name '*.la' -o -name '*.dep' -o -name '*.o' -o -name '*.so' \
        -o -name '.libs' \) -print 2>/dev/null
    find php-tests -maxdepth 1 \( -name '*.out' -o -name '*.diff' -o -name '*.exp' -o -name '*.log' \
        -o -name '*.mem' -o -name '*.php' -o -name '*.sh' -o -name '*.inc' \) -print 2>/dev/null
} )
if [ -z "$litter" ]; then
    ok "the build and the tests leave no files in the checkout"
else
    not_ok "files left in the checkout:"
    echo "$litter"
fi

echo "$pass passed, $fail failed"
