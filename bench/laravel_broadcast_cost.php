<?php
/* SPDX-License-Identifier: MIT
 * laravel_broadcast_cost.php: what one Laravel broadcast() costs, one row
 * per process (bench/laravel_broadcast_cost.sh runs every row several
 * times, interleaved, and takes medians). The event is the e2e tests'
 * App\Events\OrderShipped (ShouldBroadcastNow, public channel "orders",
 * its public $order the payload), dispatched as broadcast(new ...) does:
 * BroadcastManager::event() and the PendingBroadcast's destructor, through
 * Laravel 8.83's event dispatcher, bus and BroadcastEvent.
 *
 * Rows (--row):
 *   laravel-herald       the herald driver (packages/herald-laravel):
 *                        herald_publish() through the extension; ring or
 *                        socket as herald.ring_bytes says
 *   laravel-pusher       Laravel's own PusherBroadcaster, with
 *                        bench/pusher_client.php as Pusher\Pusher: a signed
 *                        POST /apps/{id}/events with ext/curl, keep-alive,
 *                        to --port (Herald's Pusher HTTP API or soketi's)
 *   bare-herald          herald_publish() of the same payload, no Laravel
 *   bare-pusher          Pusher\Pusher::trigger() of the same payload, no Laravel
 *
 * Prints one JSON line: wall µs per call (mean over --n calls, closed
 * loop), the PHP process's CPU µs per call (getrusage) and the server's
 * (every thread of --server-pid, /proc/PID/task/N/schedstat). */
declare(strict_types=1);

$o = getopt('', ['row:', 'n:', 'port:', 'server-pid:', 'app-id:', 'key:', 'secret:', 'label:']);
$row = $o['row'];
$n = (int) ($o['n'] ?? 20000);
$serverPid = (int) $o['server-pid'];
$conn = [
    'key' => $o['key'] ?? 'bench-key',
    'secret' => $o['secret'] ?? 'bench-secret',
    'app_id' => $o['app-id'] ?? '1',
    'options' => ['host' => '127.0.0.1', 'port' => (int) ($o['port'] ?? 0), 'scheme' => 'http'],
];

$root = dirname(__DIR__);
require "$root/tests/e2e/laravel/bootstrap.php"; /* Laravel's autoloaders and the package's */
require "$root/tests/e2e/laravel/events.php";
require __DIR__ . '/pusher_client.php';

use App\Events\OrderShipped;
use Herald\Laravel\HeraldServiceProvider;
use Illuminate\Broadcasting\BroadcastManager;
use Illuminate\Broadcasting\BroadcastServiceProvider;
use Illuminate\Bus\Dispatcher as Bus;
use Illuminate\Config\Repository;
use Illuminate\Container\Container;
use Illuminate\Contracts\Bus\Dispatcher as BusContract;
use Illuminate\Events\Dispatcher as Events;
use Illuminate\Support\Facades\Facade;

/* An application with both connections of config/broadcasting.php. */
function bench_app(string $default, array $conn): Container
{
    $app = new Container();
    Container::setInstance($app);
    Facade::clearResolvedInstances();
    Facade::setFacadeApplication($app);
    $app->instance('config', new Repository(['broadcasting' => [
        'default' => $default,
        'connections' => ['herald' => ['driver' => 'herald'] + $conn, 'pusher' => ['driver' => 'pusher'] + $conn],
    ]]));
    $app->singleton('events', static fn ($app) => new Events($app));
    $app->singleton(BusContract::class, static fn ($app) => new Bus($app));
    (new BroadcastServiceProvider($app))->register();
    (new HeraldServiceProvider($app))->boot();

    return $app;
}

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

/* About 200 bytes of JSON, an order as an application would send it. */
$order = ['id' => 42, 'status' => 'shipped', 'total' => '129.90', 'currency' => 'EUR',
    'items' => [['sku' => 'A-100', 'qty' => 2], ['sku' => 'B-220', 'qty' => 1]],
    'carrier' => 'DHL', 'tracking' => 'JD014600006281230011', 'eta' => '2026-12-05'];
$channels = ['public:orders'];

switch ($row) {
    case 'laravel-herald':
    case 'laravel-pusher':
        $app = bench_app($row === 'laravel-herald' ? 'herald' : 'pusher', $conn);
        $manager = $app->make(BroadcastManager::class);
        /* broadcast(new OrderShipped(...)): the helper is app(Factory)->event($e);
         * the PendingBroadcast dispatches when the statement ends. */
        $call = static function () use ($manager, $order, $channels): void {
            $manager->event(new OrderShipped($order, $channels));
        };
        break;
    case 'bare-herald':
        $call = static function () use ($order): void {
            if (!herald_publish('orders', ['order' => $order], event: 'App\\Events\\OrderShipped')) {
                throw new RuntimeException(herald_last_error() ?? 'publish failed');
            }
        };
        break;
    case 'bare-pusher':
        $p = new Pusher\Pusher($conn['key'], $conn['secret'], $conn['app_id'], $conn['options']);
        $call = static function () use ($p, $order): void {
            $p->trigger(['orders'], 'App\\Events\\OrderShipped', ['order' => $order]);
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
