// Ingest (Contract 1): the Unix stream socket with hundreds of concurrent
// publishers, msgpack frames split and coalesced anyhow, ack replies, invalid
// frames rejected alone (logged, counted, nacked; the connection stays
// open), and bytes that are not msgpack closing only their own connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { encode } from '@msgpack/msgpack';
import { Relay, Publisher, rawSse, wsClient, pubOk, waitFor } from './lib/harness.mjs';

const frame = (o) => Buffer.from(encode(o, { useBigInt64: true }));

// Replace the bytes of a placeholder inside an encoded frame (same length),
// to put bytes the encoder would never write (invalid UTF-8 in a str).
function patch(buf, placeholder, bytes) {
  const i = buf.indexOf(placeholder);
  assert.ok(i >= 0);
  Buffer.from(bytes).copy(buf, i);
  return buf;
}

async function metric(relay, name) {
  return (await relay.metrics())[name];
}

test('hundreds of concurrent publisher connections, each acked, all delivered', async () => {
  const relay = await new Relay().start();
  const sub = await rawSse(relay.port, '/sse?channel=many');
  const ws = await wsClient(relay.wsUrl('/ws?channel=many'));
  const N = 300;
  const pubs = await Promise.all(
    Array.from({ length: N }, () => new Publisher(relay.socket).connect()),
  );
  await waitFor(
    async () => (await metric(relay, 'herald_ingest_connections')) === N,
    `${N} publishers`,
  );
  // Every worker says hello, then publishes at once, all connections open.
  await Promise.all(
    pubs.map((p, i) => p.write(frame({ op: 'hello', v: 1, client: 'e2e/1', pid: 1000 + i }))),
  );
  const acks = await Promise.all(
    pubs.map((p, i) => p.pubAck(i % 2 ? 'ws' : 'sse', 'many', `from ${i}`)),
  );
  for (const a of acks) {
    assert.equal(a.ok, true);
    assert.match(a.id, /^[0-9a-f]+-\d+$/);
  }
  assert.equal(new Set(acks.map((a) => a.id)).size, N, 'every id unique');
  const evs = await sub.waitEvents(N / 2);
  assert.deepEqual(
    new Set(evs.map((e) => e.data)),
    new Set(Array.from({ length: N / 2 }, (_, k) => `from ${2 * k}`)),
  );
  // The SSE id of each message is the id its ack reported.
  const ackById = new Map(acks.map((a, i) => [a.id, i]));
  for (const e of evs) assert.equal(e.data, `from ${ackById.get(e.id)}`);
  const wsMsgs = await ws.waitCount(N / 2);
  assert.equal(new Set(wsMsgs.map((m) => m.data)).size, N / 2);
  const m = await relay.metrics();
  assert.ok(m['herald_ingest_connections_total'] >= N);
  assert.equal(m['herald_messages_published_total{transport="sse"}'], N / 2);
  assert.equal(m['herald_messages_published_total{transport="ws"}'], N / 2);
  await Promise.all(pubs.map((p) => p.close()));
  await waitFor(
    async () => (await metric(relay, 'herald_ingest_connections')) === 0,
    'publishers gone',
  );
  sub.destroy();
  ws.ws.close();
  await ws.closed;
  await relay.stopClean();
});

