--TEST--
sse_emit(): CR or LF in an event name and a retry below 1 are ValueErrors; nothing is sent
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_event_retry_errors.sock
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$srv = fake_relay_listen(ini_get('herald.socket'));

foreach (["a\rb", "a\nb", "\r\n", "end\n"] as $ev) {
    try {
        sse_emit('c', 'd', $ev);
    } catch (ValueError $e) {
        echo json_encode($ev), ': ', $e->getMessage(), "\n";
    }
}
foreach ([0, -1, PHP_INT_MIN] as $retry) {
    try {
        sse_emit('c', 'd', 'e', $retry);
    } catch (ValueError $e) {
        echo $retry, ': ', $e->getMessage(), "\n";
    }
}
var_dump(sse_emit('c', 'last'));
$c = fake_relay_accept($srv);
fake_relay_read_frame($c);
echo fake_relay_read_frame($c)['frame']['data'], "\n";
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_event_retry_errors.sock'); ?>
--EXPECT--
"a\rb": sse_emit(): Argument #3 ($event) must not contain carriage return or line feed characters
"a\nb": sse_emit(): Argument #3 ($event) must not contain carriage return or line feed characters
"\r\n": sse_emit(): Argument #3 ($event) must not contain carriage return or line feed characters
"end\n": sse_emit(): Argument #3 ($event) must not contain carriage return or line feed characters
0: sse_emit(): Argument #4 ($retry) must be greater than 0
-1: sse_emit(): Argument #4 ($retry) must be greater than 0
-9223372036854775808: sse_emit(): Argument #4 ($retry) must be greater than 0
bool(true)
last
