// SSE transport (Contract 2): response head, the first block, WHATWG event
// encoding on the wire and through a real EventSource, heartbeats, several
// channels on one stream, the first retry: drawn from the configured range.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Relay, Publisher, sse, wsClient, rawSse, httpGet, pubOk } from './lib/harness.mjs';

const ID_RE = /^[0-9a-f]+-\d+$/;

test('SSE response head and the first block: retry, then the current position as id', async () => {
  const relay = await new Relay().start();
  const c = await rawSse(relay.port, '/sse?channel=news');
  const res = c.response();
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'text/event-stream');
  assert.equal(res.headers['cache-control'], 'no-cache');
  assert.equal(res.headers['x-accel-buffering'], 'no');
  assert.equal(res.headers['content-length'], undefined, 'a stream has no length');
  // Exactly "retry: N\nid: <boot>-<seq>\n\n" with no data: no event fires.
  assert.match(res.body, /^retry: \d+\nid: [0-9a-f]+-0\n\n$/);
  const [first] = c.blocks();
  assert.equal(first.data, undefined);

  // A later stream's first id is the position after what was published.
  const pub = await new Publisher(relay.socket).connect();
  const ack = await pubOk(pub, 'sse', 'other', 'x');
  const c2 = await rawSse(relay.port, '/sse?channel=news');
  assert.equal(c2.blocks()[0].id, ack.id);
  assert.equal(c2.blocks()[0].data, undefined);
  c.destroy();
  c2.destroy();
  await pub.close();
  await relay.stopClean();
});

test('SSE encoding: id, event, retry and multi-line data (CR, LF, CRLF) on the wire', async () => {
  const relay = await new Relay().start();
  const c = await rawSse(relay.port, '/sse?channel=enc');
  const pub = await new Publisher(relay.socket).connect();
  const a1 = await pubOk(pub, 'sse', 'enc', 'one\ntwo\rthree\r\nfour', {
    event: 'update',
    retry: 4321,
  });
  const a2 = await pubOk(pub, 'sse', 'enc', 'trailing\n');
  const a3 = await pubOk(pub, 'sse', 'enc', '\r\n\n\r');
  const a4 = await pubOk(pub, 'sse', 'enc', 'ünïcødé ✓ 🚀 data: id: event: x');
  await c.waitEvents(4);
  const body = c.response().body;
  const blocks = body
    .split('\n\n')
    .slice(1, 5)
    .map((b) => b + '\n\n');
  assert.equal(
    blocks[0],
    `id: ${a1.id}\nevent: update\nretry: 4321\ndata: one\ndata: two\ndata: three\ndata: four\n\n`,
  );
  assert.equal(blocks[1], `id: ${a2.id}\ndata: trailing\ndata: \n\n`);
  assert.equal(blocks[2], `id: ${a3.id}\ndata: \ndata: \ndata: \ndata: \n\n`);
  assert.equal(blocks[3], `id: ${a4.id}\ndata: ünïcødé ✓ 🚀 data: id: event: x\n\n`);
  // No CR anywhere in the stream after the HTTP head: every line ends in LF.
  assert.ok(!body.includes('\r'));
  c.destroy();
  await pub.close();
  await relay.stopClean();
});

test('SSE through a real EventSource: data lines joined with LF, named events, ids', async () => {
  const relay = await new Relay().start();
  const client = sse(relay.url('/sse?channel=es'), { events: ['update', 'herald.gap'] });
  await client.opened;
  const pub = await new Publisher(relay.socket).connect();
  const acks = [];
  acks.push(await pubOk(pub, 'sse', 'es', 'a\rb\r\nc\nd'));
  acks.push(await pubOk(pub, 'sse', 'es', '{"json":true}', { event: 'update' }));
  acks.push(await pubOk(pub, 'sse', 'es', 'x\n'));
  acks.push(await pubOk(pub, 'sse', 'es', '  leading spaces'));
  acks.push(await pubOk(pub, 'sse', 'es', 'ω', { retry: 1500 }));
  acks.push(await pubOk(pub, 'sse', 'es', '')); // empty data still fires, with ''
  const big = Array.from({ length: 20000 }, (_, i) => `line ${i} ${'é'.repeat(i % 7)}`).join(
    '\r\n',
  );
  acks.push(await pubOk(pub, 'sse', 'es', big));
  const got = await client.waitCount(7);
  assert.deepEqual(
    got.map((e) => [e.type, e.data, e.id]),
    [
      ['message', 'a\nb\nc\nd', acks[0].id],
      ['update', '{"json":true}', acks[1].id],
      ['message', 'x\n', acks[2].id],
      ['message', '  leading spaces', acks[3].id],
      ['message', 'ω', acks[4].id],
      ['message', '', acks[5].id],
      ['message', big.replaceAll('\r\n', '\n'), acks[6].id],
    ],
  );
  for (const a of acks) assert.match(a.id, ID_RE);
  client.close();
  await pub.close();
  await relay.stopClean();
});

