<?php
/* SPDX-License-Identifier: MIT
 * fake_relay_server.php PATH MODE: a stand-in relay in its own process, run
 * by FakeRelayProcess (fake_relay.inc). It listens on PATH, prints "ready",
 * then one JSON line per frame received: {"conn":N,"frame":{...}} with
 * "data" replaced by its length and md5 (and the bytes when short). Acks
 * are answered per MODE: ok, nack, silent (never), close (hang up instead),
 * stale (an ack for another id first, then the right one split in two
 * writes), late1 (the first ack after 300 ms), garbage (bytes that are not msgpack). Lines on stdin: "close"
 * hangs up every connection; EOF ends the process. */

require __DIR__ . '/fake_relay.inc';

[, $path, $mode] = $argv + [null, null, 'ok'];
$srv = fake_relay_listen($path);
echo "ready\n";

$conns = [];
$bufs = [];
$n = 0;
$deadline = time() + 60;   /* never outlive a broken test */

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

while (time() < $deadline) {
    $r = array_merge([$srv, STDIN], $conns);
    $w = $e = null;
    if (stream_select($r, $w, $e, 1) <= 0) {
        continue;
    }
    foreach ($r as $s) {
        if ($s === $srv) {
            $c = stream_socket_accept($srv, 0);
            if ($c) {
                $id = ++$n;
                $conns[$id] = $c;
                $bufs[$id] = '';
            }
            continue;
        }
        if ($s === STDIN) {
            $cmd = fgets(STDIN);
            if ($cmd === false) {
                exit(0);
            }
            if (trim($cmd) === 'close') {
                foreach ($conns as $c) {
                    fclose($c);
                }
                $conns = $bufs = [];
                echo "closed\n";
            }
            continue;
        }
        $id = array_search($s, $conns, true);
        $chunk = fread($s, 1 << 20);
        if ($chunk === '' || $chunk === false) {
            if (feof($s)) {
                fclose($s);
                unset($conns[$id], $bufs[$id]);
            }
            continue;
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
                case 'ok':
                    fwrite($s, msgpack_encode(['op' => 'ack', 'ack' => $ack, 'ok' => true, 'id' => "e-$ack"]));
                    break;
                case 'nack':
                    fwrite($s, msgpack_encode(['op' => 'ack', 'ack' => $ack, 'ok' => false, 'error' => 'refused by the test']));
                    break;
                case 'close':
                    fclose($s);
                    unset($conns[$id], $bufs[$id]);
                    break 2;
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
                case 'late1':
                    /* The first ack comes after 300 ms, later ones at once. */
                    if (empty($late_done)) {
                        usleep(300000);
                        $late_done = true;
                    }
                    fwrite($s, msgpack_encode(['op' => 'ack', 'ack' => $ack, 'ok' => true, 'id' => "e-$ack"]));
                    break;
                case 'silent':
                    break;
            }
        }
    }
}
