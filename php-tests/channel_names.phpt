--TEST--
Channel names: 1-200 bytes of [A-Za-z0-9_.:@=/,;-], one or an array of them; ValueError/TypeError otherwise
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_channel_names.sock
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$srv = fake_relay_listen(ini_get('herald.socket'));

$all = implode('', range('A', 'Z')) . implode('', range('a', 'z')) . '0123456789_.:@=/,;-';
var_dump(sse_emit($all, 'ok'), ws_publish(str_repeat('x', 200), 'ok'), sse_emit('7', 'ok'), sse_emit('presence-a,b;c', 'ok'));

$bad = [
    'empty' => '', '201 bytes' => str_repeat('x', 201), 'space' => 'a b', 'newline' => "a\n",
    'hash' => 'a#b', 'umlaut' => 'ä', 'nul' => "a\0", 'star' => '*',
    'empty array' => [], 'int in array' => ['ok', 5], 'null in array' => [null],
    'array in array' => [['a']], 'bad in array' => ['ok', 'no way'], 'long in array' => [str_repeat('y', 201)],
    'empty in array' => [''],
];
foreach ($bad as $name => $ch) {
    foreach (['sse_emit', 'ws_publish'] as $fn) {
        try {
            $fn($ch, 'data');
            echo "$name: $fn accepted\n";
        } catch (ValueError | TypeError $e) {
            if ($fn === 'sse_emit') {
                echo str_pad($name, 15), get_class($e), ': ', $e->getMessage(), "\n";
            }
        }
    }
}
$c = fake_relay_accept($srv);
fake_relay_read_frame($c);
for ($i = 0; $i < 4; $i++) {
    echo strlen(fake_relay_read_frame($c)['frame']['ch']), "\n";
}
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_channel_names.sock'); ?>
--EXPECT--
bool(true)
bool(true)
bool(true)
bool(true)
empty          ValueError: sse_emit(): Argument #1 ($channel) must be between 1 and 200 bytes long
201 bytes      ValueError: sse_emit(): Argument #1 ($channel) must be between 1 and 200 bytes long
space          ValueError: sse_emit(): Argument #1 ($channel) must contain only the characters A-Z a-z 0-9 _ . : @ = / , ; -
newline        ValueError: sse_emit(): Argument #1 ($channel) must contain only the characters A-Z a-z 0-9 _ . : @ = / , ; -
hash           ValueError: sse_emit(): Argument #1 ($channel) must contain only the characters A-Z a-z 0-9 _ . : @ = / , ; -
umlaut         ValueError: sse_emit(): Argument #1 ($channel) must contain only the characters A-Z a-z 0-9 _ . : @ = / , ; -
nul            ValueError: sse_emit(): Argument #1 ($channel) must contain only the characters A-Z a-z 0-9 _ . : @ = / , ; -
star           ValueError: sse_emit(): Argument #1 ($channel) must contain only the characters A-Z a-z 0-9 _ . : @ = / , ; -
empty array    ValueError: sse_emit(): Argument #1 ($channel) must not be an empty array
int in array   TypeError: sse_emit(): Argument #1 ($channel) must contain only strings, int given
null in array  TypeError: sse_emit(): Argument #1 ($channel) must contain only strings, null given
array in array TypeError: sse_emit(): Argument #1 ($channel) must contain only strings, array given
bad in array   ValueError: sse_emit(): Argument #1 ($channel) must contain channel names of only the characters A-Z a-z 0-9 _ . : @ = / , ; -
long in array  ValueError: sse_emit(): Argument #1 ($channel) must contain channel names between 1 and 200 bytes long
empty in array ValueError: sse_emit(): Argument #1 ($channel) must contain channel names between 1 and 200 bytes long
71
200
1
14
