--TEST--
sse_emit(): one string payload, byte-exact frame after a hello frame
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_sse_emit_basic.sock
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$srv = fake_relay_listen(ini_get('herald.socket'));

$before = hrtime(true);
var_dump(sse_emit('news', "a\nb"));
$after = hrtime(true);
var_dump(herald_last_error());

$c = fake_relay_accept($srv);
$hello = fake_relay_read_frame($c);
var_dump(bin2hex($hello['raw']) === hello_hex());
$f = fake_relay_read_frame($c);
echo frame_hex($f['raw']), "\n";
var_dump($f['frame']);
/* ts is CLOCK_MONOTONIC in ns, the clock of hrtime(). */
var_dump($f['frame']['ts'] >= $before && $f['frame']['ts'] <= $after);
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_sse_emit_basic.sock'); ?>
--EXPECTF--
bool(true)
NULL
bool(true)
85a26f70a3707562a174a3737365a26368a46e657773a27473cfTTTTTTTTTTTTTTTTa464617461a3610a62
array(5) {
  ["op"]=>
  string(3) "pub"
  ["t"]=>
  string(3) "sse"
  ["ch"]=>
  string(4) "news"
  ["ts"]=>
  int(%d)
  ["data"]=>
  string(3) "a
b"
}
bool(true)
