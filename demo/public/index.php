<?php
/*
 * The live monitoring dashboard. The page itself is ordinary PHP; everything
 * live comes from herald-relay through the browser client
 * (packages/herald-client): metrics, alerts and notifications on one
 * herald.v1 WebSocket, which every open dashboard tab shares (SSE when the
 * WebSocket cannot be had).
 */
declare(strict_types=1);

$relay = rtrim(getenv('HERALD_RELAY_URL') ?: 'http://127.0.0.1:8080', '/');
$canonical = rtrim(getenv('HERALD_DEMO_URL') ?: '', '/');

// The relay allows exactly one origin (--cors_origin): send a visitor who
// came by another name (localhost instead of 127.0.0.1) to that one.
if ($canonical !== '') {
    $scheme = (!empty($_SERVER['HTTPS']) && $_SERVER['HTTPS'] !== 'off') ? 'https' : 'http';
    if ($scheme . '://' . ($_SERVER['HTTP_HOST'] ?? '') !== $canonical) {
        header('Location: ' . $canonical . '/', true, 302);
        return;
    }
}
$config = ['relay' => $relay];
$h = fn (string $s): string => htmlspecialchars($s, ENT_QUOTES);
?><!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Herald · live monitoring</title>
<link rel="stylesheet" href="style.css">
<link rel="icon" href="data:,">
</head>
<body>
<header>
  <h1>Herald <span>live monitoring</span></h1>
  <div class="host" id="host">—</div>
  <div class="pills">
    <a class="pill" id="chat-link" href="chat.php">chat room →</a>
    <span class="pill" id="relay-status" data-status="connecting" data-role="" data-transport="">relay <b>connecting</b></span>
  </div>
</header>

<main>
  <section class="cards">
    <div class="card"><h2>CPU</h2><div class="value" id="cpu-value">–</div><div class="sub" id="cpu-sub">&nbsp;</div></div>
    <div class="card"><h2>Memory</h2><div class="value" id="mem-value">–</div><div class="sub" id="mem-sub">&nbsp;</div></div>
    <div class="card"><h2>Load</h2><div class="value" id="load-value">–</div><div class="sub" id="load-sub">&nbsp;</div></div>
    <div class="card"><h2>Network</h2><div class="value" id="net-value">–</div><div class="sub" id="net-sub">&nbsp;</div></div>
    <div class="card"><h2>Checks</h2><ul class="checks" id="checks"><li>waiting…</li></ul></div>
  </section>

  <section class="charts">
    <div class="panel">
      <h2>CPU and memory, %</h2>
      <canvas id="chart-usage" width="640" height="200" data-points="0"></canvas>
      <div class="legend"><i class="c1"></i>CPU <i class="c2"></i>Memory</div>
    </div>
    <div class="panel">
      <h2>Network, bytes/s</h2>
      <canvas id="chart-net" width="640" height="200" data-points="0"></canvas>
      <div class="legend"><i class="c3"></i>received <i class="c4"></i>sent</div>
    </div>
  </section>

  <section class="bottom">
    <div class="panel">
      <div class="panel-head">
        <h2>Alerts <small>channel <code>alerts</code> · <code>sse_emit()</code></small></h2>
        <button id="raise-alert" type="button">Raise a test alert</button>
      </div>
      <ul class="feed" id="alerts"></ul>
      <p class="empty" id="alerts-empty">No alert yet: rules fire on CPU, load, memory and the health checks.</p>
    </div>
    <div class="panel">
      <div class="panel-head">
        <h2>Notifications <small>channel <code>notify</code> · <code>herald_publish()</code></small></h2>
      </div>
      <form id="notify-form" autocomplete="off">
        <input id="notify-from" maxlength="40" placeholder="your name">
        <input id="notify-text" maxlength="500" placeholder="message to every open dashboard" required>
        <button type="submit">Send</button>
      </form>
      <ul class="feed" id="notifications"></ul>
      <p class="empty" id="notifications-empty">Open this page in a second tab and send a message.</p>
    </div>
  </section>
</main>

<footer>
  <span id="counts">0 events</span> · metrics published by <code>demo/publisher.php</code> with
  <code>sse_emit()</code> · notifications by <code>notify.php</code> with <code>herald_publish()</code> ·
  relay <a href="<?= $h($relay) ?>/metrics"><?= $h($relay) ?></a>
</footer>

<script>window.HERALD_DEMO = <?= json_encode($config, JSON_UNESCAPED_SLASHES) ?>;</script>
<script src="herald-client.php"></script>
<script src="dashboard.js"></script>
</body>
</html>
