--TEST--
herald_publish(): one frame with t "all"; a string as it is, any other value as JSON marked json: true (as sse_emit() and ws_publish() now mark theirs); errors as sse_emit()'s
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_publish.sock
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$srv = fake_relay_listen(ini_get('herald.socket'));

var_dump(herald_publish('news', "plain text é"));
var_dump(herald_publish(['a', 'b.c'], ['order' => 7, 'total' => 12.5, 'tags' => ['x', null]], 'update'));
var_dump(herald_publish('n', 42));
var_dump(herald_publish('n', null));
var_dump(herald_publish('n', '{"looks":"like json"}'));
var_dump(sse_emit('s', ['sse' => true]));
var_dump(sse_emit('s', 'sse text'));
var_dump(ws_publish('w', [1, 2]));
var_dump(ws_publish('w', 'ws text'));
var_dump(ws_publish('w', "\xff\x00", true));
var_dump(herald_publish('room', ['text' => 'hi'], 'said', '3735928559.17'));

$c = fake_relay_accept($srv);
fake_relay_read_frame($c);   /* hello */
for ($i = 0; $i < 11; $i++) {
    $f = fake_relay_read_frame($c)['frame'];
    printf("%s %s %s json=%s event=%s%s\n", $f['t'], json_encode($f['ch']), $f['data'] instanceof MsgpackBin ? 'bytes' : $f['data'],
        array_key_exists('json', $f) ? var_export($f['json'], true) : '-', $f['event'] ?? '-',
        isset($f['except']) ? " except={$f['except']}" : '');
}

/* Programming errors throw, as for sse_emit(). */
foreach ([
    fn () => herald_publish('n', "\xc3\x28"),
    fn () => herald_publish('n', 'x', "a\nb"),
    fn () => herald_publish('n', 'x', "\xff"),
    fn () => herald_publish('bad name', 'x'),
    fn () => herald_publish([], 'x'),
    fn () => herald_publish(['ok', 7], 'x'),
    fn () => herald_publish('n', NAN),
    fn () => herald_publish('n', 'x', null, 'Not An Id'),
    fn () => herald_publish('n', 'x', null, ''),
    fn () => sse_emit('n', "\xc3\x28"),
] as $f) {
    try {
        $f();
        echo "no exception\n";
    } catch (Throwable $e) {
        echo get_class($e), ': ', $e->getMessage(), "\n";
    }
}
var_dump(herald_last_error());
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_publish.sock'); ?>
--EXPECT--
bool(true)
bool(true)
bool(true)
bool(true)
bool(true)
bool(true)
bool(true)
bool(true)
bool(true)
bool(true)
bool(true)
all "news" plain text é json=- event=-
all ["a","b.c"] {"order":7,"total":12.5,"tags":["x",null]} json=true event=update
all "n" 42 json=true event=-
all "n" null json=true event=-
all "n" {"looks":"like json"} json=- event=-
sse "s" {"sse":true} json=true event=-
sse "s" sse text json=- event=-
ws "w" [1,2] json=true event=-
ws "w" ws text json=- event=-
ws "w" bytes json=- event=-
all "room" {"text":"hi"} json=true event=said except=3735928559.17
ValueError: herald_publish(): Argument #2 ($data) must be valid UTF-8 (use ws_publish() with $binary = true for bytes)
ValueError: herald_publish(): Argument #3 ($event) must not contain carriage return or line feed characters
ValueError: herald_publish(): Argument #3 ($event) must be valid UTF-8
ValueError: herald_publish(): Argument #1 ($channel) must contain only the characters A-Z a-z 0-9 _ . : @ = / , ; -
ValueError: herald_publish(): Argument #1 ($channel) must not be an empty array
TypeError: herald_publish(): Argument #1 ($channel) must contain only strings, int given
JsonException: Inf and NaN cannot be JSON encoded
ValueError: herald_publish(): Argument #4 ($except) must be a connection id: 1 to 64 bytes of a-z 0-9 .
ValueError: herald_publish(): Argument #4 ($except) must be a connection id: 1 to 64 bytes of a-z 0-9 .
ValueError: sse_emit(): Argument #2 ($data) must be valid UTF-8 (use ws_publish() with $binary = true for bytes)
NULL
