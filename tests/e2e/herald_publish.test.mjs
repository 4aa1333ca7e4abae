// herald_publish() and the ingest keys behind it (t "all", json: true),
// end to end: a real relay, real PHP, real SSE and WebSocket clients. One
// publish reaches SSE and raw WebSocket subscribers with one id, while
// sse_emit() and ws_publish() still reach only their own; a json: true
// frame whose data is not JSON is refused alone; history keeps every
// message but replays to each subscriber only what its transport takes;
// the state file and cluster mode (Redis) carry the target and the json
// flag. "Nothing else arrived" is always proven by a sentinel published
// after, never by waiting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { decode } from '@msgpack/msgpack';
import { Relay, Publisher, rawSse, wsClient, pubOk, tmpdir, waitFor } from './lib/harness.mjs';
import { PhpWorker } from './lib/php.mjs';
import { Redis } from './lib/redis.mjs';

const seqOf = (id) => Number(id.split('-')[1]);
const epochOf = (id) => id.split('-')[0];

async function eventsUntil(c, data) {
  await c.until(() => c.events().some((e) => e.data === data), JSON.stringify(data));
  return c.events();
}

async function wsUntil(w, data) {
  await waitFor(() => w.received.some((m) => m.data === data), `WebSocket message ${JSON.stringify(data)}`);
  return w.received.map((m) => m.data);
}

test('herald_publish() from PHP reaches SSE and raw WebSocket subscribers as one message with one id; sse_emit() and ws_publish() still reach only their own', async () => {
  const relay = await new Relay().start();
  const s = await rawSse(relay.port, '/sse?channel=orders', {});
  const w = await wsClient(relay.wsUrl('/ws?channel=orders'));
  const php = new PhpWorker(relay.socket);
  const pub = await new Publisher(relay.socket).connect();

  const before = await pubOk(pub, 'all', 'orders', 'before');
  for (const [fn, args] of [
    ['herald_publish', ['orders', { order: 7, total: 12.5, tags: ['é', null] }]],
    ['sse_emit', ['orders', 'sse only']],
    ['ws_publish', ['orders', 'ws only']],
    ['herald_publish', [['orders', 'elsewhere'], 'a string, named', 'note']],
  ]) {
    const r = await php.call(fn, args);
    assert.deepEqual([r.result, r.error], [true, null], fn);
  }
  const after = await pubOk(pub, 'all', 'orders', 'sentinel');

  const evs = await eventsUntil(s, 'sentinel');
  assert.deepEqual(
    evs.map((e) => [e.data, e.event]),
    [
      ['before', undefined],
      ['{"order":7,"total":12.5,"tags":["é",null]}', undefined],
      ['sse only', undefined],
      ['a string, named', 'note'],
      ['sentinel', undefined],
    ],
  );
  assert.deepEqual(await wsUntil(w, 'sentinel'), [
    'before',
    '{"order":7,"total":12.5,"tags":["é",null]}',
    'ws only',
    'a string, named',
    'sentinel',
  ]);
  // One id each: the five publishes took the seqs between before and after.
  assert.equal(evs[0].id, before.id);
  assert.equal(evs[4].id, after.id);
  assert.equal(seqOf(evs[1].id), seqOf(before.id) + 1, 'herald_publish took one id');
  assert.equal(seqOf(evs[3].id), seqOf(before.id) + 4);
  assert.equal(seqOf(after.id), seqOf(before.id) + 5);
  assert.ok(w.received.every((m) => !m.isBinary), 'text frames');

  const m = await relay.metrics();
  assert.equal(m['herald_messages_published_total{transport="all"}'], 4);
  assert.equal(m['herald_messages_published_total{transport="sse"}'], 1);
  assert.equal(m['herald_messages_published_total{transport="ws"}'], 1);
  assert.equal(m['herald_messages_delivered_total{transport="sse"}'], 5);
  assert.equal(m['herald_messages_delivered_total{transport="ws"}'], 5);
  s.destroy();
  w.ws.close();
  await w.closed;
  await pub.close();
  assert.equal((await php.stop()).code, 0);
  await relay.stopClean();
});

