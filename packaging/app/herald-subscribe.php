<?php
/*
 * The hand-off: authenticated subscriptions with the application's own session,
 * no token. Put this file in the application's public root; pages subscribe with
 *
 *     new EventSource('/herald-subscribe.php?channel=alerts&channel=user.42')
 *     new WebSocket('wss://' + location.host + '/herald-subscribe.php?transport=ws&channel=user.42')
 *
 * This script runs as an ordinary PHP-FPM request: it reads the session, checks
 * every requested channel against what this user may see, and answers with
 * X-Accel-Redirect to nginx's internal location /_herald/sse or /_herald/ws
 * (packaging/nginx/herald.conf). nginx then proxies the same browser request
 * (cookies, Last-Event-ID, WebSocket upgrade) to the relay with exactly these
 * channels, and the PHP worker is free at once: it never holds the stream.
 *
 * Answers: 401 without a logged-in session, 403 for a channel the user may not
 * have, 400 for a malformed request. An EventSource gives up on these for good
 * (it does not retry a 4xx), which is what a logged-out page should do.
 *
 * Adapt herald_allowed() to the application: it is the whole policy.
 */
declare(strict_types=1);

/**
 * May this user subscribe to this channel? The relay refuses user.* and
 * room.* on its public /sse and /ws (private_prefixes in relay.ini), so this
 * endpoint is the only way to them; the public channels here anyone may also
 * read on /sse.
 */
function herald_allowed(array $user, string $channel): bool
{
    // Public channels: here for logged-in pages' convenience.
    if (in_array($channel, ['alerts', 'news', 'status'], true)) {
        return true;
    }
    // The user's own channel: user.<id>.
    if ($channel === 'user.' . $user['id']) {
        return true;
    }
    // Rooms the user belongs to: room.<name>.
    if (str_starts_with($channel, 'room.')) {
        return in_array(substr($channel, 5), $user['rooms'] ?? [], true);
    }
    return false;
}

function herald_refuse(int $status, string $why): never
{
    http_response_code($status);
    header('Content-Type: text/plain; charset=utf-8');
    header('Cache-Control: no-store');
    echo $why, "\n";
    exit;
}

// Read the session without keeping it locked: the stream outlives this request.
session_start(['read_and_close' => true]);
$user = $_SESSION['user'] ?? null;
if (!is_array($user) || !isset($user['id'])) {
    herald_refuse(401, 'not logged in');
}

// PHP's $_GET keeps only the last of repeated keys: read the query string itself.
$channels = [];
$transport = 'sse';
$lastEventId = null;
foreach (explode('&', $_SERVER['QUERY_STRING'] ?? '') as $pair) {
    if ($pair === '') {
        continue;
    }
    [$k, $v] = array_map('rawurldecode', array_map(
        fn ($s) => str_replace('+', ' ', $s), explode('=', $pair, 2) + [1 => '']));
    if ($k === 'channel') {
        $channels[] = $v;
    } elseif ($k === 'transport') {
        $transport = $v;
    } elseif ($k === 'last_event_id') {
        $lastEventId = $v;
    }
}
if (!in_array($transport, ['sse', 'ws'], true)) {
    herald_refuse(400, 'transport: sse or ws');
}
$channels = array_values(array_unique($channels));
if ($channels === []) {
    herald_refuse(400, 'no channel');
}
foreach ($channels as $c) {
    if (!preg_match('/^[A-Za-z0-9_.:@=\/-]{1,200}$/', $c)) {
        herald_refuse(400, 'invalid channel name');
    }
    if (!herald_allowed($user, $c)) {
        herald_refuse(403, "channel not allowed: $c");
    }
}

$query = implode('&', array_map(fn ($c) => 'channel=' . rawurlencode($c), $channels));
if ($lastEventId !== null) {
    $query .= '&last_event_id=' . rawurlencode($lastEventId);
}
header('X-Accel-Redirect: /_herald/' . $transport . '?' . $query);
