--TEST--
herald.batch=1 with herald.ack=1, herald.batch=0 and herald.enabled=0 at run time: a frame written at once takes the buffer along in front of it, so the relay sees every frame in call order
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_batch_ack.sock
herald.batch=1
herald.timeout_ms=2000
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$relay = new FakeRelayProcess(ini_get('herald.socket'), 'ok');
function show(FakeRelayProcess $relay, int $n): void
{
    for ($i = 0; $i < $n; $i++) {
        $f = $relay->frame();
        $fr = $f['frame'];
        if ($fr['op'] === 'hello') {
            $i--;
            continue;
        }
        echo '  conn ', $f['conn'], ': ', hex2bin($fr['data']['hex']), isset($fr['ack']) ? " ack={$fr['ack']}" : '', "\n";
    }
}

var_dump(sse_emit('a', 'b1'), sse_emit('a', 'b2'));
var_dump($relay->sync());   /* nothing yet (sync: all sent so far has been read) */
ini_set('herald.ack', '1');
var_dump(ws_publish('a', 'acked'), herald_last_error());
show($relay, 3);
ini_set('herald.ack', '0');

/* Batching switched off with frames buffered: the next call sends them first. */
var_dump(sse_emit('a', 'b3'));
ini_set('herald.batch', '0');
var_dump($relay->sync());
var_dump(sse_emit('a', 'direct'));
show($relay, 2);

/* herald.enabled=0 buffers nothing; frames already buffered still go at the flush. */
ini_set('herald.batch', '1');
var_dump(sse_emit('a', 'b4'));
ini_set('herald.enabled', '0');
var_dump(sse_emit('a', 'disabled'), herald_last_error());
var_dump(herald_flush(), herald_last_error());
show($relay, 1);
var_dump($relay->sync());
$relay->stop();

/* A relay that refuses the acknowledged frame: the buffered ones before it
 * were written (same write), so nothing is reported dropped. */
ini_set('herald.enabled', '1');
$relay = new FakeRelayProcess(ini_get('herald.socket'), 'nack');
var_dump(sse_emit('a', 'b5'));
ini_set('herald.ack', '1');
var_dump(@sse_emit('a', 'refused'));
echo herald_last_error(), "\n";
show($relay, 2);
$relay->stop();
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_batch_ack.sock'); ?>
--EXPECTF--
bool(true)
bool(true)
array(0) {
}
bool(true)
NULL
  conn 1: b1
  conn 1: b2
  conn 1: acked ack=1
bool(true)
array(0) {
}
bool(true)
  conn 1: b3
  conn 1: direct
bool(true)
bool(false)
string(42) "publishing is disabled by herald.enabled=0"
bool(true)
NULL
  conn 1: b4
array(0) {
}
bool(true)
bool(false)
the relay refused the message: %s
  conn %d: b5
  conn %d: refused ack=%d
