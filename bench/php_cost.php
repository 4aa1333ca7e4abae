<?php
/* SPDX-License-Identifier: MIT
 * php_cost.php: the PHP-side cost of one publish, measured in one process,
 * for bench/run.sh (bench/php_cost.sh starts the servers): sse_emit() to a
 * Herald relay, phpredis publish() to a local redis-server, curl POST with
 * keep-alive to nginx + nchan, and two floors: a bare fwrite() of a prebuilt
 * frame on a persistent Unix socket, and 100 prebuilt frames in one fwrite()
 * (what a worker-side batching mode could approach), per frame.
 * Prints one JSON object per row: mean (ns) over --n calls, then p50/p99 of
 * 20,000 individually timed calls. */
$o = getopt('', ['socket:', 'n:', 'redis-tcp:', 'redis-unix:', 'nchan:']);
$socket = $o['socket'];
$n = (int) ($o['n'] ?? 100000);
ini_set('herald.socket', $socket);
ini_set('herald.timeout_ms', '5000');

function payload(): string
{
    $ts = hrtime(true) . ' ';
    return $ts . str_repeat('x', 100 - strlen($ts));
}
function mp_str(string $s): string
{
    $l = strlen($s);
    return ($l < 32 ? chr(0xa0 | $l) : ($l < 256 ? "\xd9" . chr($l) : "\xda" . pack('n', $l))) . $s;
}
function measure(string $name, int $n, callable $call, int $per = 1): void
{
    for ($i = 0; $i < 2000; $i++) {
        $call($i);
    }
    $fail = 0;
    $t0 = hrtime(true);
    for ($i = 0; $i < $n; $i++) {
        if (!$call($i)) {
            $fail++;
        }
    }
    $mean = (hrtime(true) - $t0) / $n / $per;
    $s = [];
    for ($i = 0; $i < 20000; $i++) {
        $t = hrtime(true);
        $call($i);
        $s[] = (hrtime(true) - $t) / $per;
    }
    sort($s);
    echo json_encode(['row' => $name, 'n' => $n * $per, 'mean_ns' => round($mean),
        'p50_ns' => $s[10000], 'p99_ns' => $s[19800], 'failed' => $fail]), "\n";
}

measure('sse_emit()', $n, fn ($i) => sse_emit('c0', payload()));
measure('ws_publish()', $n, fn ($i) => ws_publish('c0', payload()));
/* herald.batch=1: buffered calls, written 64 KiB at a time; and a request
 * of 20 publishes and herald_flush(), per call. */
ini_set('herald.batch', '1');
measure('sse_emit(), herald.batch=1', $n, fn ($i) => sse_emit('c0', payload()));
measure('20 sse_emit() + herald_flush(), herald.batch=1, per call', intdiv($n, 20), function ($i) {
    for ($k = 0; $k < 20; $k++) {
        sse_emit('c0', payload());
    }
    return herald_flush();
}, 20);
herald_flush();
ini_set('herald.batch', '0');

if (isset($o['redis-tcp']) && extension_loaded('redis')) {
    $r = new Redis();
    $r->pconnect('127.0.0.1', (int) $o['redis-tcp']);
    measure('phpredis publish(), TCP loopback', $n, fn ($i) => $r->publish('c0', payload()) !== false);
}
if (isset($o['redis-unix']) && extension_loaded('redis')) {
    $ru = new Redis();
    $ru->pconnect($o['redis-unix']);
    measure('phpredis publish(), Unix socket', $n, fn ($i) => $ru->publish('c0', payload()) !== false);
}
if (isset($o['nchan']) && extension_loaded('curl')) {
    $ch = curl_init($o['nchan']);
    curl_setopt_array($ch, [CURLOPT_POST => true, CURLOPT_RETURNTRANSFER => true,
        CURLOPT_HTTPHEADER => ['Content-Type: text/plain', 'Expect:']]);
    measure('curl POST to nchan, keep-alive', intdiv($n, 4), function ($i) use ($ch) {
        curl_setopt($ch, CURLOPT_POSTFIELDS, payload());
        curl_exec($ch);
        return curl_getinfo($ch, CURLINFO_RESPONSE_CODE) < 300;
    });
}

$fp = stream_socket_client("unix://$socket", $errno, $errstr, 1,
    STREAM_CLIENT_CONNECT | STREAM_CLIENT_PERSISTENT);
$frame = fn () => "\x85" . mp_str('op') . mp_str('pub') . mp_str('t') . mp_str('sse')
    . mp_str('ch') . mp_str('c0') . mp_str('data') . mp_str(payload())
    . mp_str('ts') . "\xcf" . pack('J', hrtime(true));
if ($fp) {
    measure('floor: fwrite() of a prebuilt frame', $n, function ($i) use ($fp, $frame) {
        static $f;
        $f ??= $frame();
        return fwrite($fp, $f) === strlen($f);
    });
    $batch = str_repeat($frame(), 100);
    measure('floor: 100 prebuilt frames in one fwrite(), per frame', intdiv($n, 100),
        fn ($i) => fwrite($fp, $batch) === strlen($batch), 100);
}