test('a json: true frame whose data is not JSON is rejected alone, with its reason (nack, counter); other publishers and later frames go on', async () => {
  const relay = await new Relay().start();
  const s = await rawSse(relay.port, '/sse?channel=j', {});
  const w = await wsClient(relay.wsUrl('/ws?channel=j'));
  const bad = await new Publisher(relay.socket).connect();
  const good = await new Publisher(relay.socket).connect();
  const php = new PhpWorker(relay.socket);

  const cases = [
    ['all', '{"a":1,}', 'object key is not a string at byte 7'],
    ['sse', '{"a":', 'unexpected end at byte 5'],
    ['ws', "{'a':1}", 'object key is not a string at byte 1'],
    ['all', '', 'unexpected end at byte 0'],
    ['all', '[1] [2]', 'text after the value at byte 4'],
    ['all', '"\\x"', 'bad escape at byte 2'],
  ];
  for (const [t, data, why] of cases) {
    const r = await bad.pubAck(t, 'j', data, { json: true });
    assert.equal(r.ok, false, data);
    assert.equal(r.error, `pub: data is not valid JSON (${why})`);
  }
  // Bytes marked JSON, and a json that is not a boolean.
  let r = await bad.pubAck('ws', 'j', Buffer.from('[]'), { json: true });
  assert.deepEqual([r.ok, r.error], [false, 'pub: json data must be a str, not bin']);
  r = await bad.pubAck('all', 'j', '1', { json: 1 });
  assert.deepEqual([r.ok, r.error], [false, 'pub: json must be a boolean']);
  // Without ack it is dropped just the same: the sentinels are what come next.
  await bad.pub('all', 'j', '{oops}', { json: true });
  await pubOk(bad, 'all', 'j', '{"valid":[true,false,null,-1.5e3]}', { json: true });
  await pubOk(bad, 'all', 'j', 'not JSON, and not marked');
  assert.equal((await php.call('herald_publish', ['j', { from: 'php' }])).result, true);
  await pubOk(good, 'all', 'j', 'sentinel');

  const want = ['{"valid":[true,false,null,-1.5e3]}', 'not JSON, and not marked', '{"from":"php"}', 'sentinel'];
  assert.deepEqual((await eventsUntil(s, 'sentinel')).map((e) => e.data), want);
  assert.deepEqual(await wsUntil(w, 'sentinel'), want);
  const m = await relay.metrics();
  assert.equal(m['herald_ingest_rejects_total{reason="invalid"}'], cases.length + 3);
  assert.equal(m['herald_ingest_rejects_total{reason="malformed"}'], 0);
  assert.equal(m['herald_ingest_connections'], 3, 'no publisher was closed');
  assert.match(relay.log(), /frame rejected: pub: data is not valid JSON \(object key is not a string at byte 7\)/);
  s.destroy();
  w.ws.close();
  await w.closed;
  await bad.close();
  await good.close();
  assert.equal((await php.stop()).code, 0);
  await relay.stopClean();
});

test('history keeps every message; an SSE resume replays sse_emit and herald_publish messages, never a ws_publish one', async () => {
  const relay = await new Relay().start();
  const pub = await new Publisher(relay.socket).connect();
  const php = new PhpWorker(relay.socket);
  const seen = await pubOk(pub, 'sse', 'h', 'seen before the drop');
  for (const [fn, args] of [
    ['ws_publish', ['h', 'ws one']],
    ['herald_publish', ['h', ['all', 1]]],
    ['ws_publish', ['h', { ws: 'two' }]],
    ['sse_emit', ['h', 'sse one']],
    ['herald_publish', ['h', 'all two']],
  ]) {
    assert.equal((await php.call(fn, args)).result, true, fn);
  }
  // The PHP calls returned without an ack: an acked publish started after them
  // is released after them (PROTOCOL 1.5), so once it is answered the relay
  // holds all five (reading the metrics at once raced the ring's reader).
  await pubOk(pub, 'sse', 'barrier', 'after the PHP calls');
  const m = await relay.metrics();
  assert.equal(m.herald_history_messages, 7, 'ws_publish messages are kept too (6 on h, 1 on barrier)');

  const c = await rawSse(relay.port, '/sse?channel=h', { 'Last-Event-ID': seen.id });
  await pubOk(pub, 'all', 'h', 'sentinel');
  const evs = await eventsUntil(c, 'sentinel');
  assert.ok(!c.blocks().some((b) => b.event === 'herald.gap'), 'an exact resume');
  assert.deepEqual(
    evs.map((e) => e.data),
    ['["all",1]', 'sse one', 'all two', 'sentinel'],
  );
  assert.deepEqual(
    evs.map((e) => seqOf(e.id) - seqOf(seen.id)),
    [2, 4, 5, 7],
    'the ids they were published with',
  );
  assert.equal((await relay.metrics())['herald_resumes_total{result="exact"}'], 1);
  c.destroy();
  await pub.close();
  assert.equal((await php.stop()).code, 0);
  await relay.stopClean();
});

