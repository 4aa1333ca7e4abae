--TEST--
INI entries: defaults, validation at run time, and their descriptions in phpinfo()
--EXTENSIONS--
herald
--FILE--
<?php
foreach ((new ReflectionExtension('herald'))->getINIEntries() as $k => $v) {
    echo "$k=$v\n";
}
$set = [
    ['herald.timeout_ms', '250'], ['herald.timeout_ms', '0'], ['herald.timeout_ms', '-5'],
    ['herald.timeout_ms', '60001'], ['herald.timeout_ms', '12abc'], ['herald.timeout_ms', ''],
    ['herald.timeout_ms', '60000'], ['herald.socket', ''], ['herald.socket', '/' . str_repeat('s', 107)],
    ['herald.socket', '/' . str_repeat('s', 106)], ['herald.ack', 'on'], ['herald.enabled', '0'],
    ['herald.batch', 'yes'], ['herald.batch_bytes', '4k'], ['herald.batch_bytes', '0'], ['herald.batch_bytes', '12abc'],
    ['herald.ring_bytes', '0'], ['herald.ring_bytes', '4095'], ['herald.ring_bytes', '64M'],
    ['herald.ring_bytes', '65M'], ['herald.ring_bytes', '-4k'], ['herald.ring_bytes', '12abc'], ['herald.ring_bytes', '64k'],
    ['herald.warnings', '1'],
];
foreach ($set as [$k, $v]) {
    $old = ini_set($k, $v);
    printf("%s=%s: %s, now %s\n", $k, strlen($v) > 20 ? strlen($v) . ' bytes' : $v,
        $old === false ? 'refused' : 'taken', strlen(ini_get($k)) > 20 ? strlen(ini_get($k)) . ' bytes' : ini_get($k));
}
ob_start();
phpinfo(INFO_MODULES);
$info = ob_get_clean();
foreach (['herald.socket', 'herald.timeout_ms', 'herald.ack', 'herald.enabled', 'herald.batch', 'herald.batch_bytes', 'herald.ring_bytes', 'herald.warnings'] as $k) {
    preg_match('/^' . preg_quote($k) . ' => (?!.*=>.*=>)(.+)$/m', $info, $m);
    echo "$k: ", $m[1] ?? 'NOT DOCUMENTED', "\n";
}
var_dump(str_contains($info, 'Relay connection => not connected'));
var_dump(str_contains($info, 'Shared ring => no (not connected)'));
?>
--EXPECT--
herald.socket=/tmp/herald.sock
herald.timeout_ms=100
herald.ack=0
herald.enabled=1
herald.batch=0
herald.batch_bytes=65536
herald.ring_bytes=256K
herald.warnings=0
herald.secret=
herald.timeout_ms=250: taken, now 250
herald.timeout_ms=0: refused, now 250
herald.timeout_ms=-5: refused, now 250
herald.timeout_ms=60001: refused, now 250
herald.timeout_ms=12abc: refused, now 250
herald.timeout_ms=: refused, now 250
herald.timeout_ms=60000: taken, now 60000
herald.socket=: refused, now /tmp/herald.sock
herald.socket=108 bytes: refused, now /tmp/herald.sock
herald.socket=107 bytes: taken, now 107 bytes
herald.ack=on: taken, now on
herald.enabled=0: taken, now 0
herald.batch=yes: taken, now yes
herald.batch_bytes=4k: taken, now 4k
herald.batch_bytes=0: refused, now 4k
herald.batch_bytes=12abc: refused, now 4k
herald.ring_bytes=0: taken, now 0
herald.ring_bytes=4095: refused, now 0
herald.ring_bytes=64M: taken, now 64M
herald.ring_bytes=65M: refused, now 64M
herald.ring_bytes=-4k: refused, now 64M
herald.ring_bytes=12abc: refused, now 64M
herald.ring_bytes=64k: taken, now 64k
herald.warnings=1: taken, now 1
herald.socket: Unix socket path of the relay's ingest listener (default /tmp/herald.sock)
herald.timeout_ms: Longest time one publish call may take, connect, write and ack included, in ms (1-60000, default 100)
herald.ack: 1: wait for the relay's ack and return false if it refuses or does not answer in time (default 0)
herald.enabled: 0: publish calls check their arguments, send nothing and return false without a warning (default 1)
herald.batch: 1: buffer frames in the process and write them at herald_flush(), at the threshold or at the end of the request (default 0)
herald.batch_bytes: A frame that would bring the buffer to this size writes the buffer and itself at once (1 to 64M, default 65536)
herald.ring_bytes: Shared-memory ring a new connection asks the relay for, so that a publish is a memory copy rather than a write to the socket (0 = never ask, else 4K to 64M, default 256K)
herald.warnings: 1: a failed call also raises E_WARNING; 0: it only returns false, sets herald_last_error() and writes a line to the error log, at most one a second (default 0)
bool(true)
bool(true)
