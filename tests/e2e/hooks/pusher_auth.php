<?php
// The Pusher channel auth endpoint of the Pusher front's tests, what
// Laravel's /broadcasting/auth answers with its PusherBroadcaster: for a
// private channel {"auth":"<key>:<hmac>"}, for a presence channel also the
// channel_data it signed. php-fpm runs it; the test's FastCGI request gives
// socket_id and channel_name as a form body would (here: the query), the
// app's key and secret as fastcgi_params (PUSHER_KEY, PUSHER_SECRET), and
// the signed-in user as a cookie (user=<id>): no user, 403 as Laravel does.
$key = $_SERVER['PUSHER_KEY'] ?? '';
$secret = $_SERVER['PUSHER_SECRET'] ?? '';
$socket = $_GET['socket_id'] ?? '';
$channel = $_GET['channel_name'] ?? '';
$user = $_COOKIE['user'] ?? '';

header('Content-Type: application/json');
if ($user === '' || !preg_match('/^\d+\.\d+$|^[0-9a-f]+\.\d+$/', $socket)) {
    http_response_code(403);
    echo json_encode(['error' => 'forbidden']);
    return;
}
if ($user === 'mallory' && str_contains($channel, 'secret')) {
    // The application refuses this user this channel.
    http_response_code(403);
    echo json_encode(['error' => 'forbidden']);
    return;
}
if (str_starts_with($channel, 'presence-')) {
    // Laravel: user_id is the auth identifier (an int for most apps).
    $id = preg_match('/^[0-9]+$/', $user) ? (int) $user : $user;
    $data = json_encode(['user_id' => $id, 'user_info' => ['name' => ucfirst($user)]]);
    $sig = hash_hmac('sha256', "$socket:$channel:$data", $secret);
    echo json_encode(['auth' => "$key:$sig", 'channel_data' => $data]);
    return;
}
echo json_encode(['auth' => $key . ':' . hash_hmac('sha256', "$socket:$channel", $secret)]);
