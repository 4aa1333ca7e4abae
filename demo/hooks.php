<?php
/*
 * The chat's application hooks (docs/PROTOCOL.md section 3). herald-relay
 * POSTs its browsers' events here through php-fpm, like nginx would a page,
 * several in one request; this script answers one result per event:
 *
 *   connect     names the user from the cookie the chat page set (demo_user);
 *               no cookie: allowed, with no user (the dashboard's connection)
 *   subscribe   presence-chat: allowed with the member's info, for a named user
 *   message     herald_publish() to presence-chat, and a reply to the sender
 *   disconnect  ignored (best-effort, never retried)
 *
 * A demo trusts the name the browser chose; an application names the user
 * from its own session cookie instead.
 */
declare(strict_types=1);

const ROOM = 'presence-chat';

// The user the cookie names: the relay takes 1 to 200 bytes of
// [A-Za-z0-9_.:@=/,;-]; anything else becomes '_', and 32 bytes are plenty.
function demo_user(array $headers): ?string
{
    foreach (explode(';', (string) ($headers['cookie'] ?? '')) as $pair) {
        [$name, $value] = array_pad(explode('=', trim($pair), 2), 2, '');
        if ($name === 'demo_user') {
            $user = substr((string) preg_replace('~[^A-Za-z0-9_.:@=/,;-]~', '_', rawurldecode($value)), 0, 32);
            return $user === '' ? null : $user;
        }
    }
    return null;
}

try {
    $events = herald_hook_events(); // checks X-Herald-Signature against herald.secret
} catch (UnexpectedValueException $e) {
    http_response_code(403);
    echo $e->getMessage();
    return;
}

$results = [];
foreach ($events as $ev) {
    $r = ['id' => $ev['id'], 'ok' => true];
    $user = $ev['user'] ?? null;
    switch ($ev['type']) {
        case 'connect':
            $user = demo_user($ev['headers'] ?? []);
            if ($user !== null) {
                $r['user'] = $user;
            }
            break;
        case 'subscribe':
            if (($ev['channel'] ?? '') !== ROOM) {
                break; // only presence-chat's subscribes come here (app_channels is empty)
            }
            if ($user === null) {
                $r = ['id' => $ev['id'], 'ok' => false, 'error' => 'choose a name first'];
            } else {
                $r['info'] = ['name' => $user]; // what join, leave and the member list carry
            }
            break;
        case 'message':
            $text = trim((string) (is_array($ev['data'] ?? null) ? ($ev['data']['text'] ?? '') : ''));
            if ($user === null || $text === '' || strlen($text) > 2000) {
                $r = ['id' => $ev['id'], 'ok' => false, 'error' => $user === null ? 'no user' : 'text: 1 to 2000 bytes'];
            } elseif (!herald_publish(ROOM, ['from' => $user, 'text' => $text, 'time' => date(DATE_ATOM)])) {
                $r = ['id' => $ev['id'], 'ok' => false, 'error' => 'relay unavailable: ' . herald_last_error()];
            } else {
                $r['reply'] = ['ok' => true];
            }
            break;
    }
    $results[] = $r;
}
header('Content-Type: application/json');
echo json_encode(['results' => $results], JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE);
