--TEST--
sse_emit(), ws_publish(): data that JSON cannot encode throws ext/json's JsonException and sends nothing
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_json_errors.sock
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$srv = fake_relay_listen(ini_get('herald.socket'));

class Boom implements JsonSerializable
{
    public function jsonSerialize(): mixed { throw new LogicException('boom'); }
}
class Nested implements JsonSerializable
{
    /* User code run while the outer call encodes: it may publish too. */
    public function jsonSerialize(): mixed { sse_emit('inner', 'from jsonSerialize'); return 'outer'; }
}
$rec = ['x' => 1];
$rec['self'] = &$rec;
$deep = [];
for ($i = 0, $p = &$deep; $i < 600; $i++) { $p['d'] = []; $p = &$p['d']; }
unset($p);

$cases = [
    'nan' => fn () => sse_emit('j', [NAN]),
    'inf' => fn () => ws_publish('j', INF),
    'recursion' => fn () => sse_emit('j', $rec),
    'utf8' => fn () => sse_emit('j', ['bad' => "\xff"]),
    'resource' => fn () => sse_emit('j', [STDIN]),
    'depth' => fn () => sse_emit('j', $deep),
    'jsonSerialize' => fn () => sse_emit('j', new Boom()),
];
foreach ($cases as $name => $f) {
    try {
        var_dump($f());
    } catch (Throwable $e) {
        printf("%s: %s: %s (%d)\n", $name, get_class($e), $e->getMessage(), $e->getCode());
    }
}
var_dump(json_last_error(), herald_last_error());

var_dump(sse_emit(['a', 'b'], new Nested()));
$c = fake_relay_accept($srv);
fake_relay_read_frame($c);
/* Nothing from the failed calls: the inner publish, then the outer one. */
foreach ([1, 2] as $_) {
    $f = fake_relay_read_frame($c)['frame'];
    echo json_encode($f['ch']), ' ', $f['data'], "\n";
}
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_json_errors.sock'); ?>
--EXPECT--
nan: JsonException: Inf and NaN cannot be JSON encoded (7)
inf: JsonException: Inf and NaN cannot be JSON encoded (7)
recursion: JsonException: Recursion detected (6)
utf8: JsonException: Malformed UTF-8 characters, possibly incorrectly encoded (5)
resource: JsonException: Type is not supported (8)
depth: JsonException: Maximum stack depth exceeded (1)
jsonSerialize: LogicException: boom (0)
int(0)
NULL
bool(true)
"inner" from jsonSerialize
["a","b"] "outer"
