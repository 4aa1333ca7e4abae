#!/usr/bin/env bash
# Installs what Herald needs on Debian 12 when it is missing: the -dev libraries,
# PHP, servers the tests run for real, clang's fuzzer runtime, and the npm
# packages of the end-to-end tests. Quiet and quick when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential pkg-config clang clang-format libclang-rt-14-dev
      libuv1-dev libmsgpack-dev libssl-dev libjansson-dev libinih-dev libhiredis-dev libcmocka-dev zlib1g-dev
      php8.2-dev php8.2-cli php8.2-fpm php-pear php-parser composer php-laravel-framework php-symfony-mercure
      redis-server nginx curl openssl nodejs chromium supervisor python3 spin iproute2 nftables)
# Debian's npm conflicts with a Node.js that bundles its own npm (NodeSource's).
command -v npm >/dev/null || pkgs+=(npm)

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    # Do not let package scripts start nginx, php-fpm or redis as system services:
    # the tests start their own on loopback. Only for this install: a
    # policy-rc.d we made is removed after it, however it ends, so packages
    # installed later on this machine start their services as usual. One that
    # was there before is the machine's own and stays.
    policy=${POLICY_RC_D:-/usr/sbin/policy-rc.d}
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
        $sudo chmod +x "$policy"
        trap '$sudo rm -f "$policy"' EXIT
    fi
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    [ -n "$(trap -p EXIT)" ] && $sudo rm -f "$policy" && trap - EXIT
fi

# npm packages for the end-to-end tests (real clients: ws, eventsource, playwright-core,
# pusher-js, laravel-echo, and the pusher HTTP API client).
if [ -f tests/e2e/package.json ]; then
    if [ ! -d tests/e2e/node_modules ] || [ tests/e2e/package.json -nt tests/e2e/node_modules ]; then
        echo "install-deps: npm install in tests/e2e"
        (cd tests/e2e && npm install --no-audit --no-fund --loglevel=error >/dev/null && touch node_modules)
    fi
fi
