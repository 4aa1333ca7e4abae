--TEST--
A hung relay (SIGSTOP) costs a request one timeout, not one per call: after a call times out, the next 200 fail at once with a reason that says so (counted in phpinfo()), through the ring, on the socket and in ack mode, until the relay reads again (SIGCONT)
--EXTENSIONS--
herald
posix
--SKIPIF--
<?php
require __DIR__ . '/inc/real_relay.inc';
if ($why = real_relay_skip()) die("skip $why");
?>
--INI--
herald.timeout_ms=200
herald.ring_bytes=16K
--FILE--
<?php
require __DIR__ . '/inc/real_relay.inc';

function info(string $row): string
{
    ob_start();
    phpinfo(INFO_MODULES);
    preg_match('/^' . preg_quote($row, '/') . ' => (.*)$/m', ob_get_clean(), $m);
    return $m[1] ?? 'NOT FOUND';
}

/* A relay that stops reading; n calls while it does not: the first times
 * out, then each fails at once with the same reason. */
function hung(RealRelay $relay, string $payload, int $n): int
{
    posix_kill($relay->pid, SIGSTOP);
    $sent = 0;
    while (sse_emit('hung', $payload)) {
        $sent++;   /* what the ring, or the socket buffer, still takes */
    }
    echo preg_replace('/ to \S+ /', ' to SOCKET ', herald_last_error()), "\n";
    $fast = 0;
    for ($i = 0; $i < $n; $i++) {
        $fast += !sse_emit('hung', $payload)
            && str_contains(herald_last_error(), 'is not reading: a call timed out after 200 ms and it has not read since');
    }
    echo "$fast of $n failed at once\n";
    echo preg_replace('/ at \S+ /', ' at SOCKET ', herald_last_error(), 1), "\n";
    echo info('Relay not reading'), "\n";
    posix_kill($relay->pid, SIGCONT);
    return $sent;
}

/* Waits for the relay's counter, not for time. */
function read_up_to(RealRelay $relay, string $metric, int $n): void
{
    for ($t = 0; $t < 5000 && $relay->metrics()[$metric] < $n; $t++) {
        usleep(1000);
    }
}

$relay = (new RealRelay(scratch_dir('relay-hung')))->start();
ini_set('herald.socket', $relay->socket());
for ($i = 0; $i < 1000 && !str_starts_with(herald_ring_info(), 'yes'); $i++) {
    sse_emit('warm', "m$i");
}
echo "ring: ", herald_ring_info(), "\n";

/* The ring fills, then one call waits its 200 ms. */
$frames = $relay->metrics()['herald_ingest_frames_total'];
$sent = hung($relay, str_repeat('r', 1000), 200);
read_up_to($relay, 'herald_ingest_frames_total', $frames + $sent);
var_dump(sse_emit('hung', 'ring again'), herald_last_error());
echo info('Relay not reading'), "\n";

/* Without a ring: the socket buffer fills, and one call waits. */
ini_set('herald.ring_bytes', '0');
$relay2 = (new RealRelay(scratch_dir('relay-hung-2')))->start();
ini_set('herald.socket', $relay2->socket());
$sent = hung($relay2, str_repeat('s', 65536), 200);
read_up_to($relay2, 'herald_ingest_frames_total', $sent);
var_dump(sse_emit('hung', 'socket again'), herald_last_error());

/* Ack mode: the frame goes out, the ack does not come. */
ini_set('herald.ack', '1');
$frames = $relay2->metrics()['herald_ingest_frames_total'];
$sent = hung($relay2, 'a', 20);
read_up_to($relay2, 'herald_ingest_frames_total', $frames + $sent + 1);
var_dump(sse_emit('hung', 'ack again'), herald_last_error());
$relay->stop();
$relay2->stop();
?>
--EXPECTF--
ring: yes, 16384 bytes
timed out after 200 ms writing to SOCKET (the relay is not reading its shared ring)
200 of 200 failed at once
the relay at SOCKET is not reading: a call timed out after 200 ms and it has not read since (calls fail at once until it does)
yes: calls fail at once until the relay reads again; 1 call timed out on a relay not reading, 200 failed fast since
bool(true)
NULL
no; 1 call timed out on a relay not reading, 200 failed fast since
timed out after 200 ms writing to SOCKET (the relay is not reading)
200 of 200 failed at once
the relay at SOCKET is not reading: a call timed out after 200 ms and it has not read since (calls fail at once until it does)
yes: calls fail at once until the relay reads again; 2 calls timed out on a relay not reading, 400 failed fast since
bool(true)
NULL
no ack from the relay at %s within 200 ms
20 of 20 failed at once
the relay at SOCKET is not reading: a call timed out after 200 ms and it has not read since (calls fail at once until it does)
yes: calls fail at once until the relay reads again; 3 calls timed out on a relay not reading, 420 failed fast since
bool(true)
NULL
