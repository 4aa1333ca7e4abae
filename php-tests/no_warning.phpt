--TEST--
A relay outage never breaks a page: by default a failed call raises no warning (a set_error_handler() that throws, as Laravel and Symfony install, is never called), returns false, sets herald_last_error(), and writes one line to the error log at most once a second
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_no_warning.sock
log_errors=1
error_log={TMP}/herald_no_warning.log
--FILE--
<?php
$log = ini_get('error_log');
@unlink(ini_get('herald.socket'));
@unlink($log);
set_error_handler(function (int $no, string $str, string $file, int $line) {
    throw new ErrorException($str, 0, $no, $file, $line);
});

$first = intdiv(hrtime(true), 1000000000);
var_dump(sse_emit('a', 'b'));
echo basename(herald_last_error()), "\n";
for ($i = 0; $i < 200; $i++) {
    if (ws_publish('a', 'b') !== false || herald_flush() !== true) {
        echo "unexpected result at $i\n";
    }
}
$last = intdiv(hrtime(true), 1000000000);

/* One line for the first failure; then at most one per second of the
 * process's monotonic clock (the one hrtime() reads). */
$lines = file($log, FILE_IGNORE_NEW_LINES);
var_dump(count($lines) >= 1 && count($lines) <= $last - $first + 1);
echo preg_replace(['/^\[[^]]*\] /', '/ \S+herald_no_warning.sock/'], ['', ' PATH'], $lines[0]), "\n";
foreach (array_slice($lines, 1) as $l) {
    if (!preg_match('/^\[[^]]*\] herald: ws_publish\(\): cannot connect to \S+: No such file or directory \(and \d+ more failed calls? since the last line\)$/', $l)) {
        echo "unexpected line: $l\n";
    }
}

/* herald.warnings=1 brings the warning back, through the handler. */
ini_set('herald.warnings', '1');
try {
    sse_emit('a', 'b');
    echo "no exception\n";
} catch (ErrorException $e) {
    echo get_class($e), ': ', preg_replace('/ \S+herald_no_warning.sock/', ' PATH', $e->getMessage()), "\n";
}
?>
--CLEAN--
<?php
@unlink(sys_get_temp_dir() . '/herald_no_warning.sock');
@unlink(sys_get_temp_dir() . '/herald_no_warning.log');
?>
--EXPECT--
bool(false)
herald_no_warning.sock: No such file or directory
bool(true)
herald: sse_emit(): cannot connect to PATH: No such file or directory
ErrorException: sse_emit(): cannot connect to PATH: No such file or directory
