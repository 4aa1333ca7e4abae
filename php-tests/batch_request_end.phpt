--TEST--
herald.batch=1: what is buffered is written at the end of the request, also after exit(), a fatal error or an uncaught exception, with publishes from shutdown functions and destructors
--EXTENSIONS--
herald
--SKIPIF--
<?php if (!is_readable('/proc/self/maps')) die('skip needs /proc/self/maps to find herald.so'); ?>
--INI--
herald.socket={TMP}/herald_batch_end.sock
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$path = ini_get('herald.socket');
preg_match('~(/\S+/herald\.so)$~m', file_get_contents('/proc/self/maps'), $m);
$php = getenv('TEST_PHP_EXECUTABLE') ?: PHP_BINARY;

/* A child script buffers, says so, waits for a line on stdin, then ends the
 * way $end says. Meanwhile the test checks that nothing reached the relay. */
function run(string $end): void
{
    global $path, $m, $php;
    $srv = fake_relay_listen($path);
    $code = '
        class D { function __destruct() { sse_emit("e", "destructor"); } }
        $d = new D;
        register_shutdown_function(function () { ws_publish("e", "shutdown function"); });
        sse_emit("e", "one"); ws_publish(["e", "f"], "two");
        echo "buffered\n"; fgets(STDIN);
        ' . $end;
    $p = proc_open([$php, '-n', '-d', "extension={$m[1]}", '-d', "herald.socket=$path", '-d', 'herald.batch=1',
        '-d', 'display_errors=stderr', '-r', $code], [0 => ['pipe', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
    /* A connect() the child made before it said "buffered" is queued in the
     * listener by then: accept() needs no time to find it. */
    echo "$end\n  ", trim(fgets($pipes[1])), ', connected before the end: ',
        var_export(@stream_socket_accept($srv, 0) !== false, true), "\n";
    fwrite($pipes[0], "go\n");
    fclose($pipes[0]);
    $err = stream_get_contents($pipes[2]);
    $out = stream_get_contents($pipes[1]);
    echo '  exit ', proc_close($p), ', stderr: ', preg_match('/(Fatal error|Uncaught)/', $err, $e) ? $e[1] : trim($err), "\n";
    $c = fake_relay_accept($srv, 2);
    fake_relay_read_frame($c);   /* hello */
    $got = [];
    try {
        for (;;) {
            $got[] = fake_relay_read_frame($c, 2)['frame']['data'];
        }
    } catch (RuntimeException $e) {
    }
    echo '  relay got: ', implode(', ', $got), "\n";
    fclose($c);
    fclose($srv);
}
run('echo "done\n";');
run('exit(3);');
run('undefined_function();');
run('throw new Exception("boom");');
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_batch_end.sock'); ?>
--EXPECT--
echo "done\n";
  buffered, connected before the end: false
  exit 0, stderr: 
  relay got: one, two, shutdown function, destructor
exit(3);
  buffered, connected before the end: false
  exit 3, stderr: 
  relay got: one, two, shutdown function, destructor
undefined_function();
  buffered, connected before the end: false
  exit 255, stderr: Fatal error
  relay got: one, two, shutdown function, destructor
throw new Exception("boom");
  buffered, connected before the end: false
  exit 255, stderr: Fatal error
  relay got: one, two, shutdown function, destructor
