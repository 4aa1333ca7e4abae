<?php
/* SPDX-License-Identifier: MIT
 * php_publish_cost.php: what one sse_emit() call costs the PHP process, against
 * a running relay, next to a bare fwrite() of a frame on a persistent Unix
 * socket and, when ext/redis is loaded and a Redis socket is given, phpredis
 * publish(); and the same calls with herald.batch=1 (buffered, written 64 KiB
 * at a time or at herald_flush()). A benchmark, not a test: it prints figures
 * and asserts nothing.
 *
 *   php -n -d extension=build/herald.so bench/php_publish_cost.php \
 *       --socket=/tmp/herald.sock [--n=200000] [--redis=/path/redis.sock]
 *
 * bench/php_publish_cost.sh starts a relay (and Redis) and runs this. */

$opt = getopt('', ['socket:', 'n:', 'redis:']);
$socket = $opt['socket'] ?? '/tmp/herald.sock';
$n = (int) ($opt['n'] ?? 200000);
ini_set('herald.socket', $socket);
ini_set('herald.timeout_ms', '1000');

/* The same small msgpack frame a relay accepts, packed here for fwrite(). */
function mp_str(string $s): string
{
    $l = strlen($s);
    return ($l < 32 ? chr(0xa0 | $l) : ($l < 256 ? "\xd9" . chr($l) : "\xda" . pack('n', $l))) . $s;
}
function raw_frame(string $ch, string $data): string
{
    return "\x84" . mp_str('op') . mp_str('pub') . mp_str('t') . mp_str('sse')
        . mp_str('ch') . mp_str($ch) . mp_str('data') . mp_str($data);
}

/* Mean over $n calls (one clock read around the loop) and the CPU time the
 * process spent in them (user + system, getrusage()), then the distribution
 * over 20000 individually timed calls. The wall mean also counts waiting for
 * a relay that reads slower than PHP writes (a full socket buffer); the CPU
 * mean is what the calls cost the PHP process itself. */
function cpu_ns(): float
{
    $r = getrusage();
    return ($r['ru_utime.tv_sec'] + $r['ru_stime.tv_sec']) * 1e9 + ($r['ru_utime.tv_usec'] + $r['ru_stime.tv_usec']) * 1e3;
}

function measure(string $name, int $n, callable $call, int $per = 1): array
{
    for ($i = 0; $i < 1000; $i++) {
        $call($i);   /* warm up: connect, caches */
    }
    $fail = 0;
    $c0 = cpu_ns();
    $t0 = hrtime(true);
    for ($i = 0; $i < $n; $i++) {
        if (!$call($i)) {
            $fail++;
        }
    }
    $mean = (hrtime(true) - $t0) / $n / $per;
    $cpu = (cpu_ns() - $c0) / $n / $per;
    $samples = [];
    for ($i = 0; $i < intdiv(20000, $per); $i++) {
        $t = hrtime(true);
        $call($i);
        $samples[] = (hrtime(true) - $t) / $per;
    }
    sort($samples);
    $q = fn (float $p) => $samples[(int) floor($p * (count($samples) - 1))];
    return [$name, $mean, $cpu, $q(0.5), $q(0.99), $q(0.999), $fail];
}

$payload = '{"id":42,"text":"a small message of about sixty-four bytes!!"}';
$row = ['id' => 42, 'user' => 'ana', 'text' => 'a small message', 'tags' => ['a', 'b'], 'ok' => true];
$results = [];

/* Validation and encoding alone: herald.enabled=0 does everything but I/O. */
ini_set('herald.enabled', '0');
$results[] = measure('sse_emit(string, 64 B), enabled=0: no I/O', $n, fn ($i) => !sse_emit('bench', $payload));
$results[] = measure('sse_emit(array -> JSON), enabled=0', $n, fn ($i) => !sse_emit('bench', $row));
ini_set('herald.enabled', '1');
$results[] = measure('sse_emit(string, 64 B)', $n, fn ($i) => sse_emit('bench', $payload));
$results[] = measure('sse_emit(array -> JSON)', $n, fn ($i) => sse_emit('bench', $row));
$results[] = measure('sse_emit(3 channels, 64 B)', $n, fn ($i) => sse_emit(['bench', 'b2', 'b3'], $payload));
$results[] = measure('ws_publish(binary, 64 B)', $n, fn ($i) => ws_publish('bench', $payload, true));
/* Batching: calls buffer, a write goes out whenever 64 KiB (herald.batch_bytes)
 * are buffered; the mean includes those writes, the percentiles show both. */
ini_set('herald.batch', '1');
$results[] = measure('sse_emit(string, 64 B), herald.batch=1', $n, fn ($i) => sse_emit('bench', $payload));
$results[] = measure('sse_emit(array -> JSON), herald.batch=1', $n, fn ($i) => sse_emit('bench', $row));
$results[] = measure('ws_publish(binary, 64 B), herald.batch=1', $n, fn ($i) => ws_publish('bench', $payload, true));
/* A request that publishes 20 messages and then flushes (or ends): the whole
 * of it, divided by 20. */
$results[] = measure('20 x sse_emit(string) + herald_flush(), per call', intdiv($n, 20), function ($i) use ($payload) {
    for ($k = 0; $k < 20; $k++) {
        sse_emit('bench', $payload);
    }
    return herald_flush();
}, 20);
herald_flush();
ini_set('herald.batch', '0');
ini_set('herald.ack', '1');
$results[] = measure('sse_emit, herald.ack=1', intdiv($n, 10), fn ($i) => sse_emit('bench', $payload));
ini_set('herald.ack', '0');

$fp = stream_socket_client("unix://$socket", $errno, $errstr, 1, STREAM_CLIENT_CONNECT | STREAM_CLIENT_PERSISTENT);
if ($fp) {
    $frame = raw_frame('bench', $payload);
    $results[] = measure('fwrite(prebuilt frame), persistent', $n, fn ($i) => fwrite($fp, $frame) === strlen($frame));
}

if (isset($opt['redis']) && extension_loaded('redis')) {
    $redis = new Redis();
    $redis->pconnect($opt['redis']);
    $results[] = measure('phpredis publish(64 B), unix socket', $n, fn ($i) => $redis->publish('bench', $payload) !== false);
}

printf("PHP %s, herald %s, %d calls per row (ack: %d), then 20000 timed one by one\n\n",
    PHP_VERSION, phpversion('herald'), $n, intdiv($n, 10));
printf("| %-48s | %10s | %9s | %9s | %9s | %9s | %5s |\n", 'call', 'mean ns', 'CPU ns', 'p50 ns', 'p99 ns', 'p99.9 ns', 'false');
printf("|%s|%s|%s|%s|%s|%s|%s|\n", str_repeat('-', 50), str_repeat('-', 12), str_repeat('-', 11), str_repeat('-', 11), str_repeat('-', 11), str_repeat('-', 11), str_repeat('-', 7));
foreach ($results as [$name, $mean, $cpu, $p50, $p99, $p999, $fail]) {
    printf("| %-48s | %10.0f | %9.0f | %9.0f | %9.0f | %9.0f | %5d |\n", $name, $mean, $cpu, $p50, $p99, $p999, $fail);
}
