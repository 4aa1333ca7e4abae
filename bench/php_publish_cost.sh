#!/usr/bin/env bash
# Starts build/herald-relay on a scratch socket and a free loopback port with
# one SSE subscriber on the bench channel, and redis-server on a scratch Unix
# socket when ext/redis (php8.2-redis) is loaded; runs php_publish_cost.php
# against them; stops each by its pid. Needs `make` first. N=calls per row.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${N:-200000}
. bench/scratch.sh bench

start_relay "$dir/herald.sock"
curl -sN "http://127.0.0.1:$port/sse?channel=bench" >/dev/null &
pids+=($!)

redis_args=()
if php -r 'exit(extension_loaded("redis") ? 0 : 1);' && command -v redis-server >/dev/null; then
    redis-server --port 0 --unixsocket "$dir/redis.sock" --save '' --appendonly no >/dev/null &
    pids+=($!)
    for _ in $(seq 200); do [ -S "$dir/redis.sock" ] && break; sleep 0.05; done
    redis_args=(--redis="$dir/redis.sock")
fi

echo "$(uname -srm), $(nproc) cores, $(php -r 'echo PHP_VERSION;')"
php_args=(-d "extension=$PWD/build/herald.so")
# ext/redis comes from php.ini (conf.d); without it, -n keeps the run bare.
[ ${#redis_args[@]} -eq 0 ] && php_args=(-n "${php_args[@]}")
php "${php_args[@]}" bench/php_publish_cost.php --socket="$dir/herald.sock" --n="$n" "${redis_args[@]}"
