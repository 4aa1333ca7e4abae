--TEST--
ini_set('herald.socket') at run time: the next call connects to the new path
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_ini_socket_a.sock
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$a = fake_relay_listen(ini_get('herald.socket'));
$b = fake_relay_listen($pathB = sys_get_temp_dir() . '/herald_ini_socket_b.sock');

var_dump(sse_emit('s', 'to a'));
ini_set('herald.socket', $pathB);
var_dump(sse_emit('s', 'to b'));

$ca = fake_relay_accept($a);
fake_relay_read_frame($ca);
echo fake_relay_read_frame($ca)['frame']['data'], "\n";
$cb = fake_relay_accept($b);
var_dump(bin2hex(fake_relay_read_frame($cb)['raw']) === hello_hex());
echo fake_relay_read_frame($cb)['frame']['data'], "\n";
?>
--CLEAN--
<?php
@unlink(sys_get_temp_dir() . '/herald_ini_socket_a.sock');
@unlink(sys_get_temp_dir() . '/herald_ini_socket_b.sock');
?>
--EXPECT--
bool(true)
bool(true)
to a
bool(true)
to b
