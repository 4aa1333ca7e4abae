<?php
// POST {"t": "sse"|"ws", "ch": "A" or ["A","B"], "data": ..., "event": ...}:
// publishes with sse_emit() or ws_publish(), the calls an application makes.
declare(strict_types=1);
header('Content-Type: application/json');
$in = json_decode((string) file_get_contents('php://input'), true);
if ($_SERVER['REQUEST_METHOD'] !== 'POST' || !is_array($in)) {
    http_response_code(400);
    echo json_encode(['ok' => false, 'error' => 'POST a JSON object']);
    return;
}
$ok = ($in['t'] ?? 'sse') === 'ws'
    ? ws_publish($in['ch'], $in['data'])
    : sse_emit($in['ch'], $in['data'], $in['event'] ?? null);
echo json_encode(['ok' => $ok, 'error' => $ok ? null : herald_last_error(), 'pid' => getmypid()]);
