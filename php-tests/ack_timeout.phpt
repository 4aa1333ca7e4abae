--TEST--
herald.ack=1: a relay that does not answer costs herald.timeout_ms and false; a late ack is not mistaken for the next one
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_ack_timeout.sock
herald.ack=1
herald.timeout_ms=150
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$relay = new FakeRelayProcess(ini_get('herald.socket'), 'silent');
$t = hrtime(true);
var_dump(@sse_emit('a', 'one'));
$ms = (hrtime(true) - $t) / 1e6;
var_dump($ms >= 140 && $ms < 150 + 400);
echo preg_replace('/ \S+herald_ack_timeout.sock/', ' PATH', herald_last_error()), "\n";
$relay->stop();

/* The first ack arrives after the call gave up; the next call skips it. */
ini_set('herald.socket', $late = sys_get_temp_dir() . '/herald_ack_timeout_late.sock');
$relay = new FakeRelayProcess($late, 'late1');
var_dump(@sse_emit('a', 'one'));
ini_set('herald.timeout_ms', '5000');
var_dump(sse_emit('a', 'two'), herald_last_error());
$relay->stop();
?>
--CLEAN--
<?php
@unlink(sys_get_temp_dir() . '/herald_ack_timeout.sock');
@unlink(sys_get_temp_dir() . '/herald_ack_timeout_late.sock');
?>
--EXPECT--
bool(false)
bool(true)
no ack from the relay at PATH within 150 ms
bool(false)
bool(true)
NULL
