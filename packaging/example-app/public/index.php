<?php
/*
 * The example application's page (docs/OPERATIONS.md, "From zero to a
 * deployed app"): a sign-in form, or the signed-in user's private messages,
 * live. They arrive on the channel user.<id> through the hand-off: the page
 * asks /herald-subscribe.php (packaging/app/), which checks this session, and
 * nginx streams the channel from the relay. No token, no long-running PHP.
 */
declare(strict_types=1);
session_start(['read_and_close' => true]);
$user = $_SESSION['user']['id'] ?? null;
$h = fn (string $s): string => htmlspecialchars($s, ENT_QUOTES);
header('Cache-Control: no-store');
?><!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Herald example</title>
<link rel="icon" href="data:,">
</head>
<body>
<?php if ($user === null): ?>
<h1>Sign in</h1>
<form method="post" action="/login.php">
  <p><label>User <input name="user" autocomplete="username" required></label></p>
  <p><label>Password <input name="password" type="password" autocomplete="current-password" required></label></p>
  <p><button>Sign in</button></p>
</form>
<?php else: ?>
<main data-channel="<?= $h('user.' . $user) ?>">
<h1>Messages for <?= $h($user) ?></h1>
<p>Stream: <output id="status">connecting</output></p>
<ul id="messages"></ul>
<p><button id="send" type="button">Send me a message</button> (PHP-FPM publishes it)</p>
<form method="post" action="/logout.php"><button>Sign out</button></form>
</main>
<script>
  const channel = document.querySelector('main').dataset.channel;
  const status = document.getElementById('status');
  // The hand-off: herald-subscribe.php checks the session, nginx streams the channel.
  const es = new EventSource('/herald-subscribe.php?channel=' + encodeURIComponent(channel));
  es.onopen = () => { status.value = 'live'; };
  // A 401 or 403 closes the stream for good; anything else, the browser retries.
  es.onerror = () => { status.value = es.readyState === EventSource.CLOSED ? 'refused' : 'reconnecting'; };
  es.onmessage = (e) => {
    const li = document.createElement('li');
    li.textContent = e.data;
    document.getElementById('messages').append(li);
  };
  document.getElementById('send').onclick = () =>
    fetch('/send.php', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
</script>
<?php endif ?>
</body>
</html>
