// Order on connect (DESIGN.md, Guarantees: "including the first frames of a
// new publisher connection"): a fresh PHP process publishes and exits, then a
// long-lived PHP worker publishes; subscribers must see the fresh process's
// message first. The relay accepts a new connection in the poll that sees
// it; if it read its bytes only in the next turn, the check phase in between
// could release the worker's later frame. Also with the relay frozen
// (SIGSTOP) while both publish and thawed (SIGCONT) after: the worker's ring
// is kept awake, so the relay's poll has a 1 ms timeout, returns after the
// thaw, and the next turn sees the listener and the worker's ring at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Relay, rawSse, waitFor } from './lib/harness.mjs';
import { PhpWorker, runPhp } from './lib/php.mjs';

const stopped = (pid) => / T /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\)/, ')'));

test('a fresh PHP process publishes and exits, then an established worker publishes: fresh first, also across SIGSTOP/SIGCONT', async () => {
  const relay = await new Relay({ flags: { ingest_ring_idle_ms: 60000 } }).start();
  const sub = await rawSse(relay.port, '/sse?channel=race');
  const worker = new PhpWorker(relay.socket);
  // Until the worker's ring carries its frames (the first ones go to the
  // socket while the relay's answer to its hello is on its way).
  await waitFor(async () => {
    assert.equal((await worker.call('sse_emit', ['warm', 'w'])).result, true);
    return (await relay.metrics()).herald_ingest_ring_frames_total > 0;
  }, 'the worker publishing through its ring');
  const want = [];
  for (let i = 0; i < 6; i++) {
    const frozen = i % 2 === 1;
    if (frozen) {
      process.kill(relay.proc.pid, 'SIGSTOP');
      await waitFor(() => stopped(relay.proc.pid), 'the relay stopped');
    }
    const fresh = await runPhp(`exit(sse_emit('race', 'fresh ${i}') ? 0 : 1);`, { 'herald.socket': relay.socket }).done;
    assert.equal(fresh.code, 0, fresh.stderr);
    const r = await worker.call('sse_emit', ['race', `worker ${i}`]);
    assert.equal(r.result, true, r.error);
    if (frozen) process.kill(relay.proc.pid, 'SIGCONT');
    want.push(`fresh ${i}`, `worker ${i}`);
  }
  const evs = await sub.waitEvents(want.length);
  assert.deepEqual(evs.map((e) => e.data), want);
  await worker.stop();
  sub.destroy();
  await relay.stopClean();
});
