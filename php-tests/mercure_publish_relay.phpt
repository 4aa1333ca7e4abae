--TEST--
herald_mercure_publish(), real relay: a public update reaches the plain SSE subscribers of its topic's channel (herald_mercure_channel()), a private one does not; the relay takes every frame (skipped with a relay that has no Mercure front)
--EXTENSIONS--
herald
--SKIPIF--
<?php
require __DIR__ . '/inc/real_relay.inc';
if ($why = real_relay_skip()) die("skip $why");
exec(escapeshellarg(real_relay_binary()) . ' --help 2>&1', $out);
if (!str_contains(implode("\n", $out), 'mercure_jwt_key')) die('skip the relay has no Mercure front yet (mercure_jwt_key)');
?>
--INI--
herald.timeout_ms=2000
--FILE--
<?php
require __DIR__ . '/inc/real_relay.inc';
$relay = (new RealRelay(scratch_dir('mercure-publish'), ['mercure_jwt_key' => str_repeat('k', 32)]))->start();
ini_set('herald.socket', $relay->socket());
$topic = 'https://example.com/books/1?lang=fr';
$sub = new SseReader($relay->port, herald_mercure_channel($topic));

var_dump(is_string(herald_mercure_publish($topic, 'public 1')));
var_dump(is_string(herald_mercure_publish([$topic, 'https://example.com/other'], 'private', true)));
ini_set('herald.ack', '1');
var_dump(herald_mercure_publish($topic, 'public 2', false, 'acked-id', 'book'));
ini_set('herald.ack', '0');

/* The private update came between the two public ones: had it reached the
 * plain subscriber, it would be the second of these. */
echo implode("\n", $sub->wait(2)), "\n";
echo 'rejected: ', $relay->metrics()['herald_ingest_rejects_total{reason="invalid"}'] ?? 0, "\n";
$relay->stop();
?>
--EXPECT--
bool(true)
bool(true)
string(8) "acked-id"
public 1
public 2
rejected: 0
