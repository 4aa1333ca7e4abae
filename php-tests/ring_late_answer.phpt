--TEST--
Shared ring, real relay: a relay too busy to answer the ring request for a while (stopped with SIGSTOP for 300 ms past the connect) still gives the connection its ring once it answers; nothing is lost meanwhile
--EXTENSIONS--
herald
posix
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
$relay = (new RealRelay(scratch_dir('ring-late')))->start();
ini_set('herald.socket', $relay->socket());
$sub = new SseReader($relay->port, 'late');

/* Stopped (seen in /proc) before this process connects: its hello waits. */
$relay->pause();
$i = 0;
$connected = hrtime(true);
var_dump(sse_emit('late', 'm' . $i++));
echo herald_ring_info(), "\n";
/* Publish while the relay stays stopped for longer than the first look-out
 * phase (200 ms from the connect): the time that passes is the condition
 * under test, not a synchronisation. */
while (hrtime(true) - $connected < 300e6) {
    sse_emit('late', 'm' . $i++) or die(herald_last_error());
    usleep(2000);
}
echo herald_ring_info(), "\n";

$relay->resume();
/* Publish until the answer is read: after 200 ms the extension looks only
 * every 1024th send, so this takes some thousands of calls. */
while (ring_asked()) {
    sse_emit('late', 'm' . $i++) or die(herald_last_error());
}
echo herald_ring_info(), "\n";
$ring = $relay->metrics()['herald_ingest_ring_frames_total'];
for ($k = 0; $k < 10; $k++) {
    sse_emit('late', 'm' . $i++);
}
echo "ring frames of the last 10 calls: ", $relay->metrics()['herald_ingest_ring_frames_total'] - $ring, "\n";
$got = $sub->wait($i);
var_dump($got === array_map(fn ($k) => "m$k", range(0, $i - 1)));
$relay->stop();
?>
--EXPECT--
bool(true)
asked for, no answer yet (the socket carries frames meanwhile)
asked for, no answer yet (the socket carries frames meanwhile)
yes, 262144 bytes
ring frames of the last 10 calls: 10
bool(true)
