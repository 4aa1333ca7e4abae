<?php
/*
 * symfony/mercure (Debian's php-symfony-mercure, from /usr/share/php) and
 * the bridge (packages/herald-symfony) as an application uses them, one
 * request per stdin line, one answer line each ({"id": ...} or
 * {"error": "Class: message"}):
 *   {"hub":"herald","update":{"topics":[...],"data":"...","private":true,"id":null,"type":null,"retry":null}}
 *   {"hub":"http","update":{...}}     Symfony's own Hub, POSTing to the relay's front
 *   {"cookie":{"subscribe":[...]}}    Authorization::createCookie() through HeraldHub's factory:
 *                                     {"name","value","path","httpOnly"}
 * The environment names the hub: MERCURE_URL, MERCURE_JWT (the publisher
 * JWT of the HTTP hub), MERCURE_JWT_SECRET (the factory's key).
 */
declare(strict_types=1);

require 'Symfony/Component/Mercure/autoload.php';
spl_autoload_register(function (string $class): void {
    $prefix = 'Herald\\Mercure\\';
    if (str_starts_with($class, $prefix)) {
        require __DIR__ . '/../../../packages/herald-symfony/src/' . substr($class, strlen($prefix)) . '.php';
    }
});

use Herald\Mercure\HeraldHub;
use Herald\Mercure\Hs256TokenFactory;
use Symfony\Component\HttpFoundation\Request;
use Symfony\Component\Mercure\Authorization;
use Symfony\Component\Mercure\Hub;
use Symfony\Component\Mercure\HubRegistry;
use Symfony\Component\Mercure\Jwt\StaticTokenProvider;
use Symfony\Component\Mercure\Update;

$url = getenv('MERCURE_URL') ?: 'http://127.0.0.1/.well-known/mercure';
$factory = new Hs256TokenFactory(getenv('MERCURE_JWT_SECRET') ?: 'unset-secret-unset-secret-unset!');
$hubs = [
    'herald' => new HeraldHub($url, null, $factory),
    'http' => new Hub($url, new StaticTokenProvider(getenv('MERCURE_JWT') ?: 'a.b.c')),
];

while (($line = fgets(STDIN)) !== false) {
    $c = json_decode($line, true, 512, JSON_THROW_ON_ERROR);
    try {
        if (isset($c['cookie'])) {
            $auth = new Authorization(new HubRegistry($hubs['herald']), 600);
            $cookie = $auth->createCookie(Request::create('http://127.0.0.1/page'), $c['cookie']['subscribe'] ?? [], []);
            echo json_encode(['name' => $cookie->getName(), 'value' => $cookie->getValue(), 'path' => $cookie->getPath(),
                'httpOnly' => $cookie->isHttpOnly()]), "\n";
            continue;
        }
        $u = $c['update'];
        $update = new Update($u['topics'], $u['data'] ?? '', $u['private'] ?? false, $u['id'] ?? null, $u['type'] ?? null,
            $u['retry'] ?? null);
        echo json_encode(['id' => $hubs[$c['hub']]->publish($update)]), "\n";
    } catch (Throwable $e) {
        echo json_encode(['error' => get_class($e) . ': ' . $e->getMessage()]), "\n";
    }
}
