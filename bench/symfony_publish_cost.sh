#!/usr/bin/env bash
# Symfony $hub->publish(new Update(...)) cost per call (docs/BENCHMARKS.md,
# issue 17): starts build/herald-relay with the Mercure front
# (mercure_jwt_key), one EventSource-like subscriber (curl) on the topic,
# then runs bench/symfony_publish_cost.php once per row and run, rows
# interleaved within a run, and prints every run and the medians: HeraldHub
# through the ring and through the socket, Debian's symfony/mercure Hub
# POSTing to the relay's /.well-known/mercure, and herald_mercure_publish()
# alone. RUNS=runs (5), N=calls per row and run (20000). Needs `make relay
# ext` and php-symfony-mercure (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${N:-20000}
runs=${RUNS:-5}
. bench/scratch.sh symfony-publish

key=bench-mercure-key-0123456789abcdef0123
start_relay "$dir/herald.sock" --mercure_jwt_key "$key" --mercure_anonymous 1
url="http://127.0.0.1:$port/.well-known/mercure"
# The publisher JWT of the HTTP rows: {"mercure":{"publish":["*"]}}, HS256.
jwt=$(php -r '$b = fn ($s) => rtrim(strtr(base64_encode($s), "+/", "-_"), "=");
    $m = $b("{\"alg\":\"HS256\",\"typ\":\"JWT\"}") . "." . $b("{\"mercure\":{\"publish\":[\"*\"]}}");
    echo $m, ".", $b(hash_hmac("sha256", $m, $argv[1], true));' "$key")
# One subscriber, so every update is fanned out as it would be in production.
curl -sN "$url?topic=https%3A%2F%2Fexample.com%2Forders%2F%7Bid%7D" -o "$dir/sub.out" &
pids+=($!)
for _ in $(seq 200); do [ -s "$dir/sub.out" ] && break; sleep 0.05; done

php_args=(-n -d include_path=.:/usr/share/php -d "extension=$PWD/build/herald.so" -d "herald.socket=$dir/herald.sock"
    -d herald.timeout_ms=1000)
php -n -r 'exit(extension_loaded("curl") ? 0 : 1);' || php_args+=(-d extension=curl)
echo "$(uname -srm), $(nproc) cores, PHP $(php -r 'echo PHP_VERSION;'), symfony/mercure $(dpkg-query -W -f='${Version}' php-symfony-mercure), $runs runs x $n calls, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
out="$dir/rows.jsonl"
for r in $(seq "$runs"); do
    for row in symfony-herald-ring symfony-herald-socket symfony-http bare-herald-ring bare-herald-socket; do
        extra=()
        case $row in
        *-ring)   kind=${row%-ring} ;;
        *-socket) kind=${row%-socket}; extra=(-d herald.ring_bytes=0) ;;
        *)        kind=$row ;;
        esac
        php "${php_args[@]}" "${extra[@]}" bench/symfony_publish_cost.php --row="$kind" --label="$row" \
            --n="$n" --url="$url" --jwt="$jwt" --server-pid="$relay_pid" | tee -a "$out"
    done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "subscriber: $(grep -c '^data:' "$dir/sub.out" || true) updates received"
php -r '
$rows = [];
foreach (file($argv[1]) as $l) { $j = json_decode($l, true); $rows[$j["label"]][] = $j; }
$med = function (array $v) { sort($v); $c = count($v); return $c % 2 ? $v[intdiv($c, 2)] : ($v[$c / 2 - 1] + $v[$c / 2]) / 2; };
printf("\n| %-22s | %12s | %12s | %15s | %s |\n", "row", "µs/call", "PHP CPU µs", "relay CPU µs", "µs/call, every run");
echo "|------------------------|-------------:|-------------:|----------------:|---|\n";
foreach ($rows as $k => $rs) {
    printf("| %-22s | %12.2f | %12.2f | %15.2f | %s |\n", $k, $med(array_column($rs, "us_per_call")),
        $med(array_column($rs, "php_cpu_us")), $med(array_column($rs, "server_cpu_us")),
        implode(" ", array_map(fn ($x) => sprintf("%.2f", $x), array_column($rs, "us_per_call"))));
}' "$out"