// The events of a state file (core/state.h, format 3), as
// {seq, target, binary, json, data}.
function stateEvents(buf) {
  let o = 0;
  const u = (n) => {
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(buf[o + i]);
    o += n;
    return Number(v);
  };
  const str = (n) => {
    const len = u(n);
    const s = buf.subarray(o, o + len);
    o += len;
    return s;
  };
  assert.equal(buf.subarray(0, 8).toString(), 'HRLDSTAT');
  o = 8;
  assert.equal(u(4), 3, 'format 3');
  str(1); // writer
  str(2); // identity
  u(8); // written
  str(1); // epoch
  u(8); // seq
  o += 16 + 8 * 256; // slot key, freed watermarks
  const n = u(4);
  const out = [];
  for (let i = 0; i < n; i++) {
    const seq = u(8);
    u(8); // time
    const target = u(1);
    const binary = u(1);
    const json = u(1);
    u(4); // retry
    str(1); // event name
    const data = str(4).toString();
    const nch = u(2);
    for (let k = 0; k < nch; k++) str(1);
    str(2); // Mercure metadata (format 3)
    out.push({ seq, target, binary, json, data });
  }
  return out;
}

test('a clean restart keeps each message\'s target and json flag (state file format 2): resumes after it replay what they did before', async () => {
  const socket = path.join(tmpdir('herald-hp-restart-'), 'relay.sock');
  const stateFile = `${socket}.state`;
  const flags = { drain_ms: 0 };
  const first = await new Relay({ socket, flags }).start();
  let pub = await new Publisher(socket).connect();
  const php = new PhpWorker(socket);
  const seen = await pubOk(pub, 'sse', 'r', 'seen');
  assert.equal((await php.call('herald_publish', ['r', { n: 1 }])).result, true);
  assert.equal((await php.call('ws_publish', ['r', [2]])).result, true);
  assert.equal((await php.call('herald_publish', ['r', '{"a string":"that looks like JSON"}'])).result, true);
  assert.equal((await php.call('sse_emit', ['r', 3])).result, true);
  assert.equal((await php.stop()).code, 0);
  await pub.close();
  await first.stopClean();

  const want = [
    { target: 1, json: 0, data: 'seen' },
    { target: 3, json: 1, data: '{"n":1}' },
    { target: 2, json: 1, data: '[2]' },
    { target: 3, json: 0, data: '{"a string":"that looks like JSON"}' },
    { target: 1, json: 1, data: '3' },
  ];
  const strip = (evs) => evs.map(({ target, json, data }) => ({ target, json, data }));
  assert.deepEqual(strip(stateEvents(fs.readFileSync(stateFile))), want);

  // The next run takes them back: an SSE resume gets what SSE took, ...
  const second = await new Relay({ socket, flags }).start();
  const c = await rawSse(second.port, '/sse?channel=r', { 'Last-Event-ID': seen.id });
  pub = await new Publisher(socket).connect();
  await pubOk(pub, 'sse', 'r', 'sentinel');
  assert.deepEqual(
    (await eventsUntil(c, 'sentinel')).map((e) => e.data),
    ['{"n":1}', '{"a string":"that looks like JSON"}', '3', 'sentinel'],
  );
  assert.ok(!c.blocks().some((b) => b.event === 'herald.gap'));
  c.destroy();
  await pub.close();
  // ... and writes them again as they were (the flags went through its memory).
  await second.stopClean();
  assert.deepEqual(strip(stateEvents(fs.readFileSync(stateFile))), [
    ...want,
    { target: 1, json: 0, data: 'sentinel' },
  ]);
  fs.rmSync(path.dirname(socket), { recursive: true, force: true });
});

