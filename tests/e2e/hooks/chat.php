<?php
// A chat room in one hook script, like the one docs/PHP.md shows: the user is
// the application's session (here a plain cookie), presence rooms are open to
// logged-in users, and what a browser sends is published to its room.
$results = [];
foreach (herald_hook_events() as $e) {
    $r = ['id' => $e['id'], 'ok' => true];
    if ($e['type'] === 'connect') {
        if (preg_match('/(?:^|;\s*)user=([a-z]+)/', $e['headers']['cookie'] ?? '', $m)) {
            $r['user'] = $m[1];
        }
    } elseif ($e['type'] === 'subscribe') {
        $r['ok'] = $e['user'] !== null;
        $r['info'] = ['name' => ucfirst((string) $e['user'])];
    } elseif ($e['type'] === 'message') {
        $ok = isset($e['channel']) && herald_publish($e['channel'], ['from' => $e['user'], 'text' => $e['data']]);
        $r = $ok ? $r + ['reply' => 'sent'] : ['id' => $e['id'], 'ok' => false, 'error' => 'not sent'];
    }
    $results[] = $r;
}
header('Content-Type: application/json');
echo json_encode(['results' => $results]);
