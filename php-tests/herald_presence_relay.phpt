--TEST--
herald_send(), herald_send_user(), herald_presence(), real relay: sends are taken (and acknowledged, in order with publishes), the members of a presence channel come back as a list, a channel that is not one is refused, a relay that is down is null with the reason
--EXTENSIONS--
herald
--SKIPIF--
<?php
require __DIR__ . '/inc/real_relay.inc';
if ($why = real_relay_skip()) die("skip $why");
?>
--INI--
herald.timeout_ms=5000
--FILE--
<?php
require __DIR__ . '/inc/real_relay.inc';
$relay = (new RealRelay(scratch_dir('herald-presence')))->start();
ini_set('herald.socket', $relay->socket());

/* Through the ring (or the socket until it is granted), then acknowledged. */
var_dump(herald_send('0a1b2c3d.1', 'hello'), herald_send_user('alice', ['n' => 1]));
ini_set('herald.ack', '1');
var_dump(herald_send('0a1b2c3d.1', "\x00\x01", true), herald_send_user('alice', 'hi'), herald_publish('c', 'x'));
ini_set('herald.ack', '0');
var_dump(herald_last_error());

var_dump(herald_presence('presence-room'));
var_dump(herald_presence('room'), herald_last_error());
echo 'queries: ', $relay->metrics()['herald_ingest_presence_queries_total'], "\n";
echo 'rejected: ', $relay->metrics()['herald_ingest_rejects_total{reason="invalid"}'], "\n";

$relay->stop();
var_dump(herald_presence('presence-room'));
echo str_replace($relay->socket(), "SOCKET", herald_last_error()), "\n";
?>
--EXPECT--
bool(true)
bool(true)
bool(true)
bool(true)
bool(true)
NULL
array(0) {
}
NULL
string(51) "the relay refused the query: not a presence channel"
queries: 2
rejected: 0
NULL
lost the connection to the relay and cannot connect to SOCKET: No such file or directory
