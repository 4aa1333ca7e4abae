<?php
// The hook script of the e2e tests (tests/e2e/hooks_*.test.mjs). Every event
// is appended to events.log next to this file (one JSON line, with the
// worker's pid and the request's event count) before anything else, so the
// tests see what the application received and in which order. A message's
// data {"do": ...} picks a behaviour; anything else is echoed back.
declare(strict_types=1);

try {
    $events = herald_hook_events();
} catch (UnexpectedValueException $x) {
    http_response_code(403);
    echo 'bad signature: ', $x->getMessage();
    return;
}

$lines = '';
foreach ($events as $e) {
    $lines .= json_encode($e + ['pid' => getmypid(), 'batch' => count($events)]) . "\n";
}
file_put_contents(__DIR__ . '/events.log', $lines, FILE_APPEND | LOCK_EX);

/* The session: a cookie "user=<name>" names the user. */
function cookie_user(array $headers): ?string
{
    return preg_match('/(?:^|;\s*)user=([A-Za-z0-9_]+)/', $headers['cookie'] ?? '', $m) ? $m[1] : null;
}

/* Hold this worker until the test creates <gate>.go (a bound in case it never does). */
function block(string $gate): void
{
    touch(__DIR__ . "/$gate.started");
    for ($i = 0; $i < 6000 && !file_exists(__DIR__ . "/$gate.go"); $i++) {
        usleep(10000);
        clearstatcache();
    }
}

function on_message(array $e): array
{
    $d = $e['data'];
    $ok = ['id' => $e['id'], 'ok' => true];
    switch (is_array($d) ? ($d['do'] ?? 'echo') : 'echo') {
        case 'chat':
            return $ok + ['reply' => herald_publish($e['channel'], ['from' => $e['user'], 'text' => $d['text']])];
        case 'block':
            block($d['gate']);
            return $ok + ['reply' => 'unblocked'];
        case 'throw':
            throw new RuntimeException('a hook that fails');
        case 'garbage':
            echo '<html>this is not JSON</html>';
            exit;
        case 'exit':
            exit;
        case 'deny':
            return ['id' => $e['id'], 'ok' => false, 'error' => 'denied by the application'];
        case 'close':
            return $ok + ['reply' => 'bye', 'close' => true];
        case 'send':
            $r = herald_send($d['conn'], $d['data']);
            return $ok + ['reply' => $r ? true : herald_last_error()];
        case 'to_others':
            // The sender's message to its channel, not back to it (except).
            $r = herald_publish($e['channel'], $d['data'], $d['event'] ?? null, $e['conn']);
            return $ok + ['reply' => $r ? true : herald_last_error()];
        case 'send_user':
            $r = herald_send_user($d['user'], $d['data']);
            return $ok + ['reply' => $r ? true : herald_last_error()];
        case 'presence':
            $m = herald_presence($d['channel']);
            return $ok + ['reply' => $m ?? ['error' => herald_last_error()]];
        case 'log':
            return $ok + ['reply' => $d['i']];
        default:
            return $ok + ['reply' => ['echo' => $d, 'user' => $e['user'], 'conn' => $e['conn'], 'channel' => $e['channel'] ?? null]];
    }
}

$results = [];
foreach ($events as $e) {
    $r = ['id' => $e['id'], 'ok' => true];
    switch ($e['type']) {
        case 'connect':
            $user = cookie_user($e['headers'] ?? []);
            if ($user === 'blocked') {
                $r = ['id' => $e['id'], 'ok' => false, 'error' => 'blocked by the application'];
            } elseif ($user === 'baduser') {
                $r['user'] = 'not a user name!'; // outside the channel alphabet
            } elseif ($user !== null) {
                $r['user'] = $user;
            }
            break;
        case 'subscribe':
            $ch = $e['channel'];
            if (str_contains($ch, 'forbidden')) {
                $r = ['id' => $e['id'], 'ok' => false, 'error' => 'not for you'];
            } elseif ($e['user'] === null && (str_starts_with($ch, 'private-') || str_starts_with($ch, 'presence-'))) {
                $r = ['id' => $e['id'], 'ok' => false, 'error' => 'login required'];
            } elseif (str_starts_with($ch, 'presence-')) {
                $r['info'] = ['name' => ucfirst($e['user'])];
            }
            break;
        case 'message':
            $r = on_message($e);
            break;
    }
    $results[] = $r;
}
header('Content-Type: application/json');
echo json_encode(['results' => $results]);
