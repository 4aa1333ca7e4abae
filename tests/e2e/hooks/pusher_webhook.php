<?php
// The Pusher webhook endpoint of tests/e2e/pusher_webhooks.test.mjs, run by
// php-fpm through the relay's FastCGI pool (pusher_webhook_fastcgi = 1).
// It checks the signature as a Pusher application does (pusher-php-server's
// webhook(): HMAC-SHA256 of the raw body under the app secret, compared in
// constant time) and appends one JSON line per request to webhooks.log:
// what it got (headers and raw body) and its verdict. A body whose first
// event's channel is "fail-500" is answered 500 the first time, so the
// relay must try it again. The relay's own hooks (a presence subscribe
// asks the application) go to the hook script of the other tests.
declare(strict_types=1);

if (isset($_SERVER['HTTP_X_HERALD_SIGNATURE'])) {
    require __DIR__ . '/app.php';
    return;
}

const APP_KEY = 'app-key-1';
const APP_SECRET = 'app-secret-1'; // the tests' app (tests/e2e/lib/pusher_api.mjs)

$body = file_get_contents('php://input');
$key = $_SERVER['HTTP_X_PUSHER_KEY'] ?? '';
$sig = $_SERVER['HTTP_X_PUSHER_SIGNATURE'] ?? '';
$valid = $key === APP_KEY && hash_equals(hash_hmac('sha256', $body, APP_SECRET), $sig);
$line = json_encode([
    'valid' => $valid,
    'key' => $key,
    'signature' => $sig,
    'content_type' => $_SERVER['CONTENT_TYPE'] ?? '',
    'uri' => $_SERVER['REQUEST_URI'] ?? '',
    'body' => $body,
]) . "\n";
file_put_contents(__DIR__ . '/webhooks.log', $line, FILE_APPEND | LOCK_EX);
if (!$valid) {
    http_response_code(401);
    return;
}
$data = json_decode($body, true);
$first = $data['events'][0]['channel'] ?? '';
if ($first === 'fail-500' && !file_exists(__DIR__ . '/failed-once')) {
    touch(__DIR__ . '/failed-once');
    http_response_code(500);
    return;
}
echo 'ok';
