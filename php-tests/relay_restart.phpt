--TEST--
Relay restarted: the next call reconnects once and succeeds; a relay gone for good costs false, no SIGPIPE
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_relay_restart.sock
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$path = ini_get('herald.socket');

$srv = fake_relay_listen($path);
var_dump(sse_emit('r', 'one'));
$c = fake_relay_accept($srv);
var_dump(bin2hex(fake_relay_read_frame($c)['raw']) === hello_hex());
echo fake_relay_read_frame($c)['frame']['data'], "\n";

/* Restart: the relay closes every connection and listens anew. */
fclose($c);
fclose($srv);
$srv = fake_relay_listen($path);
var_dump(sse_emit('r', 'two'), herald_last_error());
$c = fake_relay_accept($srv);
var_dump(bin2hex(fake_relay_read_frame($c)['raw']) === hello_hex());
echo fake_relay_read_frame($c)['frame']['data'], "\n";
var_dump(ws_publish('r', 'three'));
echo fake_relay_read_frame($c)['frame']['data'], "\n";

/* Restart before the relay accepted the connection at all. */
fclose($c);
fclose($srv);
$srv = fake_relay_listen($path);
var_dump(sse_emit('r', 'four'));
$c2 = fake_relay_accept($srv);
fclose($srv);
unlink($path);
fclose($c2);
/* Gone for good: the write fails (EPIPE, which would be SIGPIPE without
 * MSG_NOSIGNAL and kill PHP), one reconnect fails too. */
var_dump(sse_emit('r', 'five'));
echo basename(herald_last_error()), "\n";
echo "alive\n";
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_relay_restart.sock'); ?>
--EXPECTF--
bool(true)
bool(true)
one
bool(true)
NULL
bool(true)
two
bool(true)
three
bool(true)
bool(false)
herald_relay_restart.sock: No such file or directory
alive
