<?php
// The test application's page, served by PHP-FPM through nginx.
session_start(['read_and_close' => true]);
?><!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="sapi" content="<?= PHP_SAPI ?>">
<meta name="herald" content="<?= extension_loaded('herald') ? 'loaded' : 'missing' ?>">
<meta name="user" content="<?= htmlspecialchars($_SESSION['user']['id'] ?? '') ?>">
<title>Herald test page</title>
<link rel="icon" href="data:,">
</head>
<body>
<h1>Herald test page</h1>
<pre id="log"></pre>
<script src="herald-client.js"></script>
<script src="test.js"></script>
</body>
</html>
