<?php
/*
 * The application's /broadcasting/auth: channels defined as in
 * routes/channels.php, a request with channel_name and socket_id, the
 * signed-in user (or none), and Broadcast::auth()'s answer as JSON.
 * From the CLI, one request per stdin line {"channel_name","socket_id",
 * "user":{"id":..,"name":..}|null,"callback"?}, one answer line each
 * ({"status":200,"body":...} or {"status":403}). Under php-fpm: the
 * request itself, the user from the X-Test-User header (JSON).
 */
declare(strict_types=1);

require __DIR__ . '/bootstrap.php';

use Illuminate\Auth\GenericUser;
use Illuminate\Http\JsonResponse;
use Illuminate\Http\Request;
use Symfony\Component\HttpKernel\Exception\HttpException;

function answer(Request $request, ?array $user): array
{
    $app = laravel_app(herald_connection(), $request);
    $request->setUserResolver(static fn () => $user === null ? null : new GenericUser($user));
    $b = broadcast_manager($app);
    // routes/channels.php
    $b->channel('orders.{id}', static fn ($user, $id) => (int) $user->id === (int) $id);
    $b->channel('room.{name}', static fn ($user, $name) => ['name' => $user->name, 'room' => $name]);
    $b->channel('secrets.{id}', static fn ($user, $id) => (int) $user->id === (int) $id);
    $b->channel('App.Models.User.{id}', static fn ($user, $id) => (int) $user->id === (int) $id);
    try {
        $r = $b->auth($request);
    } catch (HttpException $e) {
        return ['status' => $e->getStatusCode()];
    }

    return $r instanceof JsonResponse
        ? ['status' => 200, 'body' => $r->getContent(), 'type' => $r->headers->get('Content-Type')]
        : ['status' => 200, 'body' => json_encode($r, JSON_UNESCAPED_SLASHES)];
}

if (PHP_SAPI === 'cli') {
    while (($line = fgets(STDIN)) !== false) {
        $c = json_decode($line, true, 512, JSON_THROW_ON_ERROR);
        $params = ['channel_name' => $c['channel_name'], 'socket_id' => $c['socket_id']];
        if (isset($c['callback'])) {
            $params['callback'] = $c['callback'];
        }
        echo json_encode(answer(Request::create('/broadcasting/auth', 'POST', $params), $c['user'] ?? null)), "\n";
    }
} else {
    $request = Request::capture();
    $user = $request->header('X-Test-User');
    $a = answer($request, $user ? json_decode($user, true) : null);
    http_response_code($a['status']);
    header('Content-Type: ' . ($a['type'] ?? 'application/json'));
    echo $a['body'] ?? '';
}
