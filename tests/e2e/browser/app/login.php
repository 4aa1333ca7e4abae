<?php
// Logs in as ?user=NAME (a test stand-in for the application's real login).
declare(strict_types=1);
session_start();
session_regenerate_id(true);
$_SESSION['user'] = ['id' => (string) ($_GET['user'] ?? 'alice'), 'rooms' => ['ops']];
header('Content-Type: application/json');
echo json_encode(['ok' => true, 'user' => $_SESSION['user']['id']]);
