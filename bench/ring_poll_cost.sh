#!/usr/bin/env bash
# bench/ring_poll_cost.sh: what the shared-memory ring costs and saves at
# ordinary publish rates. One PHP process publishes for about 5 s in a
# pattern (a message every 10 ms; every 1 ms; a burst of 10 every 100 ms,
# like a web request) to a relay with one SSE subscriber, once on the socket
# only (--ingest_ring_bytes 0) and once per ingest_ring_idle_ms value. It
# prints the relay's CPU time (/proc/PID/schedstat) and the PHP process's
# (getrusage; the usleep() between publishes is in every row alike), and
# how many publishes had to wake the relay. Needs `make` first.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/scratch.sh ring
IDLES=${IDLES:-20 5 2}

# run FLAGS... : one relay, one subscriber, the three patterns in turn
run() {
    local sock=$dir/h.sock
    rm -f "$sock"
    start_relay "$sock" "$@"
    local relay=$relay_pid
    curl -sN "http://127.0.0.1:$port/sse?channel=t" >/dev/null &
    pids+=($!)
    local pattern burst gap n r0 r1 w0 w1 php_ms
    for pattern in "1 10000 500" "1 1000 5000" "10 100000 50"; do
        read -r burst gap n <<<"$pattern"
        r0=$(cut -d' ' -f1 "/proc/$relay/schedstat")
        w0=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^herald_ingest_ring_wakes_total/ {print $2}')
        php_ms=$(php -n -d "extension=$PWD/build/herald.so" -d "herald.socket=$sock" -r '
            [, $burst, $gap, $n] = $argv;
            sse_emit("t", "warm-up");
            $cpu = function () { $r = getrusage(); return $r["ru_utime.tv_sec"] * 1e6 + $r["ru_utime.tv_usec"] + $r["ru_stime.tv_sec"] * 1e6 + $r["ru_stime.tv_usec"]; };
            $c0 = $cpu();
            for ($i = 0; $i < $n; $i++) {
                for ($k = 0; $k < $burst; $k++) {
                    sse_emit("t", "m$i.$k") or exit(1);
                }
                usleep((int) $gap);
            }
            printf("%.1f", ($cpu() - $c0) / 1000);' -- "$burst" "$gap" "$n")
        r1=$(cut -d' ' -f1 "/proc/$relay/schedstat")
        w1=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^herald_ingest_ring_wakes_total/ {print $2}')
        printf '| %-28s | %-34s | %8.1f | %8s | %6s |\n' "$*" \
            "$burst every $((gap / 1000)) ms, $((burst * n)) msgs" \
            "$(awk "BEGIN{print ($r1 - $r0) / 1e6}")" "$php_ms" "$((${w1:-0} - ${w0:-0}))"
    done
    kill "$relay"
    wait "$relay" 2>/dev/null || true
}

echo "$(uname -srm), $(nproc) cores, PHP $(php -r 'echo PHP_VERSION;')"
echo
echo "| relay                        | publishes                          | relay ms | PHP ms   | wakes  |"
echo "|------------------------------|------------------------------------|----------|----------|--------|"
run --ingest_ring_bytes 0
for i in $IDLES; do run --ingest_ring_idle_ms "$i"; done
