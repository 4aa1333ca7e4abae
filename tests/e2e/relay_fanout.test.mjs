// Fan-out: one publish to several channels reaches each connection once;
// a slow consumer (a client that never reads) is cut off past
// max_queued_bytes while normal subscribers get everything, and the cut SSE
// client resumes exactly from history.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Relay, Publisher, sse, wsClient, rawSse, rawWs, pubOk, waitFor } from './lib/harness.mjs';

test('a publish to several channels reaches a connection subscribed to several of them once', async () => {
  const relay = await new Relay().start();
  const both = await rawSse(relay.port, '/sse?channel=A&channel=B&channel=Z');
  const onlyC = await rawSse(relay.port, '/sse?channel=C');
  const dup = await rawSse(relay.port, '/sse?channel=A&channel=A');
  const es = sse(relay.url('/sse?channel=B&channel=C&channel=A'));
  await es.opened;
  const wsBoth = await wsClient(relay.wsUrl('/ws?channel=A&channel=B'));
  const wsSubs = await wsClient(relay.wsUrl('/ws?channel=A'));
  wsSubs.send({ type: 'subscribe', channel: 'C' });
  await wsSubs.waitCount(1);
  const pub = await new Publisher(relay.socket).connect();
  const before = await relay.metrics();
  await pubOk(pub, 'sse', ['A', 'B', 'C'], 'to A, B and C');
  await pubOk(pub, 'sse', ['B', 'A', 'B', 'A'], 'names repeated');
  await pubOk(pub, 'ws', ['A', 'B', 'C'], 'ws to A, B and C');
  await pubOk(pub, 'sse', 'A', 'sse marker');
  await pubOk(pub, 'sse', 'C', 'sse marker');
  await pubOk(pub, 'ws', ['A', 'C'], 'ws marker');
  assert.deepEqual(
    (await both.waitEvents(3)).map((e) => e.data),
    ['to A, B and C', 'names repeated', 'sse marker'],
  );
  assert.deepEqual(
    (await onlyC.waitEvents(2)).map((e) => e.data),
    ['to A, B and C', 'sse marker'],
  );
  assert.deepEqual(
    (await dup.waitEvents(3)).map((e) => e.data),
    ['to A, B and C', 'names repeated', 'sse marker'],
  );
  assert.deepEqual(
    (await es.waitCount(4)).map((e) => e.data),
    ['to A, B and C', 'names repeated', 'sse marker', 'sse marker'],
  );
  assert.deepEqual(
    (await wsBoth.waitCount(2)).map((m) => m.data),
    ['ws to A, B and C', 'ws marker'],
  );
  assert.deepEqual(
    (await wsSubs.waitCount(3)).slice(1).map((m) => m.data),
    ['ws to A, B and C', 'ws marker'],
  );
  // Nothing more arrives later: the markers came after any duplicate would have.
  assert.equal(both.events().length, 3);
  assert.equal(es.received.length, 4);
  assert.equal(wsBoth.received.length, 2);
  const after = await relay.metrics();
  // Deliveries count connections: 4 SSE connections x first two publishes
  // (C-only misses 'names repeated'), then the markers.
  assert.equal(
    after['herald_messages_delivered_total{transport="sse"}'] -
      before['herald_messages_delivered_total{transport="sse"}'],
    4 + 3 + 3 + 2,
  );
  assert.equal(
    after['herald_messages_delivered_total{transport="ws"}'] -
      before['herald_messages_delivered_total{transport="ws"}'],
    4,
  );
  // History holds a multi-channel message once per channel ring, and a
  // resume over several channels replays it once.
  const r = await rawSse(relay.port, '/sse?channel=A&channel=B&channel=C', {
    'Last-Event-ID': both.blocks()[0].id,
  });
  assert.deepEqual(
    (await r.waitEvents(4)).map((e) => e.data),
    ['to A, B and C', 'names repeated', 'sse marker', 'sse marker'],
  );
  for (const c of [both, onlyC, dup, r]) c.destroy();
  es.close();
  for (const w of [wsBoth, wsSubs]) {
    w.ws.close();
    await w.closed;
  }
  await pub.close();
  await relay.stopClean();
});

// Publish big messages until the relay reports a slow-consumer cut; bounded.
async function publishUntilCut(relay, pub, t, ch, size, acks, max = 2000) {
  const payload = (i) => `${String(i).padStart(6, '0')}:${'x'.repeat(size)}`;
  const base = (await relay.metrics())['herald_slow_consumer_disconnects_total'];
  for (let i = acks.length; i < max; i++) {
    acks.push({ ...(await pubOk(pub, t, ch, payload(i))), data: payload(i) });
    if (i % 4 === 3 && (await relay.metrics())['herald_slow_consumer_disconnects_total'] > base)
      return;
  }
  throw new Error(`no slow-consumer cut after ${max} messages`);
}

