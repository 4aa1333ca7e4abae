--TEST--
herald.enabled=0: arguments are still checked, nothing is sent, false without a warning
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_enabled_off.sock
herald.enabled=0
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$srv = fake_relay_listen(ini_get('herald.socket'));
var_dump(sse_emit('a', 'b'), ws_publish('a', ['x' => 1]), herald_last_error());
try {
    sse_emit('bad channel', 'b');
} catch (ValueError $e) {
    echo $e->getMessage(), "\n";
}
try {
    ws_publish('a', NAN);
} catch (JsonException $e) {
    echo $e->getMessage(), "\n";
}
var_dump(@stream_socket_accept($srv, 0));   /* a connect would be queued by now */
ini_set('herald.enabled', '1');
var_dump(sse_emit('a', 'on'));
var_dump(is_resource(fake_relay_accept($srv)));
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_enabled_off.sock'); ?>
--EXPECT--
bool(false)
bool(false)
string(42) "publishing is disabled by herald.enabled=0"
sse_emit(): Argument #1 ($channel) must contain only the characters A-Z a-z 0-9 _ . : @ = / , ; -
Inf and NaN cannot be JSON encoded
bool(false)
bool(true)
bool(true)
