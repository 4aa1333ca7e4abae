--TEST--
herald_presence(): an acknowledged "presence" frame on the socket; the member list (JSON text in the ack) decoded, however large (2.6 MB here; up to 16 MiB); null with herald_last_error() for a refusal, a list that is not JSON, an answer without one; publishes with acks still work after a large answer
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_herald_presence.sock
herald.timeout_ms=20000
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$relay = new FakeRelayProcess(ini_get('herald.socket'), 'members');

var_dump(herald_presence('presence-room'));
var_dump(herald_last_error());
$relay->frame();   /* hello */
$f = $relay->frame()['frame'];
echo json_encode($f), "\n";

$big = herald_presence('presence-big');
echo count($big), ' ', $big[59999]['user'], ' ', $big[59999]['info']['n'], "\n";
$relay->frame();

foreach (['presence-nack', 'presence-bad', 'presence-none'] as $ch) {
    var_dump(herald_presence($ch));
    echo herald_last_error(), "\n";
    $relay->frame();
}

/* The connection is whole: acknowledged publishes, another query. */
ini_set('herald.ack', '1');
var_dump(herald_send('a.1', 'after'), herald_publish('c', 'after'));
ini_set('herald.ack', '0');
echo count(herald_presence('presence-room')), "\n";

try {
    herald_presence('bad name');
} catch (ValueError $e) {
    echo $e->getMessage(), "\n";
}
ini_set('herald.enabled', '0');
var_dump(herald_presence('presence-room'), herald_last_error());
$relay->stop();
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_herald_presence.sock'); ?>
--EXPECT--
array(2) {
  [0]=>
  array(2) {
    ["user"]=>
    string(5) "alice"
    ["info"]=>
    array(1) {
      ["name"]=>
      string(5) "Alice"
    }
  }
  [1]=>
  array(2) {
    ["user"]=>
    string(3) "bob"
    ["info"]=>
    NULL
  }
}
NULL
{"op":"presence","ch":"presence-room","ack":1}
60000 user059999 59999
NULL
the relay refused the query: not a presence channel
NULL
the relay's member list is not a JSON list of members
NULL
the relay's answer has no member list
bool(true)
bool(true)
2
herald_presence(): Argument #1 ($channel) must contain only the characters A-Z a-z 0-9 _ . : @ = / , ; -
NULL
string(42) "publishing is disabled by herald.enabled=0"