test('SSE ids are <boot>-<seq>, increasing, and the same boot for every event', async () => {
  const relay = await new Relay().start();
  const c = await rawSse(relay.port, '/sse?channel=ids');
  const pub = await new Publisher(relay.socket).connect();
  for (let i = 0; i < 5; i++) await pub.pub('sse', 'ids', `m${i}`);
  const evs = await c.waitEvents(5);
  const ids = evs.map((e) => e.id);
  const boot = c.blocks()[0].id.split('-')[0];
  let prev = Number(c.blocks()[0].id.split('-')[1]);
  for (const id of ids) {
    assert.match(id, ID_RE);
    const [b, seq] = id.split('-');
    assert.equal(b, boot);
    assert.ok(Number(seq) > prev, `${id} after seq ${prev}`);
    prev = Number(seq);
  }
  assert.deepEqual(
    evs.map((e) => e.data),
    ['m0', 'm1', 'm2', 'm3', 'm4'],
  );
  c.destroy();
  await pub.close();
  await relay.stopClean();
});

test('SSE heartbeat: an idle stream gets ": ping" comments that fire no event', async () => {
  const relay = await new Relay({ flags: { ping_interval: 1 } }).start();
  // The EventSource opens first, so each sweep that pings the raw stream
  // has pinged it too (it has been idle at least as long).
  const client = sse(relay.url('/sse?channel=idle'));
  await client.opened;
  const c = await rawSse(relay.port, '/sse?channel=idle');
  await c.until(() => c.blocks().filter((b) => b.comment).length >= 2, 'two heartbeats');
  const pings = c.blocks().filter((b) => b.comment);
  for (const p of pings) assert.equal(p.raw, ': ping\n\n');
  assert.equal(c.events().length, 0);
  const pub = await new Publisher(relay.socket).connect();
  await pub.pub('sse', 'idle', 'after pings');
  // The stream stayed open across the heartbeats and dispatched nothing else.
  assert.deepEqual(
    (await client.waitCount(1)).map((e) => e.data),
    ['after pings'],
  );
  assert.equal(client.received.length, 1);
  assert.equal(client.es.readyState, 1);
  client.close();
  c.destroy();
  await pub.close();
  await relay.stopClean();
});

test('SSE: many channels on one connection, each message once, others not', async () => {
  const relay = await new Relay().start();
  const names = Array.from({ length: 20 }, (_, i) => `room.${i}`);
  const url = '/sse?' + names.map((n) => `channel=${encodeURIComponent(n)}`).join('&');
  const client = sse(relay.url(url));
  await client.opened;
  const raw = await rawSse(relay.port, url);
  const pub = await new Publisher(relay.socket).connect();
  for (const n of names) await pub.pub('sse', n, `to ${n}`);
  await pub.pub('sse', 'room.99', 'not subscribed');
  await pub.pub('sse', ['room.3', 'room.4', 'room.99'], 'three channels, once');
  await pub.pub('sse', 'room.0', 'marker');
  const got = await client.waitCount(22);
  assert.deepEqual(
    got.map((e) => e.data),
    [...names.map((n) => `to ${n}`), 'three channels, once', 'marker'],
  );
  const rawEvents = await raw.waitEvents(22);
  assert.deepEqual(
    rawEvents.map((e) => e.data),
    got.map((e) => e.data),
  );
  assert.deepEqual(
    rawEvents.map((e) => e.id),
    got.map((e) => e.id),
  );
  client.close();
  raw.destroy();
  await pub.close();
  await relay.stopClean();
});