test('ack replies: {"op":"ack","ack":N,"ok":true,"id"} echoing any uint, for both transports', async () => {
  const relay = await new Relay().start();
  const sub = await rawSse(relay.port, '/sse?channel=acks');
  const pub = await new Publisher(relay.socket).connect();
  // 2n ** 32n + 5n: a BigInt, so the encoder writes a uint64 (a large JS number
  // would go out as a float64, which is no ack at all).
  for (const ack of [0, 1, 255, 65536, 2n ** 32n + 5n]) {
    const r = await pub.raw({ op: 'pub', t: 'sse', ch: 'acks', data: `ack ${ack}`, ack });
    assert.deepEqual(Object.keys(r).sort(), ['ack', 'id', 'ok', 'op']);
    assert.deepEqual([r.op, r.ack, r.ok], ['ack', Number(ack), true]);
  }
  const wsAck = await pub.raw({ op: 'pub', t: 'ws', ch: 'acks', data: 'x', ack: 77 });
  assert.deepEqual([wsAck.op, wsAck.ack, wsAck.ok], ['ack', 77, true]);
  assert.match(wsAck.id, /^[0-9a-f]+-\d+$/);
  const evs = await sub.waitEvents(5);
  const acked = pub.replies.filter((r) => r.ok && r.ack !== 77);
  assert.deepEqual(
    evs.map((e) => e.id),
    acked.map((r) => r.id),
  );
  // Without ack nothing comes back; frames without ts are fine too.
  await pub.write(frame({ op: 'pub', t: 'sse', ch: 'acks', data: 'no ack, no ts' }));
  await pub.raw({ op: 'pub', t: 'sse', ch: 'acks', data: 'marker', ack: 9 });
  assert.deepEqual(
    (await sub.waitEvents(7)).slice(5).map((e) => e.data),
    ['no ack, no ts', 'marker'],
  );
  assert.equal(pub.replies.length, 7);
  sub.destroy();
  await pub.close();
  await relay.stopClean();
});

test('invalid frames are rejected alone: nacked, logged, counted; the connection stays open', async () => {
  const relay = await new Relay().start();
  const sub = await rawSse(relay.port, '/sse?channel=ok&channel=a');
  const wsSub = await wsClient(relay.wsUrl('/ws?channel=a'));
  const pub = await new Publisher(relay.socket).connect();
  const base = { op: 'pub', t: 'sse', ch: 'a', data: 'x' };
  const cases = [
    [{ t: 'sse', ch: 'a', data: 'x' }, /op/],
    [{ ...base, op: 'nope' }, /unknown op/],
    [{ ...base, op: 5 }, /op/],
    [{ ...base, t: undefined }, /missing t/],
    [{ ...base, t: 'mqtt' }, /t must be/],
    [{ ...base, ch: undefined }, /missing ch/],
    [{ ...base, ch: 'bad name' }, /invalid channel/],
    [{ ...base, ch: 'x'.repeat(201) }, /invalid channel/],
    [{ ...base, ch: '' }, /invalid channel/],
    [{ ...base, ch: [] }, /empty/],
    [{ ...base, ch: ['a', 5] }, /not a string/],
    [{ ...base, ch: 7 }, /ch must be/],
    [{ ...base, data: undefined }, /missing data/],
    [{ ...base, data: 42 }, /data must be/],
    [{ ...base, data: { nested: true } }, /data must be/],
    [{ ...base, event: 'two\nlines' }, /event/],
    [{ ...base, event: 'cr\rhere' }, /event/],
    [{ ...base, event: 5 }, /event/],
    [{ ...base, retry: 0 }, /retry/],
    [{ ...base, retry: -5 }, /retry/],
    [{ ...base, retry: 'soon' }, /retry/],
  ];
  let n = 100;
  for (const [f, re] of cases) {
    const ack = n++;
    const o = { ...f, ack };
    for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
    const r = await pub.raw(o);
    assert.deepEqual([r.op, r.ack, r.ok], ['ack', ack, false], JSON.stringify(f));
    assert.equal(typeof r.error, 'string');
    assert.match(r.error, re, JSON.stringify(f));
    assert.equal(r.id, undefined);
  }
  // Invalid UTF-8 in str data, for SSE and for a WS text frame.
  const badUtf8 = [
    patch(frame({ ...base, data: 'QQQQ', ack: n++ }), 'QQQQ', [0xff, 0xfe, 0xc3, 0x28]),
    patch(frame({ ...base, t: 'ws', data: 'QQQQ', ack: n++ }), 'QQQQ', [0xed, 0xa0, 0x80, 0x41]),
    patch(frame({ ...base, event: 'QQ', ack: n++ }), 'QQ', [0xc3, 0x28]),
  ];
  for (const b of badUtf8) {
    const before = pub.replies.length;
    await pub.write(b);
    const r = await waitFor(() => pub.replies[before], 'nack');
    assert.equal(r.ok, false);
    assert.match(r.error, /UTF-8|event/);
  }
  // Without an ack (and not even a map) a bad frame is still only rejected.
  await pub.write(frame([1, 2, 3]));
  await pub.write(frame('just a string'));
  await pub.write(frame({ ...base, ch: 'bad name' }));
  await pub.write(
    frame(
      new Map([
        [1, 2],
        ['op', 'pub'],
      ]),
    ),
  );
  const rejected = cases.length + badUtf8.length + 4;
  // Unknown keys are ignored; hello is valid and answered with nothing.
  await pub.write(frame({ op: 'hello', v: 1, client: 'e2e', pid: process.pid }));
  const ok = await pub.raw({
    ...base,
    ch: 'ok',
    data: 'valid after all that',
    future: { x: [1] },
    ack: 1,
  });
  assert.equal(ok.ok, true);
  const evs = await sub.waitEvents(1);
  assert.deepEqual(
    evs.map((e) => e.data),
    ['valid after all that'],
  );
  assert.equal(sub.events().length, 1, 'nothing invalid was published');
  assert.equal(wsSub.received.length, 0);
  const m = await relay.metrics();
  assert.equal(m['herald_ingest_rejects_total{reason="invalid"}'], rejected);
  assert.equal(m['herald_ingest_rejects_total{reason="malformed"}'], 0);
  assert.equal(m['herald_ingest_connections'], 1);
  assert.equal(m['herald_messages_published_total{transport="sse"}'], 1);
  assert.match(relay.log(), /frame rejected: pub: invalid channel name 'bad name'/);
  assert.equal((relay.log().match(/frame rejected/g) || []).length, rejected);
  sub.destroy();
  wsSub.ws.close();
  await wsSub.closed;
  await pub.close();
  await relay.stopClean();
});

