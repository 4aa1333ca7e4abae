--TEST--
Shared ring, real relay: after pcntl_fork() the child opens its own connection and ring (never writing to the parent's), both publish, everything arrives
--EXTENSIONS--
herald
pcntl
posix
--SKIPIF--
<?php
require __DIR__ . '/inc/real_relay.inc';
if ($why = real_relay_skip()) die("skip $why");
?>
--INI--
herald.timeout_ms=2000
--FILE--
<?php
require __DIR__ . '/inc/real_relay.inc';
$dir = scratch_dir('ring-fork');
$relay = (new RealRelay($dir))->start();
ini_set('herald.socket', $relay->socket());
$sub = new SseReader($relay->port, 'f');
for ($i = 0; $i === 0 || ring_asked(); $i++) {
    sse_emit('f', "p$i");
}
echo "parent: ", herald_ring_info(), "\n";
$want = array_map(fn ($j) => "p$j", range(0, $i - 1));

$pid = pcntl_fork();
if ($pid === 0) {
    /* The child: its first call drops the parent's connection and ring. */
    $ok = true;
    for ($j = 0; $j === 0 || ring_asked(); $j++) {
        $ok = sse_emit('f', "c$j") && $ok;
    }
    for ($k = 0; $k < 100; $k++) {
        $ok = sse_emit('f', "c" . ($j + $k)) && $ok;
    }
    file_put_contents("$dir/child.txt", "$ok " . ($j + $k));
    posix_kill(getmypid(), SIGKILL);   /* no shutdown code of the parent's in the child */
}
pcntl_waitpid($pid, $status);
[$childOk, $childN] = explode(' ', file_get_contents("$dir/child.txt"));
echo "child: ", $childOk === '1' ? 'every call returned true' : 'a call failed', "\n";
$want = array_merge($want, array_map(fn ($j) => "c$j", range(0, $childN - 1)));

/* The parent's ring still works. */
$ring = $relay->metrics()['herald_ingest_ring_frames_total'];
for ($j = 0; $j < 100; $j++) {
    sse_emit('f', "q$j");
    $want[] = "q$j";
}
$got = $sub->wait(count($want));
var_dump($got === $want);
$m = $relay->metrics();
echo "parent's ring frames after the fork: ", $m['herald_ingest_ring_frames_total'] - $ring, "\n";
echo "parent: ", herald_ring_info(), "\n";
$relay->stop();
?>
--EXPECT--
parent: yes, 262144 bytes
child: every call returned true
bool(true)
parent's ring frames after the fork: 100
parent: yes, 262144 bytes
