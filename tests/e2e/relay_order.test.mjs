// Ordering (Guarantees, "Order"): a channel's messages reach every
// subscriber in publish order, also when they come from many publisher
// connections, as long as each publish started after the previous one
// returned; and a connection's own frames never reorder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Relay, Publisher, sse, wsClient, rawSse } from './lib/harness.mjs';

test('round-robin over 20 publisher connections, each write awaited: subscribers see publish order', async () => {
  const relay = await new Relay({ flags: { history_size: 5000 } }).start();
  const raw = await rawSse(relay.port, '/sse?channel=ord');
  const es = sse(relay.url('/sse?channel=ord&channel=other'));
  await es.opened;
  const ws = await wsClient(relay.wsUrl('/ws?channel=ord'));
  const pubs = await Promise.all(
    Array.from({ length: 20 }, () => new Publisher(relay.socket).connect()),
  );
  const N = 2000;
  for (let i = 0; i < N; i++) {
    // Publish i starts only once publish i-1 returned (its write completed),
    // like PHP workers taking turns; the transports alternate in pairs.
    const p = pubs[i % pubs.length];
    await p.pub(i % 4 < 2 ? 'sse' : 'ws', 'ord', `${i}`);
  }
  const sseWant = [];
  const wsWant = [];
  for (let i = 0; i < N; i++) (i % 4 < 2 ? sseWant : wsWant).push(`${i}`);
  const evs = await raw.waitEvents(sseWant.length);
  assert.deepEqual(
    evs.map((e) => e.data),
    sseWant,
  );
  const seqs = evs.map((e) => Number(e.id.split('-')[1]));
  assert.deepEqual(
    seqs,
    [...seqs].sort((a, b) => a - b),
    'ids increase in delivery order',
  );
  assert.deepEqual(
    (await es.waitCount(sseWant.length)).map((e) => e.data),
    sseWant,
  );
  assert.deepEqual(
    (await ws.waitCount(wsWant.length)).map((m) => m.data),
    wsWant,
  );
  // History keeps the same order: a replay from the start matches.
  const replay = await rawSse(relay.port, '/sse?channel=ord', {
    'Last-Event-ID': raw.blocks()[0].id,
  });
  assert.deepEqual(
    (await replay.waitEvents(sseWant.length)).map((e) => e.data),
    sseWant,
  );
  raw.destroy();
  replay.destroy();
  es.close();
  ws.ws.close();
  await ws.closed;
  await Promise.all(pubs.map((p) => p.close()));
  await relay.stopClean();
});

test('publishes awaited through their ack across connections, several channels: publish order', async () => {
  const relay = await new Relay().start();
  const raw = await rawSse(relay.port, '/sse?channel=o1&channel=o2&channel=o3');
  const pubs = await Promise.all(
    Array.from({ length: 7 }, () => new Publisher(relay.socket).connect()),
  );
  const want = [];
  for (let i = 0; i < 300; i++) {
    const ch = `o${(i % 3) + 1}`;
    const r = await pubs[(i * 3) % pubs.length].pubAck('sse', ch, `${ch}:${i}`);
    assert.equal(r.ok, true);
    want.push(`${ch}:${i}`);
  }
  assert.deepEqual(
    (await raw.waitEvents(want.length)).map((e) => e.data),
    want,
  );
  raw.destroy();
  await Promise.all(pubs.map((p) => p.close()));
  await relay.stopClean();
});

test("concurrent publishers: each connection's own frames keep their order", async () => {
  const relay = await new Relay({ flags: { history_size: 5000 } }).start();
  const raw = await rawSse(relay.port, '/sse?channel=conc');
  const P = 20;
  const M = 100;
  const pubs = await Promise.all(
    Array.from({ length: P }, () => new Publisher(relay.socket).connect()),
  );
  // All at once: no order between connections, but within each one.
  await Promise.all(
    pubs.map(async (p, k) => {
      for (let i = 0; i < M; i++) {
        p.pub('sse', 'conc', `${k}:${i}`);
      }
      await p.pub('sse', 'conc', `${k}:end`);
    }),
  );
  const evs = await raw.waitEvents(P * (M + 1));
  const next = new Array(P).fill(0);
  for (const e of evs) {
    const [k, i] = e.data.split(':');
    if (i === 'end') {
      assert.equal(next[k], M, `publisher ${k} ended after all its frames`);
    } else {
      assert.equal(Number(i), next[k], `publisher ${k} in order`);
      next[k]++;
    }
  }
  raw.destroy();
  await Promise.all(pubs.map((p) => p.close()));
  await relay.stopClean();
});
