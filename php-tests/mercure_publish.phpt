--TEST--
herald_mercure_publish(): one pub frame with the "mercure" key (id, topics, private) and no "ch", event = type, retry, data; returns the id given or a new urn:uuid: (v4); the hello says protocol 4
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_mercure_publish.sock
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$srv = fake_relay_listen(ini_get('herald.socket'));

$ids = [];
$ids[] = herald_mercure_publish('https://example.com/books/1', '{"title":"é"}');
$ids[] = herald_mercure_publish(['https://example.com/books/1', 'https://example.com/users/dunglas/books/1'], 'private one', true, 'my-id-1', 'book.updated', 5000);
$ids[] = herald_mercure_publish('urn:x');
$ids[] = herald_mercure_publish(['a' => 'k1', 'b' => 'k2'], 'keys are ignored', false, null, '', 0);
foreach ($ids as $id) {
    echo preg_match('/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/', $id) ? 'uuid v4' : $id, "\n";
}
var_dump($ids[0] !== $ids[2], herald_last_error());

$c = fake_relay_accept($srv);
$hello = fake_relay_read_frame($c)['frame'];
echo "hello v{$hello['v']}\n";
foreach ($ids as $i => $id) {
    $f = fake_relay_read_frame($c)['frame'];
    $f['ts'] = is_int($f['ts']) ? 'T' : 'bad ts';
    if ($f['mercure']['id'] === $id) {
        $f['mercure']['id'] = '=returned';
    }
    echo json_encode($f, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE), "\n";
}

/* With herald.batch=1 the frame is buffered like any other; the id is known at once. */
ini_set('herald.batch', '1');
$id = herald_mercure_publish('urn:b', 'batched');
var_dump(herald_flush());
$f = fake_relay_read_frame($c)['frame'];
var_dump($f['mercure']['id'] === $id, $f['data']);
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_mercure_publish.sock'); ?>
--EXPECT--
uuid v4
my-id-1
uuid v4
uuid v4
bool(true)
NULL
hello v4
{"op":"pub","t":"all","mercure":{"id":"=returned","topics":["https://example.com/books/1"]},"ts":"T","data":"{\"title\":\"é\"}"}
{"op":"pub","t":"all","mercure":{"id":"=returned","topics":["https://example.com/books/1","https://example.com/users/dunglas/books/1"],"private":true},"event":"book.updated","retry":5000,"ts":"T","data":"private one"}
{"op":"pub","t":"all","mercure":{"id":"=returned","topics":["urn:x"]},"ts":"T","data":""}
{"op":"pub","t":"all","mercure":{"id":"=returned","topics":["k1","k2"]},"ts":"T","data":"keys are ignored"}
bool(true)
bool(true)
string(7) "batched"
