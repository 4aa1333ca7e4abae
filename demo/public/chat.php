<?php
/*
 * The chat room: browsers talk back. The page sets a cookie with the name the
 * visitor chose (demo_user) and opens the browser client
 * (packages/herald-client) on herald.v1; the relay hands the connection's
 * cookie to demo/hooks.php in php-fpm (connect hook), which names the user.
 * Messages go up with send() and come back from PHP's herald_publish() to
 * every member of presence-chat; who is online comes from the relay's
 * presence (the member list, then join and leave). No PHP process stays up
 * between events.
 *
 * ?shared=0: this tab has a connection of its own instead of sharing its
 * origin's (two connections of one user: still one member).
 */
declare(strict_types=1);

$relay = rtrim(getenv('HERALD_RELAY_URL') ?: 'http://127.0.0.1:8080', '/');
$canonical = rtrim(getenv('HERALD_DEMO_URL') ?: '', '/');

// The relay allows exactly one origin (--cors_origin), and the cookie is the
// host's: send a visitor who came by another name to that one.
if ($canonical !== '') {
    $scheme = (!empty($_SERVER['HTTPS']) && $_SERVER['HTTPS'] !== 'off') ? 'https' : 'http';
    if ($scheme . '://' . ($_SERVER['HTTP_HOST'] ?? '') !== $canonical) {
        header('Location: ' . $canonical . '/chat.php', true, 302);
        return;
    }
}
$config = ['relay' => $relay, 'room' => 'presence-chat', 'shared' => ($_GET['shared'] ?? '1') !== '0'];
$h = fn (string $s): string => htmlspecialchars($s, ENT_QUOTES);
?><!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Herald · chat</title>
<link rel="stylesheet" href="style.css">
<link rel="icon" href="data:,">
</head>
<body>
<header>
  <h1>Herald <span>chat</span></h1>
  <div class="host"><a href="./">← dashboard</a></div>
  <div class="pills">
    <span class="pill" id="me" data-user="">not named</span>
    <span class="pill" id="relay-status" data-status="idle" data-role="" data-transport="">relay <b>waiting for a name</b></span>
  </div>
</header>

<main class="chat">
  <section class="panel" id="name-panel">
    <h2>Your name</h2>
    <form id="name-form" autocomplete="off">
      <input id="name-input" maxlength="32" placeholder="e.g. ada" required
             title="letters, digits and _ . : @ = / - (others become _)">
      <button type="submit">Join the chat</button>
    </form>
    <p class="empty">Kept in a cookie (<code>demo_user</code>), which the relay hands to <code>demo/hooks.php</code>
      at connect: that is who you are in the room. Open a second browser (or a private window) as someone else.</p>
  </section>

  <section class="chat-grid" id="chat-panel" hidden>
    <div class="panel">
      <div class="panel-head">
        <h2>Messages <small>channel <code>presence-chat</code> · <code>send()</code> → php-fpm → <code>herald_publish()</code></small></h2>
        <button id="leave" type="button">Change name</button>
      </div>
      <ul class="feed chat-feed" id="messages"></ul>
      <p class="empty" id="messages-empty">No message yet. Open this page in another browser and say hello.</p>
      <form id="send-form" autocomplete="off">
        <input id="send-text" maxlength="500" placeholder="message to the room" required>
        <button type="submit">Send</button>
      </form>
      <p class="empty" id="send-error" hidden></p>
    </div>
    <div class="panel">
      <h2>Online <small id="online-count">0</small></h2>
      <ul class="feed" id="online"></ul>
      <ul class="feed presence-log" id="presence-log"></ul>
    </div>
  </section>
</main>

<footer>
  hooks: <code>demo/hooks.php</code> in php-fpm · presence: the relay (members are users, not tabs) ·
  relay <a href="<?= $h($relay) ?>/metrics"><?= $h($relay) ?></a>
</footer>

<script>window.HERALD_CHAT = <?= json_encode($config, JSON_UNESCAPED_SLASHES) ?>;</script>
<script src="herald-client.php"></script>
<script src="chat.js"></script>
</body>
</html>
