--TEST--
Real relay with max_publishers = 1: a second publisher is refused with a clear reason (false, herald_last_error()); every call of it that returned true before is delivered; counted by the relay
--EXTENSIONS--
herald
--SKIPIF--
<?php
require __DIR__ . '/inc/real_relay.inc';
if ($why = real_relay_skip()) die("skip $why");
if (!is_readable('/proc/self/maps')) die('skip needs /proc/self/maps to find herald.so');
?>
--INI--
herald.timeout_ms=2000
--FILE--
<?php
require __DIR__ . '/inc/real_relay.inc';
/* A big client queue: the subscriber reads only at the end. */
$relay = (new RealRelay(scratch_dir('max-publishers'), ['max_publishers' => 1, 'max_queued_bytes' => 64 << 20]))->start();
$sub = new SseReader($relay->port, 'cap');

/* The one publisher the relay keeps: another PHP process that publishes,
 * waits for a line, and publishes a last message. */
preg_match('~(/\S+/herald\.so)$~m', file_get_contents('/proc/self/maps'), $m);
$php = getenv('TEST_PHP_EXECUTABLE') ?: PHP_BINARY;
$holder = proc_open([$php, '-n', '-d', "extension={$m[1]}", '-d', 'herald.socket=' . $relay->socket(), '-r',
    'sse_emit("cap", "holder"); fgets(STDIN); echo sse_emit("cap", "last") ? "ok" : herald_last_error();'],
    [0 => ['pipe', 'r'], 1 => ['pipe', 'w']], $pipes);
var_dump($sub->wait(1));

/* This process: calls that go out before the relay has seen its connection
 * are published (there may be none: the relay can be quicker than the first
 * write); once the refusal is there, false. */
ini_set('herald.socket', $relay->socket());
$sent = [];
for ($i = 0; $i < 100000; $i++) {
    if (!sse_emit('cap', "m$i")) {
        break;
    }
    $sent[] = "m$i";
}
echo preg_replace('/ at \S+ /', ' at SOCKET ', herald_last_error(), 1), "\n";
var_dump(count($sent) < 100000);

/* The holder's last message comes after all of them: nothing else came. */
fwrite($pipes[0], "go\n");
fclose($pipes[0]);
echo stream_get_contents($pipes[1]), "\n";
proc_close($holder);
$got = $sub->wait(count($sent) + 2);
var_dump($got === array_merge(['holder'], $sent, ['last']));
$m = $relay->metrics();
var_dump($m['herald_ingest_publishers_refused_total'] >= 1, $m['herald_ingest_max_publishers']);
$relay->stop();
?>
--EXPECT--
array(1) {
  [0]=>
  string(6) "holder"
}
the relay at SOCKET refused this publisher: too many publishers: max_publishers (1) connections are open
bool(true)
ok
bool(true)
bool(true)
int(1)
