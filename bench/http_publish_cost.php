<?php
/* SPDX-License-Identifier: MIT
 * http_publish_cost.php: what one publish costs through the relay's HTTP
 * publish API (POST /publish) from a PHP process, next to sse_emit() on the
 * same relay: the wall time of a call, the CPU time it took the PHP process
 * (getrusage()) and the CPU time it took the relay (its thread's
 * /proc/PID/schedstat), per message. The HTTP client is a minimal
 * keep-alive HTTP/1.1 client on a PHP stream (what any language's client does
 * on the wire), ext/curl with a reused handle when it is loaded, and a new
 * connection per request for comparison. A benchmark, not a test: it prints
 * figures and asserts nothing.
 *
 *   php -n -d extension=build/herald.so [-d extension=curl] bench/http_publish_cost.php \
 *       --socket=/tmp/herald.sock --port=8080 --token=JWT --relay-pid=PID [--n=20000]
 *
 * bench/http_publish_cost.sh starts a relay and runs this. */

$opt = getopt('', ['socket:', 'port:', 'token:', 'relay-pid:', 'n:']);
$socket = $opt['socket'];
$port = (int) $opt['port'];
$token = $opt['token'];
$relay = (int) $opt['relay-pid'];
$n = (int) ($opt['n'] ?? 20000);
ini_set('herald.socket', $socket);
ini_set('herald.timeout_ms', '1000');

function cpu_ns(): float
{
    $r = getrusage();
    return ($r['ru_utime.tv_sec'] + $r['ru_stime.tv_sec']) * 1e9 + ($r['ru_utime.tv_usec'] + $r['ru_stime.tv_usec']) * 1e3;
}

/* The relay's CPU time so far, ns (its main thread: the relay has one). */
function relay_ns(int $pid): float
{
    return (float) explode(' ', file_get_contents("/proc/$pid/schedstat"))[0];
}

/* Wall mean, PHP CPU and relay CPU over $n calls, each per message ($per
 * messages a call), then p50 and p99 over 2000 calls timed one by one. */
function measure(string $name, int $n, callable $call, int $relay, int $per = 1): array
{
    for ($i = 0; $i < 200; $i++) {
        $call($i); /* warm up: connect, caches */
    }
    $fail = 0;
    $c0 = cpu_ns();
    $r0 = relay_ns($relay);
    $t0 = hrtime(true);
    for ($i = 0; $i < $n; $i++) {
        if (!$call($i)) {
            $fail++;
        }
    }
    $mean = (hrtime(true) - $t0) / $n / $per;
    $cpu = (cpu_ns() - $c0) / $n / $per;
    $rcpu = (relay_ns($relay) - $r0) / $n / $per;
    $samples = [];
    for ($i = 0; $i < 2000; $i++) {
        $t = hrtime(true);
        $call($i);
        $samples[] = (hrtime(true) - $t) / $per;
    }
    sort($samples);
    $q = fn (float $p) => $samples[(int) floor($p * (count($samples) - 1))];
    return [$name, $mean, $cpu, $rcpu, $q(0.5), $q(0.99), $fail];
}

/* One POST /publish on an open stream; true on 200. The answer's length
 * comes from its Content-Length; the connection stays open. */
function post($fp, string $head, string $body): bool
{
    if (fwrite($fp, $head . strlen($body) . "\r\n\r\n" . $body) === false) {
        return false;
    }
    $status = fgets($fp);
    $len = 0;
    while (($line = fgets($fp)) !== false && $line !== "\r\n") {
        if (strncasecmp($line, 'Content-Length:', 15) === 0) {
            $len = (int) substr($line, 15);
        }
    }
    $got = 0;
    while ($got < $len && ($chunk = fread($fp, $len - $got)) !== false && $chunk !== '') {
        $got += strlen($chunk);
    }
    return $status !== false && strncmp($status, 'HTTP/1.1 200', 12) === 0;
}

$payload = '{"id":42,"text":"a small message of about sixty-four bytes!!"}';
$one = json_encode(['channel' => 'bench', 'data' => $payload]);
$batch = json_encode(['messages' => array_fill(0, 20, ['channel' => 'bench', 'data' => $payload])]);
$head = "POST /publish HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer $token\r\n"
    . "Content-Type: application/json\r\nContent-Length: ";
$results = [];

$results[] = measure('sse_emit(string, 64 B) (ring)', $n * 5, fn ($i) => sse_emit('bench', $payload), $relay);
ini_set('herald.ack', '1');
$results[] = measure('sse_emit, herald.ack=1', $n, fn ($i) => sse_emit('bench', $payload), $relay);
ini_set('herald.ack', '0');

$fp = stream_socket_client("tcp://127.0.0.1:$port", $errno, $errstr, 1);
stream_set_timeout($fp, 5);
$results[] = measure('POST /publish, keep-alive (PHP stream)', $n, fn ($i) => post($fp, $head, $one), $relay);
$results[] = measure('POST /publish, 20 per body, keep-alive, per msg', intdiv($n, 20), fn ($i) => post($fp, $head, $batch), $relay, 20);
fclose($fp);

if (extension_loaded('curl')) {
    $ch = curl_init("http://127.0.0.1:$port/publish");
    curl_setopt_array($ch, [
        CURLOPT_POST => true,
        CURLOPT_POSTFIELDS => $one,
        CURLOPT_HTTPHEADER => ["Authorization: Bearer $token", 'Content-Type: application/json', 'Expect:'],
        CURLOPT_RETURNTRANSFER => true,
    ]);
    $results[] = measure('POST /publish, keep-alive (ext/curl, one handle)', $n, fn ($i) => curl_exec($ch) !== false && curl_getinfo($ch, CURLINFO_RESPONSE_CODE) === 200, $relay);
}

$results[] = measure('POST /publish, new connection each', intdiv($n, 4), function ($i) use ($port, $head, $one) {
    $fp = stream_socket_client("tcp://127.0.0.1:$port", $errno, $errstr, 1);
    $ok = $fp && post($fp, $head, $one);
    fclose($fp);
    return $ok;
}, $relay);

printf("PHP %s, herald %s, %d calls per row (sse_emit without ack: %d), then 2000 timed one by one\n\n",
    PHP_VERSION, phpversion('herald'), $n, $n * 5);
printf("| %-48s | %9s | %9s | %10s | %9s | %9s | %5s |\n", 'publish, 64 B payload', 'mean ns', 'PHP CPU', 'relay CPU', 'p50 ns', 'p99 ns', 'fail');
printf("|%s|%s|%s|%s|%s|%s|%s|\n", str_repeat('-', 50), str_repeat('-', 11), str_repeat('-', 11), str_repeat('-', 12), str_repeat('-', 11), str_repeat('-', 11), str_repeat('-', 7));
foreach ($results as [$name, $mean, $cpu, $rcpu, $p50, $p99, $fail]) {
    printf("| %-48s | %9.0f | %9.0f | %10.0f | %9.0f | %9.0f | %5d |\n", $name, $mean, $cpu, $rcpu, $p50, $p99, $fail);
}
