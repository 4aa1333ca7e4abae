--TEST--
Shared ring, real relay: with a 64 KiB ring, a 100 KiB payload goes to the socket (more than half the ring) and arrives between its neighbours from the ring
--EXTENSIONS--
herald
--SKIPIF--
<?php
require __DIR__ . '/inc/real_relay.inc';
if ($why = real_relay_skip()) die("skip $why");
?>
--INI--
herald.timeout_ms=2000
herald.ring_bytes=64K
--FILE--
<?php
require __DIR__ . '/inc/real_relay.inc';
$relay = (new RealRelay(scratch_dir('ring-too-big')))->start();
ini_set('herald.socket', $relay->socket());
$sub = new SseReader($relay->port, 'big');

for ($i = 0; $i === 0 || ring_asked(); $i++) {
    sse_emit('big', "m$i");
}
echo herald_ring_info(), "\n";
$want = array_map(fn ($j) => "m$j", range(0, $i - 1));
$ring = $relay->metrics()['herald_ingest_ring_frames_total'];
$big = str_repeat('0123456789abcdef', 6400);   /* 100 KiB */
var_dump(sse_emit('big', 'before'), sse_emit('big', $big), sse_emit('big', 'after'));
array_push($want, 'before', $big, 'after');
$got = $sub->wait(count($want));
var_dump(count($got) === count($want), $got === $want);
echo "ring frames: ", $relay->metrics()['herald_ingest_ring_frames_total'] - $ring, "\n";
$relay->stop();
?>
--EXPECT--
yes, 65536 bytes
bool(true)
bool(true)
bool(true)
bool(true)
bool(true)
ring frames: 2
