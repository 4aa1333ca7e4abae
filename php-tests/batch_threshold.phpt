--TEST--
herald.batch_bytes: the frame that would bring the buffer to the threshold goes out with the buffer in one write; a frame larger than the threshold is never copied into it
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_batch_threshold.sock
herald.batch=1
herald.batch_bytes=188
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$srv = fake_relay_listen(ini_get('herald.socket'));

/* Each frame: 37 bytes of head with channel "c", + 10 bytes of data = 47. */
$data = str_repeat('d', 10);
$sent = 0;
function pending($c): int
{
    /* Frames that reached the socket: the extension writes inside the
     * call, so they are all there when it returns; none is waited for. */
    $n = 0;
    for (;;) {
        try {
            $f = fake_relay_read_frame($c, 0);
        } catch (RuntimeException $e) {
            return $n;
        }
        if ($f['frame']['op'] === 'pub') {
            echo '  ', $f['frame']['data'], "\n";
            $n++;
        }
    }
}
for ($i = 1; $i <= 3; $i++) {
    var_dump(sse_emit('c', sprintf('%09d', $i) . 'x'));
}
var_dump(@stream_socket_accept($srv, 0));   /* a connect would be queued by now */
/* The 4th frame makes 4 x 47 = 188 bytes: it is written with the three. */
var_dump(sse_emit('c', sprintf('%09d', 4) . 'x'));
$c = fake_relay_accept($srv);
echo "after the 4th call:\n";
echo pending($c), " frames\n";
/* Below the threshold again: buffered. */
var_dump(sse_emit('c', sprintf('%09d', 5) . 'x'));
echo pending($c), " frames\n";
/* A frame bigger than the threshold takes the buffer along. */
var_dump(ws_publish('c', str_repeat('B', 300)));
echo "after the big one:\n";
$n = 0;
$f = fake_relay_read_frame($c);
echo '  ', $f['frame']['data'], "\n";
$f = fake_relay_read_frame($c);
echo '  ', strlen($f['frame']['data']), " bytes\n";
/* The threshold can change at run time, with K/M suffixes; nonsense is refused. */
foreach (['64K', '1M', '0', '-1', '65M', 'abc', '1'] as $v) {
    printf("%s: %s, now %s\n", $v, ini_set('herald.batch_bytes', $v) === false ? 'refused' : 'taken', ini_get('herald.batch_bytes'));
}
/* batch_bytes=1: every frame is written at once. */
var_dump(sse_emit('c', 'at once'));
echo fake_relay_read_frame($c)['frame']['data'], "\n";
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_batch_threshold.sock'); ?>
--EXPECT--
bool(true)
bool(true)
bool(true)
bool(false)
bool(true)
after the 4th call:
  000000001x
  000000002x
  000000003x
  000000004x
4 frames
bool(true)
0 frames
bool(true)
after the big one:
  000000005x
  300 bytes
64K: taken, now 64K
1M: taken, now 1M
0: refused, now 1M
-1: refused, now 1M
65M: refused, now 1M
abc: refused, now 1M
1: taken, now 1
bool(true)
at once
