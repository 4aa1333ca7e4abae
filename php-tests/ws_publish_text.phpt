--TEST--
ws_publish(): a text payload goes as msgpack str with t="ws"
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_ws_publish_text.sock
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$srv = fake_relay_listen(ini_get('herald.socket'));

var_dump(ws_publish('room', 'héllo'));
var_dump(ws_publish('room', ''));
var_dump(ws_publish('room', str_repeat('z', 40), false));

$c = fake_relay_accept($srv);
fake_relay_read_frame($c);
for ($i = 0; $i < 3; $i++) {
    echo frame_hex(fake_relay_read_frame($c)['raw']), "\n";
}
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_ws_publish_text.sock'); ?>
--EXPECT--
bool(true)
bool(true)
bool(true)
85a26f70a3707562a174a27773a26368a4726f6f6da27473cfTTTTTTTTTTTTTTTTa464617461a668c3a96c6c6f
85a26f70a3707562a174a27773a26368a4726f6f6da27473cfTTTTTTTTTTTTTTTTa464617461a0
85a26f70a3707562a174a27773a26368a4726f6f6da27473cfTTTTTTTTTTTTTTTTa464617461d9287a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a
