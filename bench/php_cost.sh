#!/usr/bin/env bash
# bench/php_cost.sh: starts a Herald relay, redis-server (TCP and Unix socket)
# and nginx + nchan (1 worker), each on loopback or a scratch socket, pinned
# to core 0 with one subscriber each, and runs bench/php_cost.php on core 1.
# Stops what it started by pid. Part of bench/run.sh; N=calls per row.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${N:-100000}
. bench/scratch.sh phpcost
srv=(taskset -c 0)
gen=(taskset -c $(($(nproc) > 1 ? 1 : 0)))
hport=9351 rport=9352 nport=9353
relay=${HERALD_RELAY:-build/herald-relay}
ext=${HERALD_EXT:-$PWD/build/herald.so}
"${srv[@]}" "$relay" --listen "127.0.0.1:$hport" --socket "$dir/h.sock" --log_level warn --workers 1 &
pids+=($!)
"${srv[@]}" redis-server --port "$rport" --bind 127.0.0.1 --unixsocket "$dir/redis.sock" \
    --save '' --appendonly no --loglevel warning >/dev/null &
pids+=($!)
mkdir -p "$dir/ng"
sed -e "s#@WORKERS@#1#; s#@PORT@#$nport#; s#@DIR@#$dir/ng#g; s#@MODULE@#/usr/lib/nginx/modules/ngx_nchan_module.so#" \
    bench/nchan.conf.in >"$dir/ng/nginx.conf"
"${srv[@]}" nginx -p "$dir/ng" -c "$dir/ng/nginx.conf" -e "$dir/ng/error.log" &
pids+=($!)
for p in $hport $rport $nport; do
    for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break; sleep 0.05; done
done
# one subscriber on each, so every publish is delivered somewhere; they sit
# with the servers on core 0, so PHP has core 1 to itself
"${srv[@]}" curl -sN "http://127.0.0.1:$hport/sse?channel=c0" >/dev/null &
pids+=($!)
"${srv[@]}" curl -sN -H 'Accept: text/event-stream' "http://127.0.0.1:$nport/sub/c0" >/dev/null &
pids+=($!)
"${srv[@]}" redis-cli -s "$dir/redis.sock" subscribe c0 >/dev/null &
pids+=($!)
sleep 0.5
echo "# $(uname -srm), $(nproc) cores, PHP $(php -r 'echo PHP_VERSION;'), redis $(redis-server --version | awk '{print $3}'), nginx $(nginx -v 2>&1 | sed 's/.*\///')"
# php.ini's conf.d loads redis and curl; herald comes from the build.
"${gen[@]}" php -d "extension=$ext" bench/php_cost.php --socket="$dir/h.sock" --n="$n" \
    --redis-tcp="$rport" --redis-unix="$dir/redis.sock" --nchan="http://127.0.0.1:$nport/pub/c0"
