--TEST--
Shared ring, real relay: the relay killed with SIGKILL and restarted on the same socket between two publishes; the next call sees the dead relay in the ring's control page (its life word), reconnects and its message reaches the new relay's subscriber
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
$dir = scratch_dir('ring-killed');
$relay = (new RealRelay($dir))->start();
ini_set('herald.socket', $relay->socket());
$sub = new SseReader($relay->port, 'k');
for ($i = 0; $i === 0 || ring_asked(); $i++) {
    sse_emit('k', "m$i");
}
echo herald_ring_info(), "\n";
var_dump(sse_emit('k', 'through the ring'));
$got = $sub->wait($i + 1);
var_dump(end($got));

$relay->stop(9);   /* SIGKILL: the kernel marks the life word (robust list) */
$relay = (new RealRelay($dir))->start();
$sub = new SseReader($relay->port, 'k');
var_dump(sse_emit('k', 'after the restart'), herald_last_error());
var_dump($sub->wait(1));
/* The new connection asked for a ring again, and gets it. */
for ($i = 0; $i === 0 || ring_asked(); $i++) {
    sse_emit('k', "n$i");
}
echo herald_ring_info(), "\n";
var_dump(sse_emit('k', 'through the new ring'));
$got = $sub->wait($i + 2);
var_dump(end($got));
$relay->stop();
?>
--EXPECT--
yes, 262144 bytes
bool(true)
string(16) "through the ring"
bool(true)
NULL
array(1) {
  [0]=>
  string(17) "after the restart"
}
yes, 262144 bytes
bool(true)
string(20) "through the new ring"
