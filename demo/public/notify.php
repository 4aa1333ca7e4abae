<?php
/*
 * The notifications panel's endpoint: the browser POSTs {"from", "text"} and
 * PHP publishes it to the channel "notify" with herald_publish(), which reaches
 * every transport: a dashboard on the shared herald.v1 WebSocket gets it as a
 * JSON value, one that fell back to SSE as JSON text.
 */
declare(strict_types=1);
header('Content-Type: application/json');

if ($_SERVER['REQUEST_METHOD'] !== 'POST') {
    http_response_code(405);
    header('Allow: POST');
    echo json_encode(['ok' => false, 'error' => 'POST only']);
    return;
}
$in = json_decode((string) file_get_contents('php://input'), true);
$text = is_array($in) && is_string($in['text'] ?? null) ? trim($in['text']) : '';
$from = is_array($in) && is_string($in['from'] ?? null) ? trim($in['from']) : '';
// Characters, not bytes (no mbstring needed); -1 for invalid UTF-8.
$chars = fn (string $s): int => preg_match('//u', $s) ? (int) preg_match_all('/./us', $s) : -1;
if ($chars($text) < 1 || $chars($text) > 500 || $chars($from) < 0 || $chars($from) > 40) {
    http_response_code(400);
    echo json_encode(['ok' => false, 'error' => 'text: 1 to 500 characters; from: at most 40']);
    return;
}
$msg = [
    'id' => bin2hex(random_bytes(6)),
    'from' => $from === '' ? 'anonymous' : $from,
    'text' => $text,
    'time' => date(DATE_ATOM),
];
if (!herald_publish('notify', $msg)) {
    http_response_code(503);
    echo json_encode(['ok' => false, 'error' => 'relay unavailable: ' . herald_last_error()]);
    return;
}
echo json_encode(['ok' => true, 'id' => $msg['id']]);
