#!/usr/bin/env bash
# Laravel broadcast() cost per call (docs/BENCHMARKS.md, issue 16): starts
# build/herald-relay with the Pusher front and soketi 1.6.1 with the same
# app, one Pusher subscriber (bench/loadgen.c) on "orders" on each, then
# runs bench/laravel_broadcast_cost.php once per row and run, rows
# interleaved within a run, and prints every run and the medians.
# RUNS=runs (5), N=calls per row and run (20000). Needs `make relay ext
# bench-build` first; soketi is installed on demand.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${N:-20000}
runs=${RUNS:-5}
. bench/scratch.sh laravel-broadcast
. bench/pusher_common.sh

start_relay "$dir/herald.sock" "${PUSHER_FLAGS[@]}"
start_soketi
for p in "$port" "$soketi_port"; do
    build/bench/loadgen sub --proto pusher --port "$p" --path "/app/$APP_KEY?protocol=7" \
        --channel orders --hold 0 --json "$dir/sub-$p.json" --ready-file "$dir/ready-$p" 2>>"$dir/loadgen.log" &
    pids+=($!)
done
for p in "$port" "$soketi_port"; do
    for _ in $(seq 200); do [ -s "$dir/ready-$p" ] && break; sleep 0.05; done
done

php_args=(-n -d "extension=$PWD/build/herald.so" -d "herald.socket=$dir/herald.sock" -d herald.timeout_ms=1000)
php -n -r 'exit(extension_loaded("curl") ? 0 : 1);' || php_args+=(-d extension=curl)
php -n -r 'exit(extension_loaded("mbstring") ? 0 : 1);' || php_args+=(-d extension=mbstring)
app=(--app-id="$APP_ID" --key="$APP_KEY" --secret="$APP_SECRET")
soketi_ver=$(node -p "require('./bench/soketi/node_modules/@soketi/soketi/package.json').version")
echo "$(uname -srm), $(nproc) cores, PHP $(php -r 'echo PHP_VERSION;'), Node $(node --version), soketi $soketi_ver, $runs runs x $n calls, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
out="$dir/rows.jsonl"
for r in $(seq "$runs"); do
    for row in laravel-herald-ring laravel-herald-socket laravel-pusher-herald laravel-pusher-soketi \
               bare-herald-ring bare-herald-socket bare-pusher-herald bare-pusher-soketi; do
        extra=()
        case $row in
        *-herald-ring)   kind=${row%-ring};   spid=$relay_pid;  sport=$port ;;
        *-herald-socket) kind=${row%-socket}; spid=$relay_pid;  sport=$port; extra=(-d herald.ring_bytes=0) ;;
        *-pusher-herald) kind=${row%-herald}; spid=$relay_pid;  sport=$port ;;
        *-pusher-soketi) kind=${row%-soketi}; spid=$soketi_pid; sport=$soketi_port ;;
        esac
        php "${php_args[@]}" "${extra[@]}" bench/laravel_broadcast_cost.php --row="$kind" --label="$row" \
            --n="$n" --port="$sport" --server-pid="$spid" "${app[@]}" | tee -a "$out"
    done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
# What the subscribers got (untimed: the Laravel payload carries no timestamp).
kill -TERM "${pids[@]: -2}" 2>/dev/null || true
wait "${pids[@]: -2}" 2>/dev/null || true
for p in "$port" "$soketi_port"; do
    printf 'subscriber on %s: ' "$([ "$p" = "$port" ] && echo herald || echo soketi)"
    php -r '$j = json_decode(file_get_contents($argv[1]), true); printf("%d frames (connection_established and subscription_succeeded included), dropped %d\n", $j["untimed"] + $j["msgs"], $j["dropped"]);' "$dir/sub-$p.json"
done
php -r '
$rows = [];
foreach (file($argv[1]) as $l) { $j = json_decode($l, true); $rows[$j["label"]][] = $j; }
$med = function (array $v) { sort($v); $c = count($v); return $c % 2 ? $v[intdiv($c, 2)] : ($v[$c / 2 - 1] + $v[$c / 2]) / 2; };
printf("\n| %-24s | %12s | %12s | %15s | %s |\n", "row", "µs/call", "PHP CPU µs", "server CPU µs", "µs/call, every run");
echo "|--------------------------|-------------:|-------------:|----------------:|---|\n";
foreach ($rows as $k => $rs) {
    printf("| %-24s | %12.2f | %12.2f | %15.2f | %s |\n", $k, $med(array_column($rs, "us_per_call")),
        $med(array_column($rs, "php_cpu_us")), $med(array_column($rs, "server_cpu_us")),
        implode(" ", array_map(fn ($x) => sprintf("%.2f", $x), array_column($rs, "us_per_call"))));
}' "$out"