test('bytes that are not msgpack close only that connection', async () => {
  const relay = await new Relay().start();
  const sub = await rawSse(relay.port, '/sse?channel=c');
  const good = await new Publisher(relay.socket).connect();
  const bad = await new Publisher(relay.socket).connect();
  await pubOk(bad, 'sse', 'c', 'from bad, before');
  let goodClosed = false;
  good.closed.then(() => (goodClosed = true));
  await bad.write(Buffer.from([0xc1, 0x00, 0x01]));
  await bad.closed;
  assert.equal(bad.sock.destroyed, true);
  // The other publisher is unaffected.
  const r = await pubOk(good, 'sse', 'c', 'from good, after');
  assert.equal(r.ok, true);
  const evs = await sub.waitEvents(2);
  assert.deepEqual(
    evs.map((e) => e.data),
    ['from bad, before', 'from good, after'],
  );
  assert.equal(goodClosed, false);
  const m = await relay.metrics();
  assert.equal(m['herald_ingest_rejects_total{reason="malformed"}'], 1);
  assert.equal(m['herald_ingest_connections'], 1);
  assert.match(relay.log(), /not msgpack/);
  // A fresh connection works as well.
  const again = await new Publisher(relay.socket).connect();
  await pubOk(again, 'sse', 'c', 'new connection');
  assert.equal((await sub.waitEvents(3))[2].data, 'new connection');
  sub.destroy();
  await good.close();
  await again.close();
  await relay.stopClean();
});

