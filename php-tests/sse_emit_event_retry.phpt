--TEST--
sse_emit(): event and retry keys, byte-exact
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_sse_emit_event_retry.sock
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$srv = fake_relay_listen(ini_get('herald.socket'));

var_dump(sse_emit('chat.42', 'hi', 'update', 3000));
var_dump(sse_emit('chat.42', 'hi', null, 1));
var_dump(sse_emit('chat.42', 'hi', 'ünï', null));
var_dump(sse_emit('chat.42', 'hi', '', PHP_INT_MAX));

$c = fake_relay_accept($srv);
fake_relay_read_frame($c);
for ($i = 0; $i < 4; $i++) {
    echo frame_hex(fake_relay_read_frame($c)['raw']), "\n";
}
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_sse_emit_event_retry.sock'); ?>
--EXPECT--
bool(true)
bool(true)
bool(true)
bool(true)
87a26f70a3707562a174a3737365a26368a7636861742e3432a56576656e74a6757064617465a57265747279cd0bb8a27473cfTTTTTTTTTTTTTTTTa464617461a26869
86a26f70a3707562a174a3737365a26368a7636861742e3432a5726574727901a27473cfTTTTTTTTTTTTTTTTa464617461a26869
86a26f70a3707562a174a3737365a26368a7636861742e3432a56576656e74a5c3bc6ec3afa27473cfTTTTTTTTTTTTTTTTa464617461a26869
87a26f70a3707562a174a3737365a26368a7636861742e3432a56576656e74a0a57265747279cf7fffffffffffffffa27473cfTTTTTTTTTTTTTTTTa464617461a26869
