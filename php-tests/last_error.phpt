--TEST--
herald_last_error(): null until a call fails, the reason after it, null again after a success or a thrown error
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_last_error.sock
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
@unlink(ini_get('herald.socket'));
var_dump(herald_last_error());
var_dump(@sse_emit('a', 'b'));
var_dump(is_string(herald_last_error()));
try {
    sse_emit('', 'b');
} catch (ValueError $e) {
}
var_dump(herald_last_error());
var_dump(@ws_publish('a', 'b'), is_string(herald_last_error()));
$srv = fake_relay_listen(ini_get('herald.socket'));
var_dump(ws_publish('a', 'b'), herald_last_error());
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_last_error.sock'); ?>
--EXPECT--
NULL
bool(false)
bool(true)
NULL
bool(false)
bool(true)
bool(true)
NULL
