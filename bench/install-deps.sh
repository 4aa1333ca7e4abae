#!/usr/bin/env bash
# bench/install-deps.sh: what `make bench` needs besides the build itself:
# nginx with the nchan module (the system Herald is measured against),
# redis-server and phpredis, php-curl, gnuplot for the chart, perf.
# Installs only what is missing (Debian 12 packages), so it is cheap to re-run.
set -euo pipefail
# `bench/install-deps.sh soketi`: soketi 1.6.1, the anchor of the issue-16
# benchmark (docs/BENCHMARKS.md), from npm into bench/soketi/node_modules,
# pinned by its package-lock.json; package.json's overrides give it
# @trufflesuite/uws-js-unofficial (an npm build of uWebSockets.js 20.30 with
# binaries for Node 20) in place of the git tag v20.10.0 soketi names, which
# npm cannot fetch here and which has no binary for Node 20. On demand only:
# no test needs it.
if [ "${1:-}" = soketi ]; then
    cd "$(dirname "$0")/soketi" && exec npm ci --no-audit --no-fund --loglevel=error
fi
need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
for p in nginx libnginx-mod-nchan redis-server php8.2-redis php8.2-curl php8.2-cli \
         gnuplot-nox linux-perf util-linux procps; do
    have "$p" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "bench: installing ${need[*]}"
    SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    # The nginx package starts a default server where it can; ours runs on its
    # own config, so a failed start of the system one is harmless.
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" \
        >/dev/null
fi

