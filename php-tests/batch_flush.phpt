--TEST--
herald.batch=1: calls return true at once, nothing is written until herald_flush(), then every frame arrives byte-exact, in call order, with the ts of its call
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_batch_flush.sock
herald.batch=1
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$srv = fake_relay_listen(ini_get('herald.socket'));

/* Nothing buffered: a no-op that succeeds. */
var_dump(herald_flush(), herald_last_error());

$calls = [
    fn () => sse_emit('news', "a\nb"),
    fn () => ws_publish(['a', 'b'], ['x' => 1, 'y' => 'é']),
    fn () => sse_emit('news', 'named', 'upd', 1500),
    fn () => ws_publish('cam', "\x00\xff", true),
];
$windows = [];
foreach ($calls as $call) {
    $t0 = hrtime(true);
    $r = $call();
    $windows[] = [$t0, hrtime(true)];
    var_dump($r);
}
var_dump(herald_last_error());
/* Buffered: no connection yet, so no byte left the process. (A connect
 * to a Unix socket is queued when connect() returns, inside the call: no
 * need to wait for one to show up.) */
var_dump(@stream_socket_accept($srv, 0));
usleep(50000);
$flushed = hrtime(true);
var_dump(herald_flush(), herald_last_error());

$c = fake_relay_accept($srv);
var_dump(bin2hex(fake_relay_read_frame($c)['raw']) === hello_hex());
$batched = [];
foreach ($windows as $i => [$t0, $t1]) {
    $f = fake_relay_read_frame($c);
    $batched[] = frame_hex($f['raw']);
    /* ts is the call's time, not the flush's. */
    echo $i, ': ts in call window ', var_export($f['frame']['ts'] >= $t0 && $f['frame']['ts'] <= $t1, true),
        ', before flush ', var_export($f['frame']['ts'] < $flushed, true), "\n";
}
/* The same calls unbatched make the same bytes (ts masked). */
ini_set('herald.batch', '0');
foreach ($calls as $i => $call) {
    $call();
    echo $i, ': same bytes ', var_export(frame_hex(fake_relay_read_frame($c)['raw']) === $batched[$i], true), "\n";
}
echo $batched[0], "\n";
/* Flushing twice, or with batching off, sends nothing more. */
ini_set('herald.batch', '1');
var_dump(herald_flush());
stream_set_blocking($c, false);
var_dump(fread($c, 100));
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_batch_flush.sock'); ?>
--EXPECT--
bool(true)
NULL
bool(true)
bool(true)
bool(true)
bool(true)
NULL
bool(false)
bool(true)
NULL
bool(true)
0: ts in call window true, before flush true
1: ts in call window true, before flush true
2: ts in call window true, before flush true
3: ts in call window true, before flush true
0: same bytes true
1: same bytes true
2: same bytes true
3: same bytes true
85a26f70a3707562a174a3737365a26368a46e657773a27473cfTTTTTTTTTTTTTTTTa464617461a3610a62
bool(true)
string(0) ""
