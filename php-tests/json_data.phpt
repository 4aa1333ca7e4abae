--TEST--
sse_emit(), ws_publish(): any $data that is not a string is sent as JSON made by ext/json
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_json_data.sock
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$srv = fake_relay_listen(ini_get('herald.socket'));

class Point implements JsonSerializable
{
    public function __construct(private int $x, private int $y) {}
    public function jsonSerialize(): mixed { return ['x' => $this->x, 'y' => $this->y]; }
}
class Plain { public $a = 1; protected $hidden = 2; public $url = 'https://e.x/é'; }

json_decode('{');                      /* leaves json_last_error() at 4 */
$values = [
    ['id' => 7, 'tags' => ['a', 'b'], 'ok' => true, 'none' => null],
    [1, 2.5, -3],
    42,
    1.0,
    false,
    null,
    new Point(3, 4),
    new Plain(),
    ['text' => "line\nbreak \"quoted\" </script> ü €"],
    [],
    new stdClass(),
];
foreach ($values as $v) {
    sse_emit('j', $v);
}
ws_publish('j', ['ws' => 'text frame']);
var_dump(json_last_error());           /* untouched */

$c = fake_relay_accept($srv);
fake_relay_read_frame($c);
foreach ($values as $v) {
    $f = fake_relay_read_frame($c)['frame'];
    echo $f['data'], "\n";
    if ($f['data'] !== json_encode($v, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE)) {
        echo "  differs from json_encode()\n";
    }
}
$f = fake_relay_read_frame($c)['frame'];
echo $f['t'], ' ', $f['data'], "\n";
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_json_data.sock'); ?>
--EXPECT--
int(4)
{"id":7,"tags":["a","b"],"ok":true,"none":null}
[1,2.5,-3]
42
1
false
null
{"x":3,"y":4}
{"a":1,"url":"https://e.x/é"}
{"text":"line\nbreak \"quoted\" </script> ü €"}
[]
{}
ws {"ws":"text frame"}
