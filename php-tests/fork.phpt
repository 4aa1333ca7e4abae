--TEST--
After fork() the child opens its own connection; the parent keeps using its own
--EXTENSIONS--
herald
pcntl
--INI--
herald.socket={TMP}/herald_fork.sock
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$srv = fake_relay_listen(ini_get('herald.socket'));
var_dump(sse_emit('f', 'parent 1'));
$parent = fake_relay_accept($srv);
fake_relay_read_frame($parent);
echo fake_relay_read_frame($parent)['frame']['data'], "\n";

$pid = pcntl_fork();
if ($pid === 0) {
    exit(sse_emit('f', 'child') ? 0 : 1);
}
pcntl_waitpid($pid, $status);
var_dump(pcntl_wexitstatus($status));
var_dump(sse_emit('f', 'parent 2'));
echo fake_relay_read_frame($parent)['frame']['data'], "\n";
$child = fake_relay_accept($srv);
$hello = fake_relay_read_frame($child)['frame'];
var_dump($hello['pid'] === $pid);
echo fake_relay_read_frame($child)['frame']['data'], "\n";
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_fork.sock'); ?>
--EXPECT--
bool(true)
parent 1
int(0)
bool(true)
parent 2
bool(true)
child