test('a slow SSE consumer is cut off, others get everything, and it resumes exactly', async () => {
  const relay = await new Relay({ flags: { max_queued_bytes: 4096, history_size: 5000 } }).start();
  const normal = sse(relay.url('/sse?channel=firehose'));
  await normal.opened;
  const normalRaw = await rawSse(relay.port, '/sse?channel=firehose');
  const slow = await rawSse(relay.port, '/sse?channel=firehose');
  slow.sock.pause(); // never reads again until it has been cut off
  const pub = await new Publisher(relay.socket).connect();
  const acks = [];
  await publishUntilCut(relay, pub, 'sse', 'firehose', 32 * 1024, acks);
  const cutAt = acks.length;
  // More after the cut: the others keep receiving.
  for (let i = 0; i < 5; i++)
    acks.push({ ...(await pubOk(pub, 'sse', 'firehose', `after ${i}`)), data: `after ${i}` });
  const got = await normal.waitCount(acks.length);
  assert.deepEqual(
    got.map((e) => e.id),
    acks.map((a) => a.id),
  );
  assert.ok(got.every((e, i) => e.data === acks[i].data));
  assert.equal((await normalRaw.waitEvents(acks.length)).length, acks.length);
  // The slow client now reads what the kernel still held, then the end.
  slow.sock.resume();
  await slow.closed;
  const had = slow.events();
  assert.ok(had.length < cutAt, `cut before the end (${had.length} of ${cutAt})`);
  assert.deepEqual(
    had.map((e) => e.id),
    acks.slice(0, had.length).map((a) => a.id),
    'a prefix, in order',
  );
  const m = await relay.metrics();
  assert.equal(m['herald_slow_consumer_disconnects_total'], 1);
  assert.equal(m['herald_connections{transport="sse"}'], 2);
  // It resumes from its last complete event: exactly the rest, no gap.
  const lastId = had.length ? had.at(-1).id : slow.blocks()[0].id;
  const back = await rawSse(relay.port, '/sse?channel=firehose', { 'Last-Event-ID': lastId });
  const rest = await back.waitEvents(acks.length - had.length);
  assert.ok(!back.blocks().some((b) => b.event === 'herald.gap'));
  assert.deepEqual(
    rest.map((e) => e.id),
    acks.slice(had.length).map((a) => a.id),
  );
  assert.ok(rest.every((e, i) => e.data === acks[had.length + i].data));
  normal.close();
  normalRaw.destroy();
  back.destroy();
  await pub.close();
  await relay.stopClean();
});

test('a slow WebSocket consumer is cut off while a normal one gets everything', async () => {
  const relay = await new Relay({ flags: { max_queued_bytes: 4096 } }).start();
  const normal = await wsClient(relay.wsUrl('/ws?channel=wsfire'));
  const slow = await rawWs(relay.port, '/ws?channel=wsfire');
  slow.sock.pause();
  const pub = await new Publisher(relay.socket).connect();
  const acks = [];
  await publishUntilCut(relay, pub, 'ws', 'wsfire', 32 * 1024, acks);
  await pubOk(pub, 'ws', 'wsfire', 'after the cut');
  const got = await normal.waitCount(acks.length + 1);
  assert.deepEqual(
    got.map((m) => m.data),
    [...acks.map((a) => a.data), 'after the cut'],
  );
  slow.sock.resume();
  await slow.closed;
  const frames = slow.frames();
  assert.ok(frames.length < acks.length);
  assert.deepEqual(
    frames.map((f) => f.text),
    acks.slice(0, frames.length).map((a) => a.data),
  );
  const m = await relay.metrics();
  assert.equal(m['herald_slow_consumer_disconnects_total'], 1);
  assert.equal(m['herald_connections{transport="ws"}'], 1);
  normal.ws.close();
  await normal.closed;
  await pub.close();
  await relay.stopClean();
});

test('many subscribers on one channel all get every message', async () => {
  const relay = await new Relay().start();
  const subs = await Promise.all(
    Array.from({ length: 100 }, () => rawSse(relay.port, '/sse?channel=crowd')),
  );
  const wss = await Promise.all(
    Array.from({ length: 50 }, () => wsClient(relay.wsUrl('/ws?channel=crowd'))),
  );
  const pub = await new Publisher(relay.socket).connect();
  for (let i = 0; i < 20; i++) {
    await pub.pub('sse', 'crowd', `s${i}`);
    await pub.pub('ws', 'crowd', `w${i}`);
  }
  const want = Array.from({ length: 20 }, (_, i) => `s${i}`);
  for (const s of subs)
    assert.deepEqual(
      (await s.waitEvents(20)).map((e) => e.data),
      want,
    );
  for (const w of wss)
    assert.deepEqual(
      (await w.waitCount(20)).map((m) => m.data),
      want.map((x) => 'w' + x.slice(1)),
    );
  await waitFor(
    async () =>
      (await relay.metrics())['herald_messages_delivered_total{transport="sse"}'] === 2000,
    'delivered',
  );
  subs.forEach((s) => s.destroy());
  await Promise.all(wss.map((w) => (w.ws.close(), w.closed)));
  await pub.close();
  await relay.stopClean();
});
