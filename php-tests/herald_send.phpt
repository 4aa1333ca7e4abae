--TEST--
herald_send(), herald_send_user(): one "send" frame each (conn or user, data as for herald_publish: JSON marked, bytes as bin with "binary")
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_herald_send.sock
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$srv = fake_relay_listen(ini_get('herald.socket'));

var_dump(herald_send('0a1b2c3d.42', 'hi'));
var_dump(herald_send('0a1b2c3d.42', ['x' => 1, 'é' => '/']));
var_dump(herald_send('a.1', "\xff\x00", true));
var_dump(herald_send_user('alice@example.com', 'yo'));
var_dump(herald_send_user('u', 42));
var_dump(herald_last_error());

$c = fake_relay_accept($srv);
echo fake_relay_read_frame($c)['raw'] === hex2bin(hello_hex()) ? "hello\n" : "no hello\n";
/* Byte for byte: the keys and their order (ts masked). */
echo frame_hex(fake_relay_read_frame($c)['raw']), "\n";
for ($i = 0; $i < 4; $i++) {
    $f = fake_relay_read_frame($c)['frame'];
    unset($f['ts']);
    $d = $f['data'];
    $f['data'] = $d instanceof MsgpackBin ? 'bin ' . bin2hex($d->bytes) : $d;
    echo json_encode($f, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES), "\n";
}
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_herald_send.sock'); ?>
--EXPECT--
bool(true)
bool(true)
bool(true)
bool(true)
bool(true)
NULL
hello
84a26f70a473656e64a4636f6e6eab30613162326333642e3432a27473cfTTTTTTTTTTTTTTTTa464617461a26869
{"op":"send","conn":"0a1b2c3d.42","json":true,"data":"{\"x\":1,\"é\":\"/\"}"}
{"op":"send","conn":"a.1","binary":true,"data":"bin ff00"}
{"op":"send","user":"alice@example.com","data":"yo"}
{"op":"send","user":"u","json":true,"data":"42"}
