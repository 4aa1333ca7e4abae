<?php
/* SPDX-License-Identifier: MIT
 * publish.php: one Herald publisher process for bench/run.sh. Sends --count
 * messages through sse_emit() (or ws_publish() with --t=ws), message i to
 * channel "c" . (i % channels), at --rate messages per second or as fast as
 * it can (--rate=0). Each payload starts with hrtime(true) (CLOCK_MONOTONIC
 * in ns, the clock bench/loadgen.c reads) and a space, padded to --size.
 *
 *   php -d extension=build/herald.so bench/publish.php --socket=S \
 *       --count=N [--rate=R] [--size=100] [--channels=1] [--first=0] [--t=sse|ws]
 */
$o = getopt('', ['socket:', 'count:', 'rate:', 'size:', 'channels:', 'first:', 't:']);
ini_set('herald.socket', $o['socket'] ?? '/tmp/herald.sock');
ini_set('herald.timeout_ms', '5000');
$count = (int) ($o['count'] ?? 1000);
$rate = (float) ($o['rate'] ?? 0);
$size = (int) ($o['size'] ?? 100);
$chans = max(1, (int) ($o['channels'] ?? 1));
$first = (int) ($o['first'] ?? 0);
$ws = ($o['t'] ?? 'sse') === 'ws';
$pad = str_repeat('x', $size);
$names = [];
for ($c = 0; $c < $chans; $c++) {
    $names[] = 'c' . $c;
}
$fail = 0;
$start = hrtime(true);
for ($i = 0; $i < $count; $i++) {
    if ($rate > 0) {
        $at = $start + (int) ($i * 1e9 / $rate);
        $wait = $at - hrtime(true);
        if ($wait > 0) {
            time_nanosleep(intdiv($wait, 1000000000), $wait % 1000000000);
        }
    }
    $ts = hrtime(true) . ' ';
    $payload = $ts . substr($pad, strlen($ts));
    $ch = $names[($first + $i) % $chans];
    $ok = $ws ? ws_publish($ch, $payload) : sse_emit($ch, $payload);
    if (!$ok) {
        $fail++;
    }
}
$s = (hrtime(true) - $start) / 1e9;
fprintf(STDERR, "publish.php: %d messages in %.3f s, %d failed%s\n", $count, $s, $fail,
    $fail ? ': ' . herald_last_error() : '');
exit($fail ? 1 : 0);
