// A publisher that is gone before the relay could answer it: a short PHP
// script publishes and exits while the relay is stopped (SIGSTOP), so when
// the relay reads its hello and frames, its answer to the hello cannot be
// written (EPIPE). The frames it wrote are still in the socket: every one
// must be published (was: the connection was closed on the failed write and
// the frames after the hello were lost while sse_emit() had returned true).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { encode } from '@msgpack/msgpack';
import { Relay, rawSse, waitFor } from './lib/harness.mjs';
import { runPhp } from './lib/php.mjs';

for (const [what, flags] of [
  ['rings off: the refusal cannot be written', { ingest_ring_bytes: 0 }],
  ['rings on: the ring cannot be sent', {}],
]) {
  test(`a publisher gone before the relay answered its hello loses nothing (${what})`, async () => {
    const relay = await new Relay({ flags }).start();
    const sub = await rawSse(relay.port, '/sse?channel=gone');
    const N = 50;
    process.kill(relay.proc.pid, 'SIGSTOP');
    let r;
    try {
      const { done } = runPhp(`for ($i = 0; $i < ${N}; $i++) {
          if (!sse_emit('gone', (string) $i)) { fwrite(STDERR, herald_last_error()); exit(1); }
        }`, { 'herald.socket': relay.socket });
      r = await done;
    } finally {
      process.kill(relay.proc.pid, 'SIGCONT');
    }
    assert.equal(r.code, 0, r.stderr);
    await sub.waitEvents(N);
    assert.deepEqual(
      sub.events().map((e) => e.data),
      Array.from({ length: N }, (_, i) => String(i)),
    );
    sub.destroy();
    await relay.stopClean();
  });
}

// A publisher that leaves with a reply of the relay unread (a PHP script that
// published and exited before the answer to its hello came): the kernel
// reports the close as a reset, not an end of file. That is a publisher
// leaving, not a fault: its frames are published and nothing is logged as a
// warning (was: "connection reset by peer; connection closed" at warn, after
// about one short script in two, so cron jobs filled the log).
test('a publisher that leaves with a reply unread is an ordinary leave: no warning', async () => {
  const relay = await new Relay().start();
  const sub = await rawSse(relay.port, '/sse?channel=left');
  const sock = net.connect(relay.socket);
  sock.pause(); // never read: the relay's ack stays in this socket's queue
  await once(sock, 'connect');
  const frame = (data, extra = {}) =>
    encode({ op: 'pub', t: 'sse', ch: 'left', data, ts: process.hrtime.bigint(), ...extra }, { useBigInt64: true });
  sock.write(frame('one', { ack: 1 }));
  // The relay publishes, then writes the ack in the same turn: once the
  // subscriber has the event, the ack waits unread in our socket.
  await sub.waitEvents(1);
  // One more frame, then gone: the relay reads it before it sees the reset.
  await new Promise((resolve) => sock.write(frame('two'), resolve));
  sock.destroy();
  await sub.waitEvents(2);
  assert.deepEqual(sub.events().map((e) => e.data), ['one', 'two']);
  const m = await waitFor(async () => {
    const x = await relay.metrics();
    return x.herald_ingest_connections === 0 && x;
  }, 'the relay to see the publisher leave');
  assert.equal(m.herald_ingest_connections_total, 1);
  assert.doesNotMatch(relay.log(), /warn/);
  sub.destroy();
  await relay.stopClean();
});
