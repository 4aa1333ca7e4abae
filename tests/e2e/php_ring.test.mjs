// The shared-memory ingest ring (PROTOCOL.md 1.6) between real PHP processes
// and the real relay: frames go through the ring, order holds across a ring
// publisher and a socket publisher (also when the ring slept in between),
// a publisher that exits right after publishing loses nothing, and a relay
// stopped with SIGTERM under a PHP loop delivers every call that returned
// true. Run against the normal and the ASan relay like every e2e test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { Relay, rawSse, waitFor } from './lib/harness.mjs';
import { EXT, PHP, PhpWorker, runPhp } from './lib/php.mjs';

const datas = (c) => c.events().map((e) => e.data);

test('ring and socket publishers interleaved: every message in call order; the ring sleeps and is woken', async () => {
  const relay = await new Relay({ flags: { ingest_ring_idle_ms: 5 } }).start();
  const sub = await rawSse(relay.port, '/sse?channel=ord');
  const ring = new PhpWorker(relay.socket);
  const sock = new PhpWorker(relay.socket, { 'herald.ring_bytes': 0 });
  // The ring worker's first calls go to the socket while the relay's answer
  // to its hello is on its way (how many depends on how soon the relay
  // runs): warm it up on another channel until the ring is mapped, and
  // count ring frames from when those calls have all been delivered.
  const warm = await rawSse(relay.port, '/sse?channel=warm');
  const { state, calls } = await ring.ringReady('warm');
  assert.match(state, /^yes/);
  await warm.waitEvents(calls);
  const ringBefore = (await relay.metrics()).herald_ingest_ring_frames_total;
  const N = 600;
  let wakesBefore = 0;
  for (let i = 0; i < N; i++) {
    if (i === N / 2) {
      // Let the ring go to sleep (nothing is published for 5 ms), then go on:
      // the next ring publish must wake the relay with a frame on the socket.
      await waitFor(async () => (await relay.metrics()).herald_ingest_rings_awake === 0, 'ring asleep');
      wakesBefore = (await relay.metrics()).herald_ingest_ring_wakes_total;
    }
    const w = i % 2 ? sock : ring;
    const r = await w.call('sse_emit', ['ord', String(i)]);
    assert.equal(r.result, true, `call ${i}: ${r.error}`);
  }
  await sub.waitEvents(N);
  assert.deepEqual(datas(sub), Array.from({ length: N }, (_, i) => String(i)));
  const m = await relay.metrics();
  assert.equal(m.herald_ingest_rings, 1, 'one publisher has a ring, the other did not ask');
  // Every call of the ring worker went through its ring.
  assert.equal(m.herald_ingest_ring_frames_total - ringBefore, N / 2, 'ring frames');
  assert.ok(m.herald_ingest_ring_wakes_total > wakesBefore, 'the sleeping ring was woken');
  await ring.stop();
  await sock.stop();
  sub.destroy();
  warm.destroy();
  await relay.stopClean();
});

test('a PHP script that publishes through the ring and exits at once loses nothing (SSE and WebSocket)', async () => {
  const relay = await new Relay().start();
  const sub = await rawSse(relay.port, '/sse?channel=quit');
  // Warm up until the relay's answer to the hello has mapped the ring (the
  // first calls go to the socket meanwhile), then 500 calls and exit.
  const code = `
    $ring = function () { ob_start(); phpinfo(INFO_MODULES);
      return preg_match('/^Shared ring => yes/m', ob_get_clean()); };
    for ($i = 0; $i < 100000 && !$ring(); $i++) sse_emit('warm', 'w');
    if (!$ring()) { fwrite(STDERR, 'no ring'); exit(1); }
    for ($i = 0; $i < 500; $i++) {
      if (!sse_emit('quit', (string) $i)) { fwrite(STDERR, herald_last_error()); exit(1); }
    }
    ws_publish('quit', 'ws');`;
  const before = (await relay.metrics()).herald_ingest_ring_frames_total;
  const r = await runPhp(code, { 'herald.socket': relay.socket }).done;
  assert.equal(r.code, 0, r.stderr);
  await sub.waitEvents(500);
  assert.deepEqual(datas(sub), Array.from({ length: 500 }, (_, i) => String(i)));
  const m = await relay.metrics();
  assert.ok(m.herald_ingest_ring_frames_total - before >= 501, `ring frames ${m.herald_ingest_ring_frames_total}`);
  await waitFor(async () => (await relay.metrics()).herald_ingest_rings === 0, 'ring unmapped');
  sub.destroy();
  await relay.stopClean();
});

