<?php
/* SPDX-License-Identifier: MIT
 * pusher_publish.php: the publisher of bench/pusher_bench.sh. Sends --count
 * events named "bench" to channel --channel as fast as it can (closed loop),
 * each data a string that starts with hrtime(true) and a space (the clock
 * bench/loadgen.c reads), padded to --size bytes, either
 *   --via=api  through a Pusher HTTP API (POST /apps/{id}/events, signed as
 *              pusher-php-server signs, ext/curl keep-alive: bench/pusher_client.php)
 *              on --port: Herald's or soketi's, the same code for both
 *   --via=ext  through the herald extension's herald_publish() (herald.socket)
 *
 *   php -d extension=build/herald.so bench/pusher_publish.php --via=api --port=P \
 *       --app-id=1 --key=K --secret=S [--count=200] [--size=100] [--channel=bench] */
require __DIR__ . '/pusher_client.php';
$o = getopt('', ['via:', 'port:', 'app-id:', 'key:', 'secret:', 'count:', 'size:', 'channel:']);
$count = (int) ($o['count'] ?? 200);
$size = (int) ($o['size'] ?? 100);
$channel = $o['channel'] ?? 'bench';
$pad = str_repeat('x', $size);
if (($o['via'] ?? 'api') === 'api') {
    $p = new Pusher\Pusher($o['key'], $o['secret'], $o['app-id'], ['host' => '127.0.0.1', 'port' => (int) $o['port']]);
    $send = static fn (string $data) => (bool) $p->trigger([$channel], 'bench', $data, [], true);
} else {
    $send = static fn (string $data) => herald_publish($channel, $data, event: 'bench');
}
$fail = 0;
$t0 = hrtime(true);
for ($i = 0; $i < $count; $i++) {
    $ts = hrtime(true) . ' ';
    if (!$send($ts . substr($pad, strlen($ts)))) {
        $fail++;
    }
}
fprintf(STDERR, "pusher_publish.php: %d events in %.3f s, %d failed\n", $count, (hrtime(true) - $t0) / 1e9, $fail);
exit($fail ? 1 : 0);
