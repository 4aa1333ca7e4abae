--TEST--
TypeError and ArgumentCountError per the signatures of Contract 3 (strict and coercive modes)
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_type_errors.sock
--FILE--
<?php
declare(strict_types=1);
require __DIR__ . '/inc/fake_relay.inc';
$srv = fake_relay_listen(ini_get('herald.socket'));

$calls = [
    fn () => sse_emit(new stdClass(), 'x'),
    fn () => sse_emit(42, 'x'),
    fn () => sse_emit(null, 'x'),
    fn () => sse_emit('c', 'x', 5),
    fn () => sse_emit('c', 'x', null, '5'),
    fn () => sse_emit('c', 'x', null, 1.5),
    fn () => ws_publish('c', 'x', 'yes'),
    fn () => ws_publish(false, 'x'),
    fn () => sse_emit('c'),
    fn () => ws_publish(),
    fn () => sse_emit('c', 'x', 'e', 1, 'extra'),
    fn () => ws_publish('c', 'x', true, 'extra'),
    fn () => herald_last_error(1),
];
foreach ($calls as $f) {
    try {
        $f();
        echo "no error\n";
    } catch (TypeError $e) {
        echo get_class($e), ': ', $e->getMessage(), "\n";
    }
}
/* Coercive mode, in a file without strict_types: an int channel becomes a string. */
file_put_contents(__DIR__ . '/type_errors.coerce.inc', '<?php var_dump(sse_emit(42, "coerced"), ws_publish("c", "x", 1));');
require __DIR__ . '/type_errors.coerce.inc';
$c = fake_relay_accept($srv);
fake_relay_read_frame($c);
var_dump(fake_relay_read_frame($c)['frame']['ch']);
?>
--CLEAN--
<?php
@unlink(sys_get_temp_dir() . '/herald_type_errors.sock');
@unlink(__DIR__ . '/type_errors.coerce.inc');
?>
--EXPECT--
TypeError: sse_emit(): Argument #1 ($channel) must be of type array|string, stdClass given
TypeError: sse_emit(): Argument #1 ($channel) must be of type array|string, int given
TypeError: sse_emit(): Argument #1 ($channel) must be of type array|string, null given
TypeError: sse_emit(): Argument #3 ($event) must be of type ?string, int given
TypeError: sse_emit(): Argument #4 ($retry) must be of type ?int, string given
TypeError: sse_emit(): Argument #4 ($retry) must be of type ?int, float given
TypeError: ws_publish(): Argument #3 ($binary) must be of type bool, string given
TypeError: ws_publish(): Argument #1 ($channel) must be of type array|string, bool given
ArgumentCountError: sse_emit() expects at least 2 arguments, 1 given
ArgumentCountError: ws_publish() expects at least 2 arguments, 0 given
ArgumentCountError: sse_emit() expects at most 4 arguments, 5 given
ArgumentCountError: ws_publish() expects at most 3 arguments, 4 given
ArgumentCountError: herald_last_error() expects exactly 0 arguments, 1 given
bool(true)
bool(true)
string(2) "42"
