--TEST--
Shared ring, real relay: a stopped relay (SIGSTOP) lets the ring fill; the call that finds it full returns false after herald.timeout_ms, and after SIGCONT the next call goes through the same ring
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
herald.ring_bytes=16K
--FILE--
<?php
require __DIR__ . '/inc/real_relay.inc';
$relay = (new RealRelay(scratch_dir('ring-full')))->start();
ini_set('herald.socket', $relay->socket());
for ($i = 0; $i === 0 || ring_asked(); $i++) {
    sse_emit('full', "m$i");
}
echo herald_ring_info(), "\n";

$relay->pause();
ini_set('herald.timeout_ms', '150');
$payload = str_repeat('x', 1000);
for ($n = 0; $n < 100 && sse_emit('full', $payload); $n++);
$error = herald_last_error();
echo $n >= 8 && $n <= 17 ? "the ring took the frames that fit\n" : "the ring took $n frames\n";
echo preg_replace('/ to \S+ /', ' to SOCKET ', $error), "\n";

$relay->resume();
ini_set('herald.timeout_ms', '2000');
$ring = $relay->metrics()['herald_ingest_ring_frames_total'];
var_dump(sse_emit('full', 'after'), herald_last_error());
/* Nothing announces the relay's read of the ring: poll its counter (with a
 * deadline that only turns a hang into a failure). */
for ($end = hrtime(true) + 30e9; hrtime(true) < $end && $relay->metrics()['herald_ingest_ring_frames_total'] < $ring + 1;) {
    usleep(1000);   /* waits for the counter, not for time */
}
echo herald_ring_info(), "\n";
$relay->stop();
?>
--EXPECTF--
yes, 16384 bytes
the ring took the frames that fit
timed out after 150 ms writing to SOCKET (the relay is not reading its shared ring)
bool(true)
NULL
yes, 16384 bytes
