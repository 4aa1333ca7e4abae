--TEST--
1 MiB payloads: SSE text, WebSocket text and binary, JSON; each arrives whole (str32/bin32)
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_payload_1mib.sock
herald.timeout_ms=10000
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$relay = new FakeRelayProcess(ini_get('herald.socket'), 'ok');

$mib = 1 << 20;
$text = str_repeat("0123456789abcdef\n", intdiv($mib, 17) + 1);
$text = substr($text, 0, $mib);
$utf8 = str_repeat('€', intdiv($mib, 3));            /* 3-byte characters */
mt_srand(42);
$bin = '';
for ($i = 0; $i < $mib / 4; $i++) {
    $bin .= pack('N', mt_rand(0, 0x7fffffff) ^ ($i << 7));
}
$rows = array_fill(0, 20000, ['id' => 123456, 'name' => 'a row of data', 'tags' => ['x', 'y']]);
$json = json_encode($rows, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);

var_dump(sse_emit('big', $text), ws_publish('big', $utf8), ws_publish('big', $bin, true), sse_emit('big', $rows));
$relay->frame();
foreach ([$text, $utf8, $bin, $json] as $want) {
    $d = $relay->frame(10)['frame']['data'];
    printf("%s %d %s\n", $d['bin'] ? 'bin' : 'str', $d['len'], json_encode($d['len'] === strlen($want) && $d['md5'] === md5($want)));
}
$relay->stop();
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_payload_1mib.sock'); ?>
--EXPECT--
bool(true)
bool(true)
bool(true)
bool(true)
str 1048576 true
str 1048575 true
bin 1048576 true
str 1080001 true
