--TEST--
herald.batch=1 and fork(): the child never sends the frames the parent had buffered (the parent does), only its own
--EXTENSIONS--
herald
pcntl
--INI--
herald.socket={TMP}/herald_batch_fork.sock
herald.batch=1
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$srv = fake_relay_listen(ini_get('herald.socket'));
var_dump(sse_emit('f', 'parent 1'), sse_emit('f', 'parent 2'));

$pid = pcntl_fork();
if ($pid === 0) {
    sse_emit('f', 'child 1');
    sse_emit('f', 'child 2');
    exit(0);   /* flushed at the end of the child's request */
}
pcntl_waitpid($pid, $status);
var_dump(pcntl_wexitstatus($status));
$child = fake_relay_accept($srv);
var_dump(fake_relay_read_frame($child)['frame']['pid'] === $pid);
echo fake_relay_read_frame($child)['frame']['data'], "\n";
echo fake_relay_read_frame($child)['frame']['data'], "\n";
stream_set_blocking($child, false);
var_dump(fread($child, 100));

var_dump(herald_flush());
$parent = fake_relay_accept($srv);
fake_relay_read_frame($parent);
echo fake_relay_read_frame($parent)['frame']['data'], "\n";
echo fake_relay_read_frame($parent)['frame']['data'], "\n";
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_batch_fork.sock'); ?>
--EXPECT--
bool(true)
bool(true)
int(0)
bool(true)
child 1
child 2
string(0) ""
bool(true)
parent 1
parent 2
