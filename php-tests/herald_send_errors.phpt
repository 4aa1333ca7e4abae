--TEST--
herald_send(), herald_send_user(): ValueError for a bad connection id or user, or text that is not UTF-8; TypeError for bytes that are not a string; nothing is sent
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_herald_send_errors.sock
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$srv = fake_relay_listen(ini_get('herald.socket'));

$calls = [
    fn () => herald_send('', 'x'),
    fn () => herald_send(str_repeat('a', 65), 'x'),
    fn () => herald_send('Ab.1', 'x'),
    fn () => herald_send('a 1', 'x'),
    fn () => herald_send('a.1', "\xff"),
    fn () => herald_send('a.1', ['x'], true),
    fn () => herald_send_user('', 'x'),
    fn () => herald_send_user(str_repeat('u', 201), 'x'),
    fn () => herald_send_user('#c.a', 'x'),
    fn () => herald_send_user('u', "\xc3\x28"),
    fn () => herald_send_user('u', 1.5, true),
    fn () => herald_send('a.1', NAN),
];
foreach ($calls as $call) {
    try {
        $call();
        echo "no exception\n";
    } catch (Throwable $e) {
        echo get_class($e), ': ', $e->getMessage(), "\n";
    }
}
/* The longest id and user pass. */
var_dump(herald_send(str_repeat('a', 64), 'ok'));
var_dump(herald_send_user(str_repeat('u', 200), 'ok'));

$c = fake_relay_accept($srv);
fake_relay_read_frame($c);   /* hello */
echo strlen(fake_relay_read_frame($c)['frame']['conn']), "\n";
echo strlen(fake_relay_read_frame($c)['frame']['user']), "\n";
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_herald_send_errors.sock'); ?>
--EXPECT--
ValueError: herald_send(): Argument #1 ($connection) must be a connection id: 1 to 64 bytes of a-z 0-9 .
ValueError: herald_send(): Argument #1 ($connection) must be a connection id: 1 to 64 bytes of a-z 0-9 .
ValueError: herald_send(): Argument #1 ($connection) must be a connection id: 1 to 64 bytes of a-z 0-9 .
ValueError: herald_send(): Argument #1 ($connection) must be a connection id: 1 to 64 bytes of a-z 0-9 .
ValueError: herald_send(): Argument #2 ($data) must be valid UTF-8 (pass $binary = true for bytes)
TypeError: herald_send(): Argument #2 ($data) must be of type string when $binary is true, array given
ValueError: herald_send_user(): Argument #1 ($user) must be between 1 and 200 bytes long
ValueError: herald_send_user(): Argument #1 ($user) must be between 1 and 200 bytes long
ValueError: herald_send_user(): Argument #1 ($user) must contain only the characters A-Z a-z 0-9 _ . : @ = / , ; -
ValueError: herald_send_user(): Argument #2 ($data) must be valid UTF-8 (pass $binary = true for bytes)
TypeError: herald_send_user(): Argument #2 ($data) must be of type string when $binary is true, float given
JsonException: Inf and NaN cannot be JSON encoded
bool(true)
bool(true)
64
200
