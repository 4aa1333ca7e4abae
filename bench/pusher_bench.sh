#!/usr/bin/env bash
# Pusher clients at 10k subscribers (docs/BENCHMARKS.md, issue 16): Herald's
# Pusher front against soketi 1.6.1, the same load generator
# (bench/loadgen.c --proto pusher: WebSocket /app/{key}?protocol=7, one
# pusher:subscribe each) and the same publisher (bench/pusher_publish.php).
# Each case, on a server started fresh:
#   idle memory  the server's RSS before the subscribers and after they have
#                all subscribed (and 2 s of rest), divided by their count
#   fan-out      COUNT events published as fast as the publisher goes to the
#                channel all of them are on; delivered msg/s from the first
#                send to the last receive (loadgen), lost events, latency
#                percentiles, the server's CPU per delivered message
# Cases: herald-api (Herald's Pusher HTTP API), herald-ext (herald_publish()
# through the extension's ring), soketi-api (soketi's HTTP API); REPS runs
# of each, interleaved. SUBS=10000 COUNT=200 SIZE=100 REPS=3.
# Needs `make relay ext bench-build`; soketi is installed on demand.
set -euo pipefail
cd "$(dirname "$0")/.."
subs=${SUBS:-10000}
count=${COUNT:-200}
size=${SIZE:-100}
reps=${REPS:-3}
. bench/scratch.sh pusher-bench
. bench/pusher_common.sh
php_args=(-n -d "extension=$PWD/build/herald.so" -d herald.timeout_ms=5000)
php -n -r 'exit(extension_loaded("curl") ? 0 : 1);' || php_args+=(-d extension=curl)
out=${OUT:-$dir/results.jsonl}
: >"$out"

server_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f", s}'; }

run_case() {
    local name=$1 rep=$2 spid sport
    case $name in
    herald-*)
        start_relay "$dir/herald-$rep.sock" "${PUSHER_FLAGS[@]}"
        spid=$relay_pid sport=$port ;;
    soketi-*)
        start_soketi
        spid=$soketi_pid sport=$soketi_port ;;
    esac
    sleep 1 # let the server settle before its baseline RSS (not a synchronisation)
    local rss0 rss1
    rss0=$(rss_kb "$spid")
    rm -f "$dir/ready" "$dir/done" "$dir/sub.json"
    # Two processes (the 20,000-descriptor limit, and one per core); four
    # source addresses so the ephemeral ports never run short.
    build/bench/loadgen sub --proto pusher --port "$sport" --path "/app/$APP_KEY?protocol=7" \
        --channel bench --conns "$subs" --per-proc $(((subs + 1) / 2)) --src 1-4 \
        --expect "$count" --timeout 120 --quiet 10 --ready-file "$dir/ready" \
        --done-file "$dir/done" --json "$dir/sub.json" 2>>"$dir/loadgen.log" &
    local lg=$!
    pids+=($lg)
    while [ ! -s "$dir/ready" ]; do
        kill -0 "$lg" 2>/dev/null || { echo "bench: loadgen died, see $dir/loadgen.log" >&2; return 1; }
        sleep 0.1
    done
    sleep 2 # idle: the connections at rest, then read the RSS
    rss1=$(rss_kb "$spid")
    local c0 t0 c1
    c0=$(server_ns "$spid")
    if [ "$name" = herald-ext ]; then
        php "${php_args[@]}" -d "herald.socket=$dir/herald-$rep.sock" bench/pusher_publish.php --via=ext \
            --count="$count" --size="$size" 2>>"$dir/publish.log"
    else
        php "${php_args[@]}" bench/pusher_publish.php --via=api --port="$sport" --app-id="$APP_ID" \
            --key="$APP_KEY" --secret="$APP_SECRET" --count="$count" --size="$size" 2>>"$dir/publish.log"
    fi
    while [ ! -e "$dir/done" ]; do
        kill -0 "$lg" 2>/dev/null || break
        sleep 0.1
    done
    c1=$(server_ns "$spid")
    kill "$lg" 2>/dev/null || true
    wait "$lg" 2>/dev/null || true
    php -r '
        [, $name, $rep, $subs, $rss0, $rss1, $cpu, $file] = $argv;
        $j = json_decode(file_get_contents($file), true);
        echo json_encode(["case" => $name, "rep" => (int) $rep, "subs" => (int) $subs,
            "rss_before_kb" => (int) $rss0, "rss_after_kb" => (int) $rss1,
            "bytes_per_conn" => round(($rss1 - $rss0) * 1024 / $subs),
            "server_cpu_us_per_msg" => $j["msgs"] ? round($cpu / 1e3 / $j["msgs"], 3) : null] + $j), "\n";
    ' "$name" "$rep" "$subs" "$rss0" "$rss1" "$((c1 - c0))" "$dir/sub.json" | tee -a "$out"
    kill "$spid" 2>/dev/null || true
    wait "$spid" 2>/dev/null || true
}

echo "$(uname -srm), $(nproc) cores, Node $(node --version), $subs subscribers, $count events of $size B, $reps reps, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for rep in $(seq "$reps"); do
    for name in herald-api herald-ext soketi-api; do
        run_case "$name" "$rep"
    done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
php -r '
$rows = [];
foreach (file($argv[1]) as $l) { $j = json_decode($l, true); $rows[$j["case"]][] = $j; }
$med = function (array $v) { sort($v); $c = count($v); return $c % 2 ? $v[intdiv($c, 2)] : ($v[$c / 2 - 1] + $v[$c / 2]) / 2; };
printf("\n| %-10s | %14s | %12s | %8s | %8s | %8s | %16s | %12s | %s |\n", "case", "delivered/s", "CPU µs/msg", "p50 ms", "p99 ms", "lost", "B per idle conn", "RSS after MB", "delivered/s, every run");
echo "|---|---:|---:|---:|---:|---:|---:|---:|---|\n";
foreach ($rows as $k => $rs) {
    printf("| %-10s | %14.0f | %12.3f | %8.1f | %8.1f | %8d | %16.0f | %12.1f | %s |\n", $k, $med(array_column($rs, "msgs_per_s")),
        $med(array_column($rs, "server_cpu_us_per_msg")), $med(array_column($rs, "p50_us")) / 1e3, $med(array_column($rs, "p99_us")) / 1e3,
        array_sum(array_column($rs, "lost")), $med(array_column($rs, "bytes_per_conn")), $med(array_column($rs, "rss_after_kb")) / 1024,
        implode(" ", array_map(fn ($x) => sprintf("%.0f", $x), array_column($rs, "msgs_per_s"))));
}' "$out"
