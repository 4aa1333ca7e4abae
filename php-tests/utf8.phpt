--TEST--
Text that is not well-formed UTF-8 is refused: SSE data, WebSocket text, event names
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_utf8.sock
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$srv = fake_relay_listen(ini_get('herald.socket'));

$good = [
    "\x7f", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80",
    "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf", "日本語 🎉 ÿ",
    str_repeat('a', 13) . "é" . str_repeat('b', 21),
];
$bad = [
    'overlong 2' => "\xc0\x80", 'overlong 2b' => "\xc1\xbf", 'overlong 3' => "\xe0\x80\x80",
    'overlong 4' => "\xf0\x80\x80\x80", 'surrogate' => "\xed\xa0\x80", 'above max' => "\xf4\x90\x80\x80",
    'f5' => "\xf5\x80\x80\x80", 'ff' => "\xff", 'lone continuation' => "\x80",
    'truncated 3' => "\xe2\x82", 'truncated at end' => "abc\xe2\x82",
    'bad continuation' => "\xe2\x28\xa1", 'after 8 ascii' => "12345678\xff",
    'after 17 ascii' => str_repeat('x', 17) . "\xc3",
];
$sent = 0;
foreach ($good as $s) {
    $sent += sse_emit('u', $s) + ws_publish('u', $s) + sse_emit('u', 'x', $s);
}
echo "$sent sent\n";
foreach ($bad as $name => $s) {
    $errors = [];
    foreach ([fn () => sse_emit('u', $s), fn () => ws_publish('u', $s), fn () => sse_emit('u', 'x', $s)] as $f) {
        try {
            $f();
            $errors[] = 'accepted';
        } catch (ValueError $e) {
            $errors[] = preg_replace('/^(\w+)\(\): Argument #(\d).*/', '$1 #$2', $e->getMessage());
        }
    }
    echo str_pad($name, 18), implode(', ', $errors), "\n";
}
echo (new ValueError('x') instanceof Throwable) ? '' : '', "\n";
try {
    sse_emit('u', "\xff");
} catch (ValueError $e) {
    echo $e->getMessage(), "\n";
}
try {
    sse_emit('u', 'x', "\xff");
} catch (ValueError $e) {
    echo $e->getMessage(), "\n";
}

$c = fake_relay_accept($srv);
fake_relay_read_frame($c);
$n = 0;
while ($n < $sent) {
    fake_relay_read_frame($c);
    $n++;
}
echo "$n received\n";
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_utf8.sock'); ?>
--EXPECT--
33 sent
overlong 2        sse_emit #2, ws_publish #2, sse_emit #3
overlong 2b       sse_emit #2, ws_publish #2, sse_emit #3
overlong 3        sse_emit #2, ws_publish #2, sse_emit #3
overlong 4        sse_emit #2, ws_publish #2, sse_emit #3
surrogate         sse_emit #2, ws_publish #2, sse_emit #3
above max         sse_emit #2, ws_publish #2, sse_emit #3
f5                sse_emit #2, ws_publish #2, sse_emit #3
ff                sse_emit #2, ws_publish #2, sse_emit #3
lone continuation sse_emit #2, ws_publish #2, sse_emit #3
truncated 3       sse_emit #2, ws_publish #2, sse_emit #3
truncated at end  sse_emit #2, ws_publish #2, sse_emit #3
bad continuation  sse_emit #2, ws_publish #2, sse_emit #3
after 8 ascii     sse_emit #2, ws_publish #2, sse_emit #3
after 17 ascii    sse_emit #2, ws_publish #2, sse_emit #3

sse_emit(): Argument #2 ($data) must be valid UTF-8 (use ws_publish() with $binary = true for bytes)
sse_emit(): Argument #3 ($event) must be valid UTF-8
33 received
