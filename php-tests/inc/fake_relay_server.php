<?php
/* SPDX-License-Identifier: MIT
 * fake_relay_server.php PATH MODE: a stand-in relay in its own process, run
 * by FakeRelayProcess (fake_relay.inc). It listens on PATH, prints "ready",
 * then one JSON line per frame received: {"conn":N,"frame":{...}} with
 * "data" replaced by its length and md5 (and the bytes when short). Acks
 * are answered per MODE: ok, nack, silent (never), close (hang up instead),
 * stale (an ack for another id first, then the right one split in two
 * writes), held1 (the first ack only when told: "release" on stdin, then
 * "released" on stdout), garbage (bytes that are not msgpack), members (a
 * presence query is answered per its channel, see members_reply(); other
 * frames as ok). Lines on
 * stdin: "close" hangs up every connection, "release" sends the held ack,
 * "sync" serves everything already sent and then prints "synced"; EOF ends
 * the process. */

require __DIR__ . '/fake_relay.inc';

[, $path, $mode] = $argv + [null, null, 'ok'];
$srv = fake_relay_listen($path);
echo "ready\n";

$conns = [];
$bufs = [];
$n = 0;
$deadline = time() + 60;   /* never outlive a broken test */
$held = null;              /* held1: [connection, the first ack] until "release" */
$held_done = false;

function summary($frame): array
{
    if (isset($frame['data'])) {
        $d = $frame['data'];
        $bin = $d instanceof MsgpackBin;
        $bytes = $bin ? $d->bytes : $d;
        $frame['data'] = ['bin' => $bin, 'len' => strlen($bytes), 'md5' => md5($bytes)]
            + (strlen($bytes) <= 64 ? ['hex' => bin2hex($bytes)] : []);
    }
    return $frame;
}

/* The answer to a presence query in mode members, by channel:
 * presence-big: 60000 members (2.6 MB of JSON: the reply buffer grows); presence-bad: text
 * that is not JSON; presence-none: no "members" key; presence-nack: ok
 * false; any other: two members. */
function members_reply(int $ack, string $ch): string
{
    $head = ['op' => 'ack', 'ack' => $ack, 'ok' => true];
    switch ($ch) {
        case 'presence-big':
            /* Made as text: as arrays they would pass php -n's memory_limit. */
            $m = [];
            for ($i = 0; $i < 60000; $i++) {
                $m[] = sprintf('{"user":"user%06d","info":{"n":%d}}', $i, $i);
            }
            return msgpack_encode($head + ['members' => '[' . implode(',', $m) . ']']);
        case 'presence-bad':
            return msgpack_encode($head + ['members' => '[{"user":']);
        case 'presence-none':
            return msgpack_encode($head);
        case 'presence-nack':
            return msgpack_encode(['op' => 'ack', 'ack' => $ack, 'ok' => false, 'error' => 'not a presence channel']);
    }
    return msgpack_encode($head + ['members' => '[{"user":"alice","info":{"name":"Alice"}},{"user":"bob","info":null}]']);
}

/* Accept a connection, or read what a connection sent: report each whole
 * frame and answer its ack per $mode. */
function serve($s): void
{
    global $srv, $conns, $bufs, $n, $mode, $held, $held_done;
    if ($s === $srv) {
        $c = stream_socket_accept($srv, 0);
        if ($c) {
            $id = ++$n;
            $conns[$id] = $c;
            $bufs[$id] = '';
        }
        return;
    }
    /* A connection a "close" command closed in this same turn: gone. */
    $id = array_search($s, $conns, true);
    if ($id === false || !is_resource($s)) {
        return;
    }
    $chunk = fread($s, 1 << 20);
    if ($chunk === '' || $chunk === false) {
        if (feof($s)) {
            fclose($s);
            unset($conns[$id], $bufs[$id]);
        }
        return;
    }
    $bufs[$id] .= $chunk;
    for (;;) {
        $off = 0;
        try {
            $frame = msgpack_decode_at($bufs[$id], $off);
        } catch (MsgpackNeedMore $e) {
            break;
        }
        $bufs[$id] = (string) substr($bufs[$id], $off);
        echo json_encode(['conn' => $id, 'frame' => summary($frame)]), "\n";
        if (!isset($frame['ack'])) {
            continue;
        }
        $ack = $frame['ack'];
        switch ($mode) {
            case 'members':
                fwrite($s, ($frame['op'] ?? '') === 'presence' ? members_reply($ack, (string) $frame['ch'])
                    : msgpack_encode(['op' => 'ack', 'ack' => $ack, 'ok' => true, 'id' => "e-$ack"]));
                break;
            case 'ok':
                fwrite($s, msgpack_encode(['op' => 'ack', 'ack' => $ack, 'ok' => true, 'id' => "e-$ack"]));
                break;
            case 'nack':
                fwrite($s, msgpack_encode(['op' => 'ack', 'ack' => $ack, 'ok' => false, 'error' => 'refused by the test']));
                break;
            case 'close':
                fclose($s);
                unset($conns[$id], $bufs[$id]);
                return;
            case 'stale':
                $reply = msgpack_encode(['op' => 'ack', 'ack' => $ack, 'ok' => true, 'id' => "e-$ack", 'extra' => [1, ['x' => 2]]]);
                fwrite($s, msgpack_encode(['op' => 'ack', 'ack' => $ack + 1000, 'ok' => false, 'error' => 'stale']));
                fwrite($s, msgpack_encode(['op' => 'note']) . substr($reply, 0, 5));
                fflush($s);
                usleep(20000);   /* make the extension see a partial reply */
                fwrite($s, substr($reply, 5));
                break;
            case 'garbage':
                fwrite($s, "\xc1\xc1\xc1");
                break;
            case 'held1':
                /* The first ack waits for "release", later ones go at once. */
                $reply = msgpack_encode(['op' => 'ack', 'ack' => $ack, 'ok' => true, 'id' => "e-$ack"]);
                if (!$held_done) {
                    $held = [$s, $reply];
                    $held_done = true;
                } else {
                    fwrite($s, $reply);
                }
                break;
            case 'silent':
                break;
        }
    }
}

while (time() < $deadline) {
    $r = array_merge([$srv, STDIN], $conns);
    $w = $e = null;
    if (stream_select($r, $w, $e, 1) <= 0) {
        continue;
    }
    foreach ($r as $s) {
        if ($s !== STDIN) {
            serve($s);
            continue;
        }
        $cmd = fgets(STDIN);
        if ($cmd === false) {
            exit(0);
        }
        $cmd = trim($cmd);
        if ($cmd === 'release') {
            if ($held !== null) {
                fwrite($held[0], $held[1]);
                fflush($held[0]);
                $held = null;
            }
            echo "released\n";
        }
        if ($cmd === 'sync') {
            /* Serve every connection and every byte already there (what
             * the test's process wrote before it asked is in the kernel
             * by now), then say so: a sentinel after what it wrote. */
            for (;;) {
                $r2 = array_merge([$srv], $conns);
                $w2 = $e2 = null;
                if (stream_select($r2, $w2, $e2, 0) <= 0) {
                    break;
                }
                foreach ($r2 as $s2) {
                    serve($s2);
                }
            }
            echo "synced\n";
        }
        if ($cmd === 'close') {
            foreach ($conns as $c) {
                fclose($c);
            }
            $conns = $bufs = [];
            echo "closed\n";
        }
    }
}
