--TEST--
Shared ring, real relay: herald.ring_bytes=0 asks for no ring; frames go to the socket
--EXTENSIONS--
herald
--SKIPIF--
<?php
require __DIR__ . '/inc/real_relay.inc';
if ($why = real_relay_skip()) die("skip $why");
?>
--INI--
herald.timeout_ms=2000
herald.ring_bytes=0
--FILE--
<?php
require __DIR__ . '/inc/real_relay.inc';
$relay = (new RealRelay(scratch_dir('ring-ini-off')))->start();
ini_set('herald.socket', $relay->socket());
$sub = new SseReader($relay->port, 'plain');

$ok = 0;
for ($i = 0; $i < 300; $i++) {
    $ok += sse_emit('plain', "m$i") ? 1 : 0;
}
echo "$ok returned true\n";
echo herald_ring_info(), "\n";
var_dump($sub->wait(300) === array_map(fn ($i) => "m$i", range(0, 299)));
$m = $relay->metrics();
echo "rings: {$m['herald_ingest_rings']}, ring frames: {$m['herald_ingest_ring_frames_total']}\n";
$relay->stop();
?>
--EXPECT--
300 returned true
no (herald.ring_bytes was 0 at connect)
bool(true)
rings: 0, ring frames: 0
