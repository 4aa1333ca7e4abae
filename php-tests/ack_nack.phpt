--TEST--
herald.ack=1: a relay that refuses the message makes the call return false with its reason
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_ack_nack.sock
herald.ack=1
herald.timeout_ms=2000
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$relay = new FakeRelayProcess(ini_get('herald.socket'), 'nack');
var_dump(sse_emit('a', 'one'));
var_dump(herald_last_error());
var_dump(@ws_publish('a', 'two'), herald_last_error());
$relay->stop();
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_ack_nack.sock'); ?>
--EXPECTF--
bool(false)
string(50) "the relay refused the message: refused by the test"
bool(false)
string(50) "the relay refused the message: refused by the test"