test('SSE: channel names are URL-decoded and validated; bad queries get 400', async () => {
  const relay = await new Relay({ flags: { max_channels: 3 } }).start();
  const pub = await new Publisher(relay.socket).connect();
  // %3A is ':' and %40 is '@', both allowed in a name.
  const c = await rawSse(relay.port, '/sse?channel=user%3A42%40site');
  await pubOk(pub, 'sse', 'user:42@site', 'decoded');
  assert.equal((await c.waitEvents(1))[0].data, 'decoded');
  const bad = [
    ['/sse', /channel/],
    ['/sse?channel=', /invalid channel/],
    ['/sse?channel=has%20space', /invalid channel/],
    ['/sse?channel=' + 'x'.repeat(201), /invalid channel/],
    ['/sse?channel=a&channel=b&channel=c&channel=d', /too many channels/],
    ['/sse?channel=%zz', /malformed/],
  ];
  for (const [p, re] of bad) {
    const r = await httpGet(relay.port, p);
    assert.equal(r.status, 400, p);
    assert.match(r.body, re, p);
  }
  // Exactly max_channels is fine.
  const ok = await rawSse(relay.port, '/sse?channel=a&channel=b&channel=c');
  assert.equal(ok.response().status, 200);
  c.destroy();
  ok.destroy();
  await pub.close();
  await relay.stopClean();
});

test('SSE: the first retry: is drawn per connection within [retry_min, retry_max]', async () => {
  const relay = await new Relay({ flags: { retry_min: 1500, retry_max: 1600 } }).start();
  const seen = new Set();
  for (let i = 0; i < 12; i++) {
    const c = await rawSse(relay.port, '/sse?channel=r');
    const retry = Number(c.blocks()[0].retry);
    assert.ok(Number.isInteger(retry) && retry >= 1500 && retry <= 1600, `retry ${retry}`);
    assert.equal(c.blocks()[0].fields[0][0], 'retry', 'retry comes first');
    seen.add(retry);
    c.destroy();
  }
  // Twelve draws from 101 values being all equal would mean no drawing at all.
  assert.ok(seen.size > 1, `retry values ${[...seen]}`);
  await relay.stopClean();
});

test('SSE: retry_min == retry_max gives exactly that retry:', async () => {
  const relay = await new Relay({ flags: { retry_min: 1234, retry_max: 1234 } }).start();
  for (let i = 0; i < 3; i++) {
    const c = await rawSse(relay.port, '/sse?channel=r');
    assert.equal(c.blocks()[0].retry, '1234');
    c.destroy();
  }
  await relay.stopClean();
});

test('SSE and WS share channel names but each transport gets its own publishes', async () => {
  const relay = await new Relay().start();
  const c = await rawSse(relay.port, '/sse?channel=shared');
  const ws = await wsClient(relay.wsUrl('/ws?channel=shared'));
  const pub = await new Publisher(relay.socket).connect();
  await pub.pub('ws', 'shared', 'for ws');
  await pub.pub('sse', 'shared', 'for sse');
  await pub.pub('ws', 'shared', 'ws marker');
  await pub.pub('sse', 'shared', 'sse marker');
  assert.deepEqual(
    (await c.waitEvents(2)).map((e) => e.data),
    ['for sse', 'sse marker'],
  );
  assert.deepEqual(
    (await ws.waitCount(2)).map((m) => m.data),
    ['for ws', 'ws marker'],
  );
  c.destroy();
  ws.ws.close();
  await ws.closed;
  await pub.close();
  await relay.stopClean();
});

test('SSE: cors_origin adds Access-Control-Allow-Origin', async () => {
  const relay = await new Relay({ flags: { cors_origin: 'https://app.example' } }).start();
  const c = await rawSse(relay.port, '/sse?channel=cors');
  assert.equal(c.response().headers['access-control-allow-origin'], 'https://app.example');
  c.destroy();
  await relay.stopClean();
});