// The bodies (msgpack, cluster/redis_fmt.h) of a Redis Stream, read by a
// script that returns them as hex: the test's RESP client reads text.
async function streamBodies(redis, key) {
  const script =
    "local out = {} for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do " +
    "local f = e[2] for j = 1, #f, 2 do if f[j] == 'm' then " +
    "out[#out + 1] = (string.gsub(f[j + 1], '.', function(c) return string.format('%02x', string.byte(c)) end)) " +
    'end end end return out';
  const hex = await redis.cmd('EVAL', script, 1, key);
  return hex.map((h) => decode(Buffer.from(h, 'hex')));
}

test('cluster mode carries t "all" and json through Redis: subscribers on another relay get herald_publish, Streams hold every message, an SSE resume there skips ws_publish', async () => {
  const redis = await new Redis().start();
  const relays = [];
  for (let i = 0; i < 2; i++) relays.push(await new Relay({ flags: { redis: redis.url } }).start());
  await waitFor(async () => {
    for (const r of relays) if ((await r.metrics()).herald_redis_up !== 1) return false;
    return true;
  }, 'every relay linked to Redis');
  const s = await rawSse(relays[1].port, '/sse?channel=c', {});
  const w = await wsClient(relays[1].wsUrl('/ws?channel=c'));
  await redis.subscribers('c', 1, relays);
  const pub = await new Publisher(relays[0].socket).connect();
  const php = new PhpWorker(relays[0].socket);

  const first = await pubOk(pub, 'sse', 'c', 'first');
  assert.equal((await php.call('herald_publish', ['c', { n: 1 }])).result, true);
  assert.equal((await php.call('ws_publish', ['c', 'ws only'])).result, true);
  assert.equal((await php.call('herald_publish', ['c', 'plain'])).result, true);
  assert.equal((await php.call('sse_emit', ['c', 'sse only'])).result, true);
  const last = await pubOk(pub, 'all', 'c', 'sentinel');

  const evs = await eventsUntil(s, 'sentinel');
  assert.deepEqual(
    evs.map((e) => e.data),
    ['first', '{"n":1}', 'plain', 'sse only', 'sentinel'],
  );
  assert.deepEqual(await wsUntil(w, 'sentinel'), ['{"n":1}', 'ws only', 'plain', 'sentinel']);
  assert.equal(seqOf(evs[1].id), seqOf(first.id) + 1);
  assert.equal(evs[4].id, last.id);

  // Every message is in the channel's Stream; target and json travel in
  // the body ([t, binary, retry, event, data, channels, json?]).
  const bodies = await streamBodies(redis, `herald:h:${epochOf(first.id)}:c`);
  assert.deepEqual(
    bodies.map((b) => [b[0], Buffer.from(b[4]).toString(), b.length === 7 ? b[6] : '-']),
    [
      [0, 'first', '-'],
      [2, '{"n":1}', true],
      [1, 'ws only', '-'],
      [2, 'plain', '-'],
      [0, 'sse only', '-'],
      [2, 'sentinel', '-'],
    ],
  );
  const m0 = await relays[0].metrics();
  assert.equal(m0['herald_messages_published_total{transport="all"}'], 3);

  // A resume on the other relay reads the Stream: what SSE takes, in order.
  const c = await rawSse(relays[1].port, '/sse?channel=c', { 'Last-Event-ID': first.id });
  const end = await pubOk(pub, 'sse', 'c', 'end');
  const rev = await eventsUntil(c, 'end');
  assert.ok(!c.blocks().some((b) => b.event === 'herald.gap'), 'exact');
  assert.deepEqual(
    rev.map((e) => e.data),
    ['{"n":1}', 'plain', 'sse only', 'sentinel', 'end'],
  );
  assert.equal(rev[4].id, end.id);
  c.destroy();
  s.destroy();
  w.ws.close();
  await w.closed;
  await pub.close();
  assert.equal((await php.stop()).code, 0);
  for (const r of relays) await r.stopClean();
  await redis.kill();
});
