--TEST--
Shared ring, real relay: publishes go through the ring (the relay counts them), a subscriber gets every message in order, a batch flush lands in the ring
--EXTENSIONS--
herald
--SKIPIF--
<?php
require __DIR__ . '/inc/real_relay.inc';
if ($why = real_relay_skip()) die("skip $why");
?>
--INI--
herald.timeout_ms=2000
--FILE--
<?php
require __DIR__ . '/inc/real_relay.inc';
$relay = (new RealRelay(scratch_dir('ring-basic')))->start();
ini_set('herald.socket', $relay->socket());
$sub = new SseReader($relay->port, 'ring');

echo herald_ring_info(), "\n";
/* The first calls go to the socket while the relay's answer to the hello
 * is on its way; the extension reads it on a later call. */
$ok = 0;
for ($i = 0; $i === 0 || ring_asked(); $i++) {
    $ok += sse_emit('ring', "m$i") ? 1 : 0;
}
echo herald_ring_info(), "\n";
$first = $i;
$ring = $relay->metrics()['herald_ingest_ring_frames_total'];
for ($n = $first + 500; $i < $n; $i++) {
    $ok += sse_emit('ring', "m$i") ? 1 : 0;
}
echo $ok === $n ? "every call returned true\n" : "$ok of $n returned true\n";
$got = $sub->wait($n);
var_dump($got === array_map(fn ($i) => "m$i", range(0, $n - 1)));
$m = $relay->metrics();
echo "rings mapped: {$m['herald_ingest_rings']}\n";
echo "ring frames of the last 500 calls: ", $m['herald_ingest_ring_frames_total'] - $ring, "\n";
$ring = $m['herald_ingest_ring_frames_total'];

/* herald.batch=1: 20 frames, one flush, one put: all 20 come from the ring. */
ini_set('herald.batch', '1');
for ($i = 0; $i < 20; $i++) {
    sse_emit('ring', "b$i");
}
var_dump(herald_flush());
$got = $sub->wait($n + 20);
var_dump(array_slice($got, $n) === array_map(fn ($i) => "b$i", range(0, 19)));
echo "ring frames added by the flush: ", $relay->metrics()['herald_ingest_ring_frames_total'] - $ring, "\n";
$relay->stop();
?>
--EXPECT--
no (not connected)
yes, 262144 bytes
every call returned true
bool(true)
rings mapped: 1
ring frames of the last 500 calls: 500
bool(true)
bool(true)
ring frames added by the flush: 20
