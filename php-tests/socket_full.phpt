--TEST--
A relay that does not read: the call that finds the socket full returns false after herald.timeout_ms, and the next connection starts clean
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_socket_full.sock
herald.timeout_ms=150
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$srv = fake_relay_listen(ini_get('herald.socket'));

$chunk = str_repeat('x', 64 * 1024);
$ok = 0;
for ($i = 0; $i < 200; $i++) {
    [$r, $wall, $own] = timed(fn () => @sse_emit('full', $chunk));
    if (!$r) {
        break;
    }
    $ok++;
}
var_dump($r, $ok > 0 && $ok < 200);
printf("took at least 140 ms: %s, at most 150 ms plus slack: %s\n",
    json_encode($wall >= 140), json_encode($own < 150 + 400));
echo preg_replace('/ \S+herald_socket_full.sock/', ' PATH', herald_last_error()), "\n";

/* The relay reads now: the old connection holds whole frames, then the
 * start of the cut one. It carries no more frames; the extension keeps it
 * only to see the relay read. */
$c = fake_relay_accept($srv);
fake_relay_read_frame($c);
for ($i = 0; $i < $ok; $i++) {
    fake_relay_read_frame($c);
}

/* The relay read since the timeout, so the next call goes out at once, on a
 * new connection, and the old one ends. */
var_dump(sse_emit('full', 'after'));
try {
    fake_relay_read_frame($c);
} catch (RuntimeException $e) {
    echo preg_replace('/\d+ bytes/', 'N bytes', $e->getMessage()), "\n";
}
$c2 = fake_relay_accept($srv);
fake_relay_read_frame($c2);
echo fake_relay_read_frame($c2)['frame']['data'], "\n";
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_socket_full.sock'); ?>
--EXPECT--
bool(false)
bool(true)
took at least 140 ms: true, at most 150 ms plus slack: true
timed out after 150 ms writing to PATH (the relay is not reading)
bool(true)
connection closed after N bytes
after
