<?php

declare(strict_types=1);

namespace Herald\Laravel;

use Illuminate\Broadcasting\BroadcastManager;
use Illuminate\Support\ServiceProvider;

/**
 * Registers the `herald` broadcasting driver: a connection in
 * config/broadcasting.php with 'driver' => 'herald' (and the keys of
 * Laravel's pusher connection: key, secret, app_id, options) broadcasts
 * through herald-relay. Found by Laravel's package discovery.
 */
class HeraldServiceProvider extends ServiceProvider
{
    public function boot(): void
    {
        $this->app->make(BroadcastManager::class)->extend(
            'herald',
            static fn ($app, array $config): HeraldBroadcaster => HeraldBroadcaster::fromConfig($config)
        );
    }
}
