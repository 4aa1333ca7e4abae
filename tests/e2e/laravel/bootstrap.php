<?php
/*
 * A Laravel application as small as the broadcaster needs, on Debian's
 * php-laravel-framework (its autoloaders, never Composer's): a container
 * with the config repository, the event dispatcher, the bus, Laravel's own
 * BroadcastServiceProvider and the package's HeraldServiceProvider. The
 * broadcasting config is the `herald` connection an application would
 * write in config/broadcasting.php.
 */
declare(strict_types=1);

use Herald\Laravel\HeraldServiceProvider;
use Illuminate\Broadcasting\BroadcastManager;
use Illuminate\Broadcasting\BroadcastServiceProvider;
use Illuminate\Bus\Dispatcher as Bus;
use Illuminate\Config\Repository;
use Illuminate\Container\Container;
use Illuminate\Contracts\Bus\Dispatcher as BusContract;
use Illuminate\Events\Dispatcher as Events;
use Illuminate\Http\Request;
use Illuminate\Support\Facades\Facade;

foreach (['Support', 'Container', 'Config', 'Events', 'Bus', 'Broadcasting', 'Http', 'Auth'] as $component) {
    require_once "/usr/share/php/Illuminate/$component/autoload.php";
}
spl_autoload_register(static function (string $class): void {
    $prefix = 'Herald\\Laravel\\';
    if (str_starts_with($class, $prefix)) {
        require dirname(__DIR__, 3) . '/packages/herald-laravel/src/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
    }
});

/** @param array<string, mixed> $connection the broadcasting.connections.herald entry */
function laravel_app(array $connection, ?Request $request = null): Container
{
    $app = new Container();
    Container::setInstance($app);
    Facade::clearResolvedInstances();
    Facade::setFacadeApplication($app);
    $app->instance('config', new Repository([
        'broadcasting' => ['default' => 'herald', 'connections' => ['herald' => ['driver' => 'herald'] + $connection]],
    ]));
    $app->singleton('events', static fn ($app) => new Events($app));
    $app->singleton(BusContract::class, static fn ($app) => new Bus($app));
    if ($request !== null) {
        $app->instance('request', $request);
    }
    (new BroadcastServiceProvider($app))->register();
    (new HeraldServiceProvider($app))->boot();

    return $app;
}

/** The connection the tests use, from the environment the test sets (under php-fpm: FastCGI params). */
function herald_connection(): array
{
    $options = [];
    if (getenv('HERALD_MASTER_KEY')) {
        $options['encryption_master_key_base64'] = getenv('HERALD_MASTER_KEY');
    }

    return [
        'key' => getenv('HERALD_PUSHER_KEY') ?: 'herald-key',
        'secret' => getenv('HERALD_PUSHER_SECRET') ?: 'herald-secret',
        'app_id' => getenv('HERALD_PUSHER_APP_ID') ?: '1',
        'options' => $options,
        'jsonp' => (bool) getenv('HERALD_JSONP'),
    ];
}

function broadcast_manager(Container $app): BroadcastManager
{
    return $app->make(BroadcastManager::class);
}