test('a complete frame written just before bytes that are not msgpack is still published', async () => {
  const relay = await new Relay().start();
  const sub = await rawSse(relay.port, '/sse?channel=tail');
  const pub = await new Publisher(relay.socket).connect();
  // One write: a valid frame, then garbage. The frame was handed to the
  // kernel whole, so its publisher was told it was sent.
  await pub.write(
    Buffer.concat([
      frame({ op: 'pub', t: 'sse', ch: 'tail', data: 'complete' }),
      Buffer.from([0xc1]),
    ]),
  );
  await pub.closed;
  const other = await new Publisher(relay.socket).connect();
  await pubOk(other, 'sse', 'tail', 'marker');
  const evs = await sub.waitEvents(2);
  assert.deepEqual(
    evs.map((e) => e.data),
    ['complete', 'marker'],
  );
  assert.equal((await relay.metrics())['herald_ingest_rejects_total{reason="malformed"}'], 1);
  sub.destroy();
  await other.close();
  await relay.stopClean();
});

test('the streaming unpacker: frames split byte by byte, and many frames in one write', async () => {
  const relay = await new Relay().start();
  const sub = await rawSse(relay.port, '/sse?channel=s');
  const pub = await new Publisher(relay.socket).connect();
  const f = frame({
    op: 'pub',
    t: 'sse',
    ch: 's',
    data: 'split ✓ '.repeat(40),
    ack: 5,
    ts: process.hrtime.bigint(),
  });
  for (let i = 0; i < f.length; i++) await pub.write(f.subarray(i, i + 1));
  const r = await waitFor(() => pub.replies.find((x) => x.ack === 5), 'ack of the split frame');
  assert.equal(r.ok, true);
  assert.equal((await sub.waitEvents(1))[0].data, 'split ✓ '.repeat(40));
  // 200 frames in one write, and a frame whose end comes with the next one.
  const batch = Buffer.concat(
    Array.from({ length: 200 }, (_, i) =>
      frame({ op: 'pub', t: 'sse', ch: 's', data: `b${i}`, ts: process.hrtime.bigint() }),
    ),
  );
  const tail = frame({ op: 'pub', t: 'sse', ch: 's', data: 'straddles', ack: 6 });
  await pub.write(Buffer.concat([batch, tail.subarray(0, 7)]));
  await pub.write(tail.subarray(7));
  const evs = await sub.waitEvents(202);
  assert.deepEqual(
    evs.slice(1).map((e) => e.data),
    [...Array.from({ length: 200 }, (_, i) => `b${i}`), 'straddles'],
  );
  sub.destroy();
  await pub.close();
  await relay.stopClean();
});

test('a frame past max_frame_bytes closes its connection (counted too_big); others carry on', async () => {
  const relay = await new Relay({ flags: { max_frame_bytes: 2048 } }).start();
  const sub = await rawSse(relay.port, '/sse?channel=big');
  const pub = await new Publisher(relay.socket).connect();
  await pubOk(pub, 'sse', 'big', 'y'.repeat(1900));
  const big = await new Publisher(relay.socket).connect();
  await big.write(frame({ op: 'pub', t: 'sse', ch: 'big', data: 'z'.repeat(3000) }));
  await big.closed;
  // Deep nesting is refused the same way, by the scanner, before parsing.
  const deep = await new Publisher(relay.socket).connect();
  let v = 'x';
  for (let i = 0; i < 40; i++) v = [v];
  await deep.write(frame({ op: 'pub', t: 'sse', ch: 'big', data: 'deep', extra: v }));
  await deep.closed;
  await pubOk(pub, 'sse', 'big', 'after');
  const evs = await sub.waitEvents(2);
  assert.deepEqual(
    evs.map((e) => e.data.length),
    [1900, 5],
  );
  const m = await relay.metrics();
  assert.equal(m['herald_ingest_rejects_total{reason="too_big"}'], 1);
  assert.equal(m['herald_ingest_rejects_total{reason="malformed"}'], 1);
  assert.equal(m['herald_ingest_connections'], 1);
  sub.destroy();
  await pub.close();
  await relay.stopClean();
});

