<?php
/*
 * Broadcasts events the way an application does, one request per stdin
 * line, one answer line each ({"ok":true} or {"error":"Class: message"}):
 *   {"event":"OrderShipped","order":{...},"on":["private:orders.7"]}
 *   {"event":"Notice","as":"notice","with":{...},"on":[...]}
 * plus "toOthers": true (Laravel's broadcast(...)->toOthers()) and
 * "socketHeader": the request's X-Socket-ID. Without toOthers the event
 * is dispatched (event(new OrderShipped(...))), as Laravel does.
 */
declare(strict_types=1);

require __DIR__ . '/bootstrap.php';
require __DIR__ . '/events.php';

use App\Events\Notice;
use App\Events\OrderShipped;
use Illuminate\Http\Request;

while (($line = fgets(STDIN)) !== false) {
    $c = json_decode($line, true, 512, JSON_THROW_ON_ERROR);
    $server = isset($c['socketHeader']) ? ['HTTP_X_SOCKET_ID' => $c['socketHeader']] : [];
    $app = laravel_app(herald_connection(), Request::create('/orders', 'POST', [], [], [], $server));
    try {
        $event = match ($c['event']) {
            'OrderShipped' => new OrderShipped($c['order'], $c['on']),
            'Notice' => new Notice($c['as'], $c['with'], $c['on']),
        };
        if (!empty($c['toOthers'])) {
            // broadcast(new OrderShipped(...))->toOthers(): the pending
            // broadcast dispatches when it is destroyed, at the statement's end.
            broadcast_manager($app)->event($event)->toOthers();
        } else {
            $app['events']->dispatch($event);
        }
        echo json_encode(['ok' => true]), "\n";
    } catch (Throwable $e) {
        echo json_encode(['error' => get_class($e) . ': ' . $e->getMessage()]), "\n";
    }
}
