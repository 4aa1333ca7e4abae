#!/usr/bin/env bash
# Starts build/herald-relay with the HTTP publish API on a scratch socket and
# a free loopback port, with one SSE subscriber on the bench channel, mints a
# publish token with herald_token(), and runs http_publish_cost.php: what one
# publish costs through POST /publish (a keep-alive client, a new connection
# each time, a batch) next to sse_emit(), for the PHP process and for the
# relay. Stops each child by its pid. Needs `make` first. N=calls per row.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${N:-20000}
. bench/scratch.sh http-publish

secret=bench-secret-0123456789abcdef
start_relay "$dir/herald.sock" --secret "$secret" --publish_api 1
curl -sN "http://127.0.0.1:$port/sse?channel=bench" >/dev/null &
pids+=($!)

php_args=(-n -d "extension=$PWD/build/herald.so" -d "herald.secret=$secret")
# ext/curl, when PHP has it as a shared extension, for the curl rows.
php -r 'exit(extension_loaded("curl") ? 0 : 1);' && php_args+=(-d extension=curl)
token=$(php "${php_args[@]}" -r "echo herald_token(['publish' => ['bench']], 3600);")
echo "$(uname -srm), $(nproc) cores, $(php -r 'echo PHP_VERSION;'), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
php "${php_args[@]}" bench/http_publish_cost.php --socket="$dir/herald.sock" --port="$port" \
    --token="$token" --relay-pid="$relay_pid" --n="$n"