test('a publisher that disconnects mid-frame publishes nothing and harms nothing', async () => {
  const relay = await new Relay().start();
  const sub = await rawSse(relay.port, '/sse?channel=half');
  const f = frame({ op: 'pub', t: 'sse', ch: 'half', data: 'never whole' });
  for (let i = 0; i < 5; i++) {
    const p = await new Publisher(relay.socket).connect();
    await p.write(f.subarray(0, f.length - 3));
    await p.close();
  }
  const pub = await new Publisher(relay.socket).connect();
  await pubOk(pub, 'sse', 'half', 'whole');
  assert.deepEqual(
    (await sub.waitEvents(1)).map((e) => e.data),
    ['whole'],
  );
  assert.equal(sub.events().length, 1);
  await waitFor(
    async () => (await metric(relay, 'herald_ingest_connections')) === 1,
    'half frames dropped',
  );
  sub.destroy();
  await pub.close();
  await relay.stopClean();
});

test('WS publishes: bin data is accepted as is, str must be UTF-8, ack ids are shared with SSE', async () => {
  const relay = await new Relay().start();
  const pub = await new Publisher(relay.socket).connect();
  const ws = await wsClient(relay.wsUrl('/ws?channel=w'));
  const r1 = await pub.raw({
    op: 'pub',
    t: 'ws',
    ch: 'w',
    data: new Uint8Array([0xff, 0x00, 0xc3]),
    ack: 1,
  });
  assert.equal(r1.ok, true);
  const r2 = await pubOk(pub, 'sse', 'w', 'sse in between');
  const r3 = await pubOk(pub, 'ws', 'w', 'text');
  assert.ok(Number(r1.id.split('-')[1]) < Number(r2.id.split('-')[1]));
  assert.ok(Number(r2.id.split('-')[1]) < Number(r3.id.split('-')[1]));
  const got = await ws.waitCount(2);
  assert.deepEqual(Buffer.from(got[0].data), Buffer.from([0xff, 0x00, 0xc3]));
  assert.equal(got[1].data, 'text');
  ws.ws.close();
  await ws.closed;
  await pub.close();
  await relay.stopClean();
});

test('the ingest socket is created with socket_mode (0660 by default)', async () => {
  const relay = await new Relay().start();
  assert.equal(fs.statSync(relay.socket).mode & 0o777, 0o660);
  assert.ok(fs.statSync(relay.socket).isSocket());
  await relay.stopClean();
  const strict = await new Relay({ flags: { socket_mode: '0600' } }).start();
  assert.equal(fs.statSync(strict.socket).mode & 0o777, 0o600);
  await strict.stopClean();
});

test('a publisher that asks for a ring and is gone before the answer: its frames are still published', async () => {
  const relay = await new Relay().start();
  const sub = await rawSse(relay.port, '/sse?channel=gone');
  const pub = await new Publisher(relay.socket).connect();
  // The relay is stopped (SIGSTOP, seen in /proc) while the publisher writes
  // a hello asking for a ring and 100 frames, then closes its socket; so the
  // relay, continued, finds the peer gone when it sends the ring's answer.
  const pid = relay.proc.pid;
  await relay.pause();
  const frames = [frame({ op: 'hello', v: 1, client: 'e2e', pid: process.pid, ring: 65536 })];
  for (let i = 0; i < 100; i++) frames.push(frame({ op: 'pub', t: 'sse', ch: 'gone', data: `m${i}` }));
  await pub.write(Buffer.concat(frames));
  pub.sock.destroy();
  process.kill(pid, 'SIGCONT');
  await sub.waitEvents(100);
  assert.deepEqual(
    sub.events().map((e) => e.data),
    Array.from({ length: 100 }, (_, i) => `m${i}`),
  );
  await waitFor(async () => (await relay.metrics()).herald_ingest_rings === 0, 'no ring left mapped');
  sub.destroy();
  await relay.stopClean();
});
