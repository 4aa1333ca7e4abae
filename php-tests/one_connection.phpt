--TEST--
One connection per process: 2000 publishes share it, in order
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_one_connection.sock
herald.timeout_ms=5000
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$relay = new FakeRelayProcess(ini_get('herald.socket'));
$ok = 0;
$hellos = 0;
$conns = [];
$next = 0;
$inorder = true;
/* Read the child's reports as we go: its stdout is a pipe that must not fill. */
for ($i = 0; $i < 2000; $i++) {
    $ok += $i % 2 ? sse_emit('n', (string) $i) : ws_publish(['n', 'm'], (string) $i);
    if ($i % 100 === 99) {
        for ($j = $i === 99 ? -1 : 0; $j < 100; $j++) {
            $r = $relay->frame();
            $conns[$r['conn']] = true;
            if ($r['frame']['op'] === 'hello') {
                $hellos++;
                continue;
            }
            $inorder = $inorder && hex2bin($r['frame']['data']['hex']) === (string) $next++;
        }
    }
}
echo "$ok sent\n";
echo count($conns), " connection, $hellos hello, in order: ", json_encode($inorder), "\n";
$relay->stop();
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_one_connection.sock'); ?>
--EXPECT--
2000 sent
1 connection, 1 hello, in order: true
