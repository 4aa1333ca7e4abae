--TEST--
herald.ack=1: stale acks and other replies are skipped, split replies reassembled; hang-ups and garbage fail the call
--EXTENSIONS--
herald
--INI--
herald.ack=1
herald.timeout_ms=2000
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$dir = sys_get_temp_dir();
foreach (['stale', 'close', 'garbage'] as $mode) {
    $path = "$dir/herald_ack_replies_$mode.sock";
    ini_set('herald.socket', $path);
    $relay = new FakeRelayProcess($path, $mode);
    $r1 = @sse_emit('a', 'one');
    $e1 = herald_last_error();
    $r2 = @sse_emit('a', 'two');
    printf("%s: %s %s | %s\n", $mode, json_encode($r1), json_encode($r2), str_replace($path, 'PATH', (string) $e1));
    $relay->stop();
    @unlink($path);
}
?>
--CLEAN--
<?php
foreach (['stale', 'close', 'garbage'] as $mode) {
    @unlink(sys_get_temp_dir() . "/herald_ack_replies_$mode.sock");
}
?>
--EXPECT--
stale: true true | 
close: false false | the relay at PATH closed the connection before acknowledging
garbage: false false | malformed reply from the relay at PATH
