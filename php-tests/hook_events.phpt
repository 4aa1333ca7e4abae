--TEST--
herald_hook_events() in a hook script (PHP's built-in server, php -S): a signed request's events; UnexpectedValueException for no secret, no signature, a malformed or wrong one, a body that is not JSON, not version 1, or whose events are not a list
--EXTENSIONS--
herald
--SKIPIF--
<?php
if (!preg_match('~\s(/\S*herald\.so)$~m', (string) @file_get_contents('/proc/self/maps'))) die('skip the loaded herald.so is not found in /proc/self/maps');
?>
--FILE--
<?php
require __DIR__ . '/inc/real_relay.inc';   /* free_port(), scratch_dir() */

/* No secret here (herald.secret is not set in this process): refused first. */
try {
    herald_hook_events();
} catch (UnexpectedValueException $e) {
    echo $e->getMessage(), "\n";
}

/* A hook script under php -S, with this very extension and a secret. */
$secret = 'hook-secret-0123456789';
$dir = scratch_dir('hook-events');
file_put_contents("$dir/hooks.php", <<<'PHP'
<?php
try {
    $results = [];
    foreach (herald_hook_events() as $e) {
        $results[] = ['id' => $e['id'], 'ok' => true, 'type' => $e['type']];
    }
    echo json_encode(['results' => $results]);
} catch (UnexpectedValueException $e) {
    http_response_code(400);
    echo get_class($e), ': ', $e->getMessage();
}
PHP);
preg_match('~\s(/\S*herald\.so)$~m', file_get_contents('/proc/self/maps'), $m);
$port = free_port();
$php = getenv('TEST_PHP_EXECUTABLE') ?: PHP_BINARY;
$proc = proc_open([$php, '-n', '-d', "extension=$m[1]", '-d', "herald.secret=$secret", '-S', "127.0.0.1:$port",
    "$dir/hooks.php"], [0 => ['file', '/dev/null', 'r'], 1 => ['file', "$dir/server.log", 'w'],
    2 => ['file', "$dir/server.log", 'a']], $pipes);
/* Ready once it accepts (no event tells: poll, with a deadline to fail rather than hang). */
for ($end = hrtime(true) + 30e9; !($c = @stream_socket_client("tcp://127.0.0.1:$port")) && hrtime(true) < $end;) {
    usleep(2000);
}
fclose($c);

function post(int $port, string $body, ?string $signature): string
{
    $headers = "Content-Type: application/json\r\n";
    if ($signature !== null) {
        $headers .= "X-Herald-Signature: $signature\r\n";
    }
    $ctx = stream_context_create(['http' => ['method' => 'POST', 'header' => $headers, 'content' => $body,
        'ignore_errors' => true]]);
    return file_get_contents("http://127.0.0.1:$port/herald/hooks", false, $ctx);
}
$sign = fn (string $body, string $key) => 'sha256=' . hash_hmac('sha256', $body, $key);

$body = json_encode(['v' => 1, 'events' => [
    ['id' => 1, 'type' => 'connect', 'conn' => '0a1b2c3d.1', 'user' => null, 'headers' => ['cookie' => 'sid=abc'],
        'transport' => 'herald.v1', 'ip' => '127.0.0.1'],
    ['id' => 2, 'type' => 'message', 'conn' => '0a1b2c3d.1', 'user' => 'alice', 'data' => ['text' => 'hi']],
]]);
echo post($port, $body, $sign($body, $secret)), "\n";
echo post($port, $body, 'sha256=' . strtoupper(hash_hmac('sha256', $body, $secret))) === post($port, $body, $sign($body, $secret))
    ? "upper-case hex: the same\n" : "upper-case hex: differs\n";
echo post($port, '{"v":1,"events":[]}', $sign('{"v":1,"events":[]}', $secret)), "\n";
echo post($port, $body, $sign($body, 'another-secret-0123456789')), "\n";
echo post($port, $body . ' ', $sign($body, $secret)), "\n";
echo post($port, $body, null), "\n";
echo post($port, $body, 'sha256=xyz'), "\n";
echo post($port, $body, 'sha1=' . hash_hmac('sha1', $body, $secret)), "\n";
foreach (['garbage', '{"v":2,"events":[]}', '{"events":[]}', '{"v":1,"events":{"a":{}}}', '{"v":1,"events":[1]}', '[1]'] as $b) {
    echo post($port, $b, $sign($b, $secret)), "\n";
}
proc_terminate($proc);
proc_close($proc);
?>
--EXPECT--
herald_hook_events(): herald.secret is not set (it must be the relay's secret, at least 16 bytes)
{"results":[{"id":1,"ok":true,"type":"connect"},{"id":2,"ok":true,"type":"message"}]}
upper-case hex: the same
{"results":[]}
UnexpectedValueException: herald_hook_events(): wrong signature (herald.secret is not the relay's secret, or the body was changed)
UnexpectedValueException: herald_hook_events(): wrong signature (herald.secret is not the relay's secret, or the body was changed)
UnexpectedValueException: herald_hook_events(): the request has no X-Herald-Signature header (is it a hook request from the relay?)
UnexpectedValueException: herald_hook_events(): malformed X-Herald-Signature header (expected sha256=<64 hex digits>)
UnexpectedValueException: herald_hook_events(): malformed X-Herald-Signature header (expected sha256=<64 hex digits>)
UnexpectedValueException: herald_hook_events(): the body is not JSON (Syntax error)
UnexpectedValueException: herald_hook_events(): the body is not a version 1 hook request ({"v":1,"events":[...]})
UnexpectedValueException: herald_hook_events(): the body is not a version 1 hook request ({"v":1,"events":[...]})
UnexpectedValueException: herald_hook_events(): "events" is not a list of objects
UnexpectedValueException: herald_hook_events(): "events" is not a list of objects
UnexpectedValueException: herald_hook_events(): the body is not a version 1 hook request ({"v":1,"events":[...]})
