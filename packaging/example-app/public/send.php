<?php
/*
 * POST: publishes a message to the signed-in user's own channel from PHP-FPM,
 * as any request of an application does (sse_emit() returns at once; the
 * relay delivers). The JSON content type keeps other sites' forms out.
 */
declare(strict_types=1);
session_start(['read_and_close' => true]);
$id = $_SESSION['user']['id'] ?? null;
header('Content-Type: application/json');
if ($id === null || $_SERVER['REQUEST_METHOD'] !== 'POST'
    || !str_starts_with($_SERVER['CONTENT_TYPE'] ?? '', 'application/json')) {
    http_response_code($id === null ? 401 : 400);
    echo json_encode(['ok' => false]);
    exit;
}
$ok = sse_emit("user.$id", "Hello $id, from PHP-FPM");
echo json_encode(['ok' => $ok, 'error' => $ok ? null : herald_last_error()]);
