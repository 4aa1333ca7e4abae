--TEST--
herald.ack=1: frames carry a request id and the call returns true once the relay acks it
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_ack_ok.sock
herald.ack=1
herald.timeout_ms=2000
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$relay = new FakeRelayProcess(ini_get('herald.socket'), 'ok');

var_dump(sse_emit('a', 'one'), ws_publish(['a', 'b'], 'two'), sse_emit('a', ['three' => 3]));
var_dump(herald_last_error());
$relay->frame();   /* hello */
foreach ([1, 2, 3] as $_) {
    $f = $relay->frame()['frame'];
    echo $f['t'], ' ack=', $f['ack'], ' ', hex2bin($f['data']['hex']), "\n";
}
/* Switched off at run time: no ack key, nothing awaited. */
ini_set('herald.ack', '0');
var_dump(sse_emit('a', 'four'));
var_dump(array_key_exists('ack', $relay->frame()['frame']));
$relay->stop();
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_ack_ok.sock'); ?>
--EXPECT--
bool(true)
bool(true)
bool(true)
NULL
sse ack=1 one
ws ack=2 two
sse ack=3 {"three":3}
bool(true)
bool(false)
