// The ring's trust boundary (SECURITY.md 2, PROTOCOL.md 1.6) against the real
// relay, with a hostile publisher of our own (tests/e2e/helpers/ring_probe.c,
// built as build/tests/ring_probe): every descriptor the relay hands out but
// the ring itself is read-only and cannot be made writable (mmap, mprotect,
// reopening it read-write through /proc/self/fd), no 8-byte word of any shared
// page is an address of the relay (its /proc/PID/maps), and garbage written
// into the ring closes that connection only while a PHP publisher next to it
// keeps publishing. The probe prints one TAP line per check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Relay, rawSse, ROOT } from './lib/harness.mjs';
import { PhpWorker } from './lib/php.mjs';

const PROBE = path.join(ROOT, 'build/tests/ring_probe');

// Run the probe to its end ('close': its output is complete).
function probe(...args) {
  const p = spawn(PROBE, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => (out += d));
  return new Promise((resolve) => p.on('close', (code) => resolve({ code, out })));
}

test('a publisher gets its ring read-write and nothing else: the control page is read-only, sealed, and holds no relay address', async () => {
  const relay = await new Relay().start();
  const r = await probe('check', relay.socket, String(relay.proc.pid));
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /^ok - descriptor 1 \(4096 bytes\) is read-only/m);
  assert.match(r.out, /^ok - descriptor 1 opened again read-write cannot be mapped writable/m);
  assert.match(r.out, /^ok - descriptor 0 holds no address of the relay/m);
  assert.match(r.out, /^ok - descriptor 1 holds no address of the relay/m);
  assert.doesNotMatch(r.out, /^not ok/m);
  await relay.stopClean();
});

test('garbage in a ring (its head, or its data) closes that connection only; a PHP publisher beside it goes on', async () => {
  const relay = await new Relay().start();
  const sub = await rawSse(relay.port, '/sse?channel=beside');
  const php = new PhpWorker(relay.socket);
  const publish = async (data) => {
    const r = await php.call('sse_emit', ['beside', data]);
    assert.equal(r.result, true, r.error);
  };
  await publish('before');
  for (const where of ['data', 'head']) {
    const r = await probe('garbage', relay.socket, where);
    assert.equal(r.code, 0, r.out);
    await publish(`after ${where}`);
  }
  const evs = await sub.waitEvents(3);
  assert.deepEqual(
    evs.map((e) => e.data),
    ['before', 'after data', 'after head'],
  );
  const m = await relay.metrics();
  assert.equal(m['herald_ingest_rejects_total{reason="malformed"}'], 2);
  assert.match(relay.log(), /ring: bytes that are not msgpack; connection closed/);
  assert.match(relay.log(), /ring: head is more than the ring's size ahead of tail/);
  await php.stop();
  sub.destroy();
  await relay.stopClean();
});
