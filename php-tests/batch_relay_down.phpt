--TEST--
herald.batch=1 with the relay down or restarted: herald_flush() and the threshold call return false, herald_last_error() naming the dropped messages; the buffer is dropped, never kept; a restarted relay gets the whole batch on the new connection
--EXTENSIONS--
herald
--SKIPIF--
<?php if (!is_readable('/proc/self/maps')) die('skip needs /proc/self/maps to find herald.so'); ?>
--INI--
herald.socket={TMP}/herald_batch_down.sock
herald.batch=1
herald.timeout_ms=200
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$path = ini_get('herald.socket');
$dir = dirname($path);
@unlink($path);

var_dump(sse_emit('a', '1'), sse_emit('a', '2'), ws_publish('a', '3'));
[$r, , $ms] = timed(fn () => herald_flush());
var_dump($r);
var_dump($ms < 600);
echo str_replace($dir, 'DIR', herald_last_error()), "\n";
/* Dropped: nothing is left to flush. */
var_dump(herald_flush(), herald_last_error());

/* The call that reaches the threshold reports the failure of the write. */
ini_set('herald.batch_bytes', '100');
var_dump(sse_emit('a', '4'), sse_emit('a', '5'));
var_dump(@sse_emit('a', '6'));
echo str_replace($dir, 'DIR', herald_last_error()), "\n";
var_dump(herald_flush());
ini_restore('herald.batch_bytes');

/* The relay comes up: the next flush connects and sends only what came after. */
$srv = fake_relay_listen($path);
var_dump(sse_emit('a', '7'), herald_flush(), herald_last_error());
$c = fake_relay_accept($srv);
fake_relay_read_frame($c);
echo fake_relay_read_frame($c)['frame']['data'], "\n";

/* The relay goes away (a restart closes every ingest connection): the flush
 * reconnects once and sends the whole batch on the new connection. */
fclose($c);
var_dump(sse_emit('a', '8'), sse_emit('a', '9'), herald_flush());
$c = fake_relay_accept($srv);
var_dump(bin2hex(fake_relay_read_frame($c)['raw']) === hello_hex());
echo fake_relay_read_frame($c)['frame']['data'], fake_relay_read_frame($c)['frame']['data'], "\n";
fclose($c);
fclose($srv);
@unlink($path);

/* At the end of a request a failure goes to the error log (here stderr),
 * never to a set_error_handler() callback: user code is over; with
 * herald.warnings=1 as a warning from PHP's own handler. */
preg_match('~(/\S+/herald\.so)$~m', file_get_contents('/proc/self/maps'), $m);
$php = getenv('TEST_PHP_EXECUTABLE') ?: PHP_BINARY;
$p = proc_open([$php, '-n', '-d', "extension={$m[1]}", '-d', "herald.socket=$path", '-d', 'herald.batch=1',
    '-d', 'display_errors=stderr', '-d', 'log_errors=1', '-r',
    'set_error_handler(function ($n, $s) { echo "handler: $s\n"; return true; }); sse_emit("a", "x"); ws_publish("a", "y"); echo "end\n";'],
    [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
echo stream_get_contents($pipes[1]);
echo str_replace($dir, 'DIR', trim(stream_get_contents($pipes[2]))), "\n";
echo 'exit ', proc_close($p), "\n";
$p = proc_open([$php, '-n', '-d', "extension={$m[1]}", '-d', "herald.socket=$path", '-d', 'herald.batch=1',
    '-d', 'display_errors=stderr', '-d', 'herald.warnings=1', '-r',
    'set_error_handler(function ($n, $s) { echo "handler: $s\n"; return true; }); sse_emit("a", "x"); echo "end\n";'],
    [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
echo stream_get_contents($pipes[1]);
echo str_replace($dir, 'DIR', trim(stream_get_contents($pipes[2]))), "\n";
echo 'exit ', proc_close($p), "\n";
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_batch_down.sock'); ?>
--EXPECTF--
bool(true)
bool(true)
bool(true)
bool(false)
bool(true)
cannot connect to DIR/herald_batch_down.sock: No such file or directory; 3 buffered messages were dropped
bool(true)
NULL
bool(true)
bool(true)
bool(false)
cannot connect to DIR/herald_batch_down.sock: No such file or directory; 2 buffered messages were dropped
bool(true)
bool(true)
bool(true)
NULL
7
bool(true)
bool(true)
bool(true)
bool(true)
89
end
herald: flush at the end of the request: cannot connect to DIR/herald_batch_down.sock: No such file or directory; 2 buffered messages were dropped
exit 0
end
Warning: herald: flush at the end of the request: cannot connect to DIR/herald_batch_down.sock: No such file or directory; 1 buffered message was dropped in Unknown on line 0
exit 0
