--TEST--
A relay whose accept backlog is full: connecting waits at most herald.timeout_ms
--EXTENSIONS--
herald
sockets
--INI--
herald.socket={TMP}/herald_connect_backlog.sock
herald.timeout_ms=120
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$path = ini_get('herald.socket');
@unlink($path);
$ctx = stream_context_create(['socket' => ['backlog' => 0]]);
$srv = stream_socket_server("unix://$path", $errno, $errstr, STREAM_SERVER_BIND | STREAM_SERVER_LISTEN, $ctx);
/* Fill the backlog with connections nobody accepts. */
$fill = [];
for ($i = 0; $i < 8; $i++) {
    $s = socket_create(AF_UNIX, SOCK_STREAM, 0);
    socket_set_nonblock($s);
    @socket_connect($s, $path);
    $fill[] = $s;
}
[$r, $wall, $own] = timed(fn () => @sse_emit('b', 'x'));
var_dump($r);
var_dump($wall >= 110, $own < 120 + 400);
echo preg_replace('/ \S+herald_connect_backlog.sock/', ' PATH', herald_last_error()), "\n";

/* Room again: the next call gets through. */
foreach ($fill as $s) {
    socket_close($s);
}
while ($c = @stream_socket_accept($srv, 0)) {
    fclose($c);
}
var_dump(sse_emit('b', 'y'));
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_connect_backlog.sock'); ?>
--EXPECT--
bool(false)
bool(true)
bool(true)
timed out after 120 ms connecting to PATH (the relay does not accept)
bool(true)
