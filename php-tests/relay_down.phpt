--TEST--
Relay down: false within the timeout and herald_last_error(), no warning (herald.warnings=0), never a fatal error
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_relay_down.sock
herald.timeout_ms=200
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$path = ini_get('herald.socket');
@unlink($path);
$dir = dirname($path);

/* No socket file at all. */
[$r, , $ms] = timed(fn () => sse_emit('a', 'b'));
var_dump($r, $ms < 200);
echo str_replace($dir, 'DIR', herald_last_error()), "\n";

/* A stale socket file that nobody listens on (a crashed relay). */
$srv = fake_relay_listen($path);
fclose($srv);
[$r, , $ms] = timed(fn () => @ws_publish('a', 'b'));
var_dump($r, $ms < 200);
echo str_replace($dir, 'DIR', herald_last_error()), "\n";

/* A file that is no socket. */
unlink($path);
file_put_contents($path, 'x');
var_dump(@sse_emit('a', 'b'));
echo str_replace($dir, 'DIR', herald_last_error()), "\n";
unlink($path);

/* The relay comes up: the next call connects. */
$srv = fake_relay_listen($path);
var_dump(sse_emit('a', 'up'), herald_last_error());
$c = fake_relay_accept($srv);
fake_relay_read_frame($c);
echo fake_relay_read_frame($c)['frame']['data'], "\n";
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_relay_down.sock'); ?>
--EXPECTF--
bool(false)
bool(true)
cannot connect to DIR/herald_relay_down.sock: No such file or directory
bool(false)
bool(true)
cannot connect to DIR/herald_relay_down.sock: Connection refused
bool(false)
cannot connect to DIR/herald_relay_down.sock: Connection refused
bool(true)
NULL
up