test('SIGTERM under a PHP loop publishing through the ring: every call that returned true is delivered, once', async () => {
  const relay = await new Relay({ flags: { max_queued_bytes: 64 << 20 } }).start();
  const sub = await rawSse(relay.port, '/sse?channel=flood');
  // Publish in bursts of 100 back-to-back calls (a pause of 1 ms between
  // bursts keeps the stream within what the Node subscriber parses) until
  // the relay is gone (five false in a row); then print the numbers whose
  // call returned true.
  const code = `
    $ok = []; $false = 0;
    for ($i = 0; $false < 5 && $i < 2000000; $i++) {
      if (sse_emit('flood', (string) $i)) { $ok[] = $i; $false = 0; } else { $false++; }
      if ($i % 100 == 99) usleep(1000);
    }
    echo json_encode($ok);`;
  const php = runPhp(code, { 'herald.socket': relay.socket, 'herald.timeout_ms': 2000 });
  await sub.waitEvents(3000);
  await relay.stopClean();
  const r = await php.done;
  assert.equal(r.code, 0, r.stderr);
  const ok = JSON.parse(r.stdout);
  await sub.closed;
  const got = datas(sub).map(Number);
  assert.ok(got.every((v, i) => i === 0 || v > got[i - 1]), 'in publish order, none twice');
  const gotSet = new Set(got);
  const missing = ok.filter((i) => !gotSet.has(i));
  assert.deepEqual(missing.slice(0, 10), [], `${missing.length} of ${ok.length} true calls not delivered`);
  assert.ok(ok.length >= 3000);
});

// A PHP process's state in /proc: blocked in a futex wait (the syscall's
// number on this machine), and a relay stopped by SIGSTOP ('T').
const FUTEX = { x64: 202, arm64: 98 }[process.arch];
const inFutexWait = (pid) => {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/syscall`, 'utf8').split(' ')[0]) === FUTEX;
  } catch {
    return false;
  }
};
const stopped = (pid) => / T /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\)/, ')'));

test('a full ring: the call sleeps in one futex wait while the relay is stopped (SIGSTOP), and goes on when it reads again (SIGCONT); no spinning', async () => {
  const relay = await new Relay().start();
  const sub = await rawSse(relay.port, '/sse?channel=full');
  // Warm up until the ring is mapped, say so, wait for a line (the relay is
  // stopped by then), and publish 40 frames of 1 KB into a 16 KiB ring: the
  // call that finds it full must wait for the relay. Then report the waits
  // (phpinfo) and the process's voluntary context switches meanwhile.
  const code = `
    $info = function ($row) { ob_start(); phpinfo(INFO_MODULES);
      preg_match('/^' . preg_quote($row, '/') . ' => (.*)$/m', ob_get_clean(), $m); return $m[1] ?? ''; };
    for ($i = 0; $i < 100000 && !str_starts_with($info('Shared ring'), 'yes'); $i++) sse_emit('warm', 'w');
    echo "ring\\n";
    fgets(STDIN);
    $payload = str_repeat('x', 1000);
    $waits = (int) $info('Waits for the relay to read the ring');
    $cs = getrusage()['ru_nvcsw'];
    for ($n = 0; $n < 40; $n++) {
      if (!sse_emit('full', "$n")) { fwrite(STDERR, herald_last_error()); exit(1); }
      sse_emit('pad', $payload);
    }
    $cs = getrusage()['ru_nvcsw'] - $cs;
    echo json_encode(['waits' => (int) $info('Waits for the relay to read the ring') - $waits, 'switches' => $cs]), "\\n";`;
  const php = spawn(PHP, ['-n', '-d', `extension=${EXT}`, '-d', `herald.socket=${relay.socket}`,
    '-d', 'herald.ring_bytes=16K', '-d', 'herald.timeout_ms=60000', '-r', code], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  php.stdout.on('data', (d) => (out += d));
  php.stderr.on('data', (d) => (err += d));
  const closed = new Promise((resolve) => php.on('close', resolve));
  await waitFor(() => out.includes('ring\n') || php.exitCode !== null, 'the ring mapped');
  assert.ok(out.includes('ring\n'), err);
  process.kill(relay.proc.pid, 'SIGSTOP');
  await waitFor(() => stopped(relay.proc.pid), 'the relay stopped');
  php.stdin.write('go\n');
  await waitFor(() => inFutexWait(php.pid), 'the PHP call waiting on its full ring');
  process.kill(relay.proc.pid, 'SIGCONT');
  assert.equal(await closed, 0, err);
  const r = JSON.parse(out.split('\n')[1]);
  const m = await relay.metrics();
  const wakes = m.herald_ingest_ring_space_wakes_total;
  // At least the wait the test saw; each one ended by a read of the relay
  // (a FUTEX_WAKE), none by a timer: no polling while it waits.
  assert.ok(r.waits >= 1, JSON.stringify(r));
  assert.ok(r.waits <= wakes, `${r.waits} waits, ${wakes} wakes by the relay`);
  assert.ok(r.switches <= r.waits + 5, `${r.switches} voluntary context switches for ${r.waits} waits`);
  const evs = await sub.waitEvents(40);
  assert.deepEqual(evs.map((e) => e.data), Array.from({ length: 40 }, (_, i) => String(i)));
  sub.destroy();
  await relay.stopClean();
});
