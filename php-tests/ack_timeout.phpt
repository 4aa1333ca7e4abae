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
[$r, $wall, $own] = timed(fn () => @sse_emit('a', 'one'));
var_dump($r);
var_dump($wall >= 140 && $own < 150 + 400);
echo preg_replace('/ \S+herald_ack_timeout.sock/', ' PATH', herald_last_error()), "\n";
$relay->stop();

/* The first ack arrives after the call gave up (the fake relay holds it
 * until told, and says when it has sent it); the next call skips it. */
ini_set('herald.socket', $late = sys_get_temp_dir() . '/herald_ack_timeout_late.sock');
$relay = new FakeRelayProcess($late, 'held1');
var_dump(@sse_emit('a', 'one'));
$relay->command('release');
while (($line = $relay->line()) !== null && $line !== 'released');
var_dump($line);
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
string(8) "released"
bool(true)
NULL
