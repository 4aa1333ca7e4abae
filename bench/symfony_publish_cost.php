<?php
/* SPDX-License-Identifier: MIT
 * symfony_publish_cost.php: what one $hub->publish(new Update(...)) costs,
 * one row per process (bench/symfony_publish_cost.sh runs every row several
 * times, interleaved, and takes medians). symfony/mercure is Debian's
 * php-symfony-mercure (0.6.3), from /usr/share/php.
 *
 * Rows (--row):
 *   symfony-herald   HeraldHub (packages/herald-symfony): herald_mercure_publish()
 *                    through the extension; ring or socket as herald.ring_bytes says
 *   symfony-http     Symfony's own Hub with a StaticTokenProvider: a form POST to
 *                    the relay's /.well-known/mercure (--url), HttpClient::create()
 *                    (curl, keep-alive), waiting for the answer (the id) as Hub does
 *   bare-herald      herald_mercure_publish() of the same update, no Symfony
 *
 * Prints one JSON line: wall µs per call (mean over --n calls, closed loop),
 * the PHP process's CPU µs per call (getrusage) and the relay's (every
 * thread of --server-pid, /proc/PID/task/N/schedstat). */
declare(strict_types=1);

$o = getopt('', ['row:', 'n:', 'url:', 'jwt:', 'server-pid:', 'label:']);
$row = $o['row'];
$n = (int) ($o['n'] ?? 20000);
$serverPid = (int) $o['server-pid'];

require 'Symfony/Component/Mercure/autoload.php';
require dirname(__DIR__) . '/packages/herald-symfony/src/HeraldHub.php';

use Herald\Mercure\HeraldHub;
use Symfony\Component\Mercure\Hub;
use Symfony\Component\Mercure\Jwt\StaticTokenProvider;
use Symfony\Component\Mercure\Update;

function cpu_ns(): float
{
    $r = getrusage();

    return ($r['ru_utime.tv_sec'] + $r['ru_stime.tv_sec']) * 1e9 + ($r['ru_utime.tv_usec'] + $r['ru_stime.tv_usec']) * 1e3;
}

function server_ns(int $pid): float
{
    $t = 0.0;
    foreach (glob("/proc/$pid/task/*/schedstat") as $f) {
        $s = @file_get_contents($f);
        if ($s !== false) {
            $t += (float) explode(' ', $s)[0];
        }
    }

    return $t;
}

/* About 200 bytes of JSON, as an API Platform resource update would be. */
$topic = 'https://example.com/orders/42';
$data = json_encode(['@id' => '/orders/42', 'status' => 'shipped', 'total' => '129.90', 'currency' => 'EUR',
    'items' => [['sku' => 'A-100', 'qty' => 2], ['sku' => 'B-220', 'qty' => 1]],
    'carrier' => 'DHL', 'tracking' => 'JD014600006281230011', 'eta' => '2026-12-05']);

switch ($row) {
    case 'symfony-herald':
    case 'symfony-http':
        $hub = $row === 'symfony-herald'
            ? new HeraldHub($o['url'])
            : new Hub($o['url'], new StaticTokenProvider($o['jwt']));
        $call = static function () use ($hub, $topic, $data): void {
            $hub->publish(new Update($topic, $data));
        };
        break;
    case 'bare-herald':
        $call = static function () use ($topic, $data): void {
            if (herald_mercure_publish($topic, $data) === false) {
                throw new RuntimeException(herald_last_error() ?? 'publish failed');
            }
        };
        break;
    default:
        fwrite(STDERR, "unknown row $row\n");
        exit(2);
}

for ($i = 0; $i < 200; $i++) {
    $call(); /* warm up: connections, autoloading, caches */
}
$c0 = cpu_ns();
$s0 = server_ns($serverPid);
$t0 = hrtime(true);
for ($i = 0; $i < $n; $i++) {
    $call();
}
$wall = (hrtime(true) - $t0) / 1e3 / $n;
$cpu = (cpu_ns() - $c0) / 1e3 / $n;
$srv = (server_ns($serverPid) - $s0) / 1e3 / $n;
echo json_encode([
    'label' => $o['label'] ?? $row, 'n' => $n, 'us_per_call' => round($wall, 3),
    'php_cpu_us' => round($cpu, 3), 'server_cpu_us' => round($srv, 3),
    'ring_bytes' => ini_get('herald.ring_bytes'),
]), "\n";
