--TEST--
Shared ring, real relay: a relay with --ingest_ring_bytes 0 answers ok:false; the connection stays on the socket and every message arrives
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
$relay = (new RealRelay(scratch_dir('ring-refused'), ['ingest_ring_bytes' => 0]))->start();
ini_set('herald.socket', $relay->socket());
$sub = new SseReader($relay->port, 'off');

$ok = 0;
for ($i = 0; $i === 0 || ring_asked(); $i++) {
    $ok += sse_emit('off', "m$i") ? 1 : 0;
}
echo herald_ring_info(), "\n";
for ($n = $i + 200; $i < $n; $i++) {
    $ok += sse_emit('off', "m$i") ? 1 : 0;
}
echo $ok === $n ? "every call returned true\n" : "$ok of $n returned true\n";
var_dump($sub->wait($n) === array_map(fn ($i) => "m$i", range(0, $n - 1)));
$m = $relay->metrics();
echo "rings: {$m['herald_ingest_rings']}, ring frames: {$m['herald_ingest_ring_frames_total']}\n";
$relay->stop();
?>
--EXPECT--
no (the relay refused)
every call returned true
bool(true)
rings: 0, ring frames: 0
