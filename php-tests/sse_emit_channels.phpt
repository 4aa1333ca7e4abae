--TEST--
sse_emit(), ws_publish(): an array of channels goes as one frame with "ch" an array
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_sse_emit_channels.sock
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$srv = fake_relay_listen(ini_get('herald.socket'));

var_dump(sse_emit(['a', 'b.c'], 'x'));
/* Keys do not matter, references are followed, order is kept. */
$ref = 'user:1@x=y/z-w_v';
$chs = ['k' => 'one', 7 => &$ref];
var_dump(ws_publish($chs, 'y'));
var_dump(sse_emit(['solo'], 'z'));
$many = array_map(fn ($i) => "c$i", range(1, 17));
var_dump(sse_emit($many, 'w'));

$c = fake_relay_accept($srv);
fake_relay_read_frame($c);
for ($i = 0; $i < 3; $i++) {
    echo frame_hex(fake_relay_read_frame($c)['raw']), "\n";
}
$f = fake_relay_read_frame($c);
echo substr(bin2hex($f['raw']), 0, 40), "\n";
var_dump($f['frame']['ch'] === $many);
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_sse_emit_channels.sock'); ?>
--EXPECT--
bool(true)
bool(true)
bool(true)
bool(true)
85a26f70a3707562a174a3737365a2636892a161a3622e63a27473cfTTTTTTTTTTTTTTTTa464617461a178
85a26f70a3707562a174a27773a2636892a36f6e65b0757365723a3140783d792f7a2d775f76a27473cfTTTTTTTTTTTTTTTTa464617461a179
85a26f70a3707562a174a3737365a2636891a4736f6c6fa27473cfTTTTTTTTTTTTTTTTa464617461a17a
85a26f70a3707562a174a3737365a26368dc0011
bool(true)
