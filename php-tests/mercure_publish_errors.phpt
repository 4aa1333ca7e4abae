--TEST--
herald_mercure_publish(): what the relay would refuse is a ValueError (or TypeError) before anything is sent: topics, id, type, retry, data
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_mercure_publish_errors.sock
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$srv = fake_relay_listen(ini_get('herald.socket'));

foreach ([
    fn () => herald_mercure_publish([]),
    fn () => herald_mercure_publish(array_map(fn ($i) => "t$i", range(1, 33))),
    fn () => herald_mercure_publish(['ok', 7]),
    fn () => herald_mercure_publish(''),
    fn () => herald_mercure_publish(str_repeat('x', 2049)),
    fn () => herald_mercure_publish(['ok', str_repeat('x', 2049)]),
    fn () => herald_mercure_publish('*'),
    fn () => herald_mercure_publish(['a', '*']),
    fn () => herald_mercure_publish("a\nb"),
    fn () => herald_mercure_publish("tab\there"),
    fn () => herald_mercure_publish("del\x7f"),
    fn () => herald_mercure_publish("c1\u{85}"),
    fn () => herald_mercure_publish(['ok', "\xc3\x28"]),
    fn () => herald_mercure_publish('t', "\xff"),
    fn () => herald_mercure_publish('t', 'x', false, ''),
    fn () => herald_mercure_publish('t', 'x', false, str_repeat('i', 257)),
    fn () => herald_mercure_publish('t', 'x', false, '#fragment'),
    fn () => herald_mercure_publish('t', 'x', false, 'earliest'),
    fn () => herald_mercure_publish('t', 'x', false, "id\r"),
    fn () => herald_mercure_publish('t', 'x', false, null, 'mercure'),
    fn () => herald_mercure_publish('t', 'x', false, null, "a\nb"),
    fn () => herald_mercure_publish('t', 'x', false, null, str_repeat('e', 201)),
    fn () => herald_mercure_publish('t', 'x', false, null, null, -1),
    fn () => herald_mercure_publish('t', 'x', false, null, null, 86400001),
    fn () => herald_mercure_channel(''),
] as $f) {
    try {
        $f();
        echo "no exception\n";
    } catch (Throwable $e) {
        echo get_class($e), ': ', $e->getMessage(), "\n";
    }
}

/* The limits themselves pass: 32 topics of 2048 bytes, a 256-byte id, "*" inside a topic, U+00A0. */
$id = herald_mercure_publish(array_map(fn ($i) => str_pad("t$i", 2048, '/'), range(1, 32)), '', false, str_repeat('i', 256));
var_dump($id === str_repeat('i', 256));
var_dump(is_string(herald_mercure_publish("https://x/*/\u{a0}é", 'x', false, 'earliest2', 'mercure.x', 0)));

/* Nothing was sent for the refused calls: the first frame after hello is the first good one. */
$c = fake_relay_accept($srv);
fake_relay_read_frame($c);
$f = fake_relay_read_frame($c)['frame'];
var_dump(count($f['mercure']['topics']), $f['mercure']['id'] === $id);
var_dump(herald_last_error());
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_mercure_publish_errors.sock'); ?>
--EXPECT--
ValueError: herald_mercure_publish(): Argument #1 ($topics) must contain 1 to 32 topics
ValueError: herald_mercure_publish(): Argument #1 ($topics) must contain 1 to 32 topics
TypeError: herald_mercure_publish(): Argument #1 ($topics) must contain only strings, int given
ValueError: herald_mercure_publish(): Argument #1 ($topics) must be 1 to 2048 bytes long
ValueError: herald_mercure_publish(): Argument #1 ($topics) must be 1 to 2048 bytes long
ValueError: herald_mercure_publish(): Argument #1 ($topics) must contain topics of 1 to 2048 bytes
ValueError: herald_mercure_publish(): Argument #1 ($topics) must not be "*" (the selector of every topic, not a topic)
ValueError: herald_mercure_publish(): Argument #1 ($topics) must not be "*" (the selector of every topic, not a topic)
ValueError: herald_mercure_publish(): Argument #1 ($topics) must be valid UTF-8 without control characters
ValueError: herald_mercure_publish(): Argument #1 ($topics) must be valid UTF-8 without control characters
ValueError: herald_mercure_publish(): Argument #1 ($topics) must be valid UTF-8 without control characters
ValueError: herald_mercure_publish(): Argument #1 ($topics) must be valid UTF-8 without control characters
ValueError: herald_mercure_publish(): Argument #1 ($topics) must contain topics of valid UTF-8 without control characters
ValueError: herald_mercure_publish(): Argument #2 ($data) must be valid UTF-8
ValueError: herald_mercure_publish(): Argument #4 ($id) must be 1 to 256 bytes long
ValueError: herald_mercure_publish(): Argument #4 ($id) must be 1 to 256 bytes long
ValueError: herald_mercure_publish(): Argument #4 ($id) must not start with "#" (kept for the hub's own ids)
ValueError: herald_mercure_publish(): Argument #4 ($id) must not be "earliest" (the Last-Event-ID of the whole history)
ValueError: herald_mercure_publish(): Argument #4 ($id) must be valid UTF-8 without control characters
ValueError: herald_mercure_publish(): Argument #5 ($type) must not be "mercure" (kept for the hub's own events)
ValueError: herald_mercure_publish(): Argument #5 ($type) must be valid UTF-8 without control characters
ValueError: herald_mercure_publish(): Argument #5 ($type) must be at most 200 bytes long
ValueError: herald_mercure_publish(): Argument #6 ($retry) must be between 0 and 86400000 (ms)
ValueError: herald_mercure_publish(): Argument #6 ($retry) must be between 0 and 86400000 (ms)
ValueError: herald_mercure_channel(): Argument #1 ($topic) must not be empty
bool(true)
bool(true)
int(32)
bool(true)
NULL
