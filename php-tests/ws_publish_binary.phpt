--TEST--
ws_publish(..., binary: true): bytes go as msgpack bin, whatever they are
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_ws_publish_binary.sock
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$srv = fake_relay_listen(ini_get('herald.socket'));

$all = implode('', array_map('chr', range(0, 255)));
var_dump(ws_publish('bin', "\x00\xff", true));
var_dump(ws_publish('bin', '', binary: true));
var_dump(ws_publish('bin', $all, true));
var_dump(ws_publish('bin', "\xc0\x80 not UTF-8", true));
try {
    ws_publish('bin', ['no'], true);
} catch (TypeError $e) {
    echo get_class($e), ': ', $e->getMessage(), "\n";
}
try {
    ws_publish('bin', "\xc0\x80", false);
} catch (ValueError $e) {
    echo get_class($e), ': ', $e->getMessage(), "\n";
}

$c = fake_relay_accept($srv);
fake_relay_read_frame($c);
echo frame_hex(fake_relay_read_frame($c)['raw']), "\n";
echo frame_hex(fake_relay_read_frame($c)['raw']), "\n";
$f = fake_relay_read_frame($c);
echo substr(bin2hex($f['raw']), -520, 8), "\n";   /* bin16 header: c5 0100 */
var_dump($f['frame']['data'] instanceof MsgpackBin && $f['frame']['data']->bytes === $all);
$f = fake_relay_read_frame($c);
var_dump($f['frame']['data']->bytes === "\xc0\x80 not UTF-8");
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_ws_publish_binary.sock'); ?>
--EXPECT--
bool(true)
bool(true)
bool(true)
bool(true)
TypeError: ws_publish(): Argument #2 ($data) must be of type string when $binary is true, array given
ValueError: ws_publish(): Argument #2 ($data) must be valid UTF-8 (use ws_publish() with $binary = true for bytes)
85a26f70a3707562a174a27773a26368a362696ea27473cfTTTTTTTTTTTTTTTTa464617461c40200ff
85a26f70a3707562a174a27773a26368a362696ea27473cfTTTTTTTTTTTTTTTTa464617461c400
61c50100
bool(true)
bool(true)
