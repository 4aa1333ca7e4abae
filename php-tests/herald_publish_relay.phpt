--TEST--
herald_publish(), real relay: reaches SSE subscribers through the ring, with herald.ack=1 (the relay's ack, one id) and batched; the relay counts it under transport "all" and takes the json flag
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
$relay = (new RealRelay(scratch_dir('herald-publish')))->start();
ini_set('herald.socket', $relay->socket());
$sub = new SseReader($relay->port, 'hp');

/* Until the ring is granted the socket carries the frames. */
$n = 0;
for (; $n === 0 || ring_asked(); $n++) {
    herald_publish('hp', "s$n");
}
$first = $n;
echo herald_ring_info(), "\n";
$ring = $relay->metrics()['herald_ingest_ring_frames_total'];
var_dump(herald_publish('hp', ['ring' => 1, 'ok' => true]));
$n++;
var_dump(herald_publish(['hp', 'other'], 3.5, 'note'));
$n++;
echo "ring frames: ", $relay->metrics()['herald_ingest_ring_frames_total'] - $ring, "\n";

/* Acknowledged: over the socket, true once the relay has it. */
ini_set('herald.ack', '1');
var_dump(herald_publish('hp', [1, 2, 3]));
$n++;
ini_set('herald.ack', '0');

/* Batched: buffered, then one flush. */
ini_set('herald.batch', '1');
herald_publish('hp', 'b1');
herald_publish('hp', ['b' => 2]);
var_dump(herald_flush());
$n += 2;

$got = $sub->wait($n);
var_dump(array_slice($got, 0, $first) === array_map(fn ($i) => "s$i", range(0, $first - 1)));
echo implode("\n", array_slice($got, $first)), "\n";
$m = $relay->metrics();
var_dump($m['herald_messages_published_total{transport="all"}'] === $n);
echo 'as sse: ', $m['herald_messages_published_total{transport="sse"}'], "\n";
echo 'rejected: ', $m['herald_ingest_rejects_total{reason="invalid"}'], "\n";
$relay->stop();
?>
--EXPECT--
yes, 262144 bytes
bool(true)
bool(true)
ring frames: 2
bool(true)
bool(true)
bool(true)
{"ring":1,"ok":true}
3.5
[1,2,3]
b1
{"b":2}
bool(true)
as sse: 0
rejected: 0
