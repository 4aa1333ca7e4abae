<?php
/*
 * "Raise a test alert": an ordinary PHP request publishes to the SSE channel
 * "alerts" with sse_emit(), the same call the publisher makes.
 */
declare(strict_types=1);
header('Content-Type: application/json');

if ($_SERVER['REQUEST_METHOD'] !== 'POST') {
    http_response_code(405);
    header('Allow: POST');
    echo json_encode(['ok' => false, 'error' => 'POST only']);
    return;
}
$alert = [
    'level' => 'warning',
    'rule' => 'manual',
    'state' => 'firing',
    'message' => 'Test alert raised from the dashboard',
    'value' => null,
    'time' => date(DATE_ATOM),
];
if (!sse_emit('alerts', $alert, 'alert')) {
    http_response_code(503);
    echo json_encode(['ok' => false, 'error' => 'relay unavailable: ' . herald_last_error()]);
    return;
}
echo json_encode(['ok' => true]);
