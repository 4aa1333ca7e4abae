<?php
/*
 * Signs a user in: a stand-in for your application's own login. The users
 * are in ../users, outside the public root, one "name:password_hash" a line
 * (the walk of docs/OPERATIONS.md writes it with password_hash()). The
 * session keeps ['id' => name, 'rooms' => []], what herald-subscribe.php's
 * herald_allowed() reads.
 */
declare(strict_types=1);
$name = (string) ($_POST['user'] ?? '');
$password = (string) ($_POST['password'] ?? '');
$hash = null;
foreach (file(dirname(__DIR__) . '/users', FILE_IGNORE_NEW_LINES | FILE_SKIP_EMPTY_LINES) ?: [] as $line) {
    [$user, $userHash] = explode(':', $line, 2) + [1 => ''];
    if ($user === $name) {
        $hash = $userHash;
    }
}
if ($_SERVER['REQUEST_METHOD'] !== 'POST' || $hash === null || !password_verify($password, $hash)) {
    http_response_code(403);
    header('Content-Type: text/plain; charset=utf-8');
    echo "wrong user or password\n";
    exit;
}
session_start();
session_regenerate_id(true);
$_SESSION['user'] = ['id' => $name, 'rooms' => []];
header('Location: /', true, 303);
