// Workers (issue 18): one relay, two event loops on two threads sharing the
// port. The kernel spreads clients over the loops (SO_REUSEPORT), so each
// test opens clients until both loops hold some (herald_loop_connections,
// per loop), and then checks what must not depend on the loop a client
// landed on: every client gets every message in one order with the same
// ids; history and resume are the same on every loop; presence counts users
// over both loops; the limits hold for the relay, not per loop; /metrics
// adds the loops up; a stuck client on one loop delays no one; SIGTERM
// drains every loop and the state file has what every loop published.
// These run with workers = 2 whatever HERALD_WORKERS says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { once } from 'node:events';
import path from 'node:path';
import { Relay, Publisher, RawClient, rawSse, pubOk, waitFor, httpGet, tmpdir } from './lib/harness.mjs';
import { heraldClient } from './lib/herald.mjs';
import { SECRET, sign, now } from './lib/token.mjs';

const W = { workers: 2, presence_prefixes: 'presence-' };

const perLoop = (m) => [m['herald_loop_connections{loop="0"}'] ?? 0, m['herald_loop_connections{loop="1"}'] ?? 0];

// Open clients with open() until each loop holds at least min of them.
async function spread(relay, open, min = 2, max = 64) {
  const out = [];
  for (let i = 0; i < max; i++) {
    out.push(await open(i));
    const [a, b] = perLoop(await relay.metrics());
    if (a >= min && b >= min) return out;
  }
  throw new Error(`the kernel put ${max} clients on one loop`);
}

test('workers = 2: both loops serve the port; every client gets every message in one order; resume is exact on every loop', async () => {
  const relay = await new Relay({ flags: { ...W, history_size: 1000 } }).start();
  assert.match(relay.log(), /2 workers: one event loop per thread/);
  const subs = await spread(relay, () => rawSse(relay.port, '/sse?channel=news'), 3);
  const pub = await new Publisher(relay.socket).connect();
  const acks = [];
  for (let i = 0; i < 60; i++) acks.push(await pubOk(pub, 'sse', 'news', `m${i}`));
  // The HTTP clients of /metrics land on either loop too: the sum is the
  // same whichever answered.
  for (const s of subs) {
    const got = await s.waitEvents(60);
    assert.deepEqual(
      got.map((e) => [e.id, e.data]),
      acks.map((a, i) => [a.id, `m${i}`]),
    );
  }
  const m = await relay.metrics();
  const [a, b] = perLoop(m);
  assert.equal(a + b, subs.length);
  assert.equal(m['herald_connections{transport="sse"}'], subs.length);
  assert.equal(m['herald_messages_delivered_total{transport="sse"}'], 60 * subs.length);
  assert.equal(m['herald_messages_published_total{transport="sse"}'], 60);
  // Every loop keeps the same history: resumes from m9, wherever they land.
  const resumed = await spread(
    relay,
    () => rawSse(relay.port, '/sse?channel=news', { 'Last-Event-ID': acks[9].id }),
    subs.length / 2 + 2,
  );
  for (const r of resumed) {
    const got = await r.waitEvents(50);
    assert.deepEqual(
      got.map((e) => e.id),
      acks.slice(10).map((x) => x.id),
    );
    assert.ok(!r.blocks().some((x) => x.event === 'herald.gap'));
  }
  const after = await relay.metrics();
  assert.equal(after['herald_resumes_total{result="exact"}'], resumed.length);
  assert.equal(after['herald_resumes_total{result="gap"}'], 0);
  // History is each loop's copy of the same events: reported once.
  assert.equal(after.herald_history_messages, 60);
  for (const c of [...subs, ...resumed]) c.destroy();
  await pub.close();
  await relay.stopClean();
});

test('workers = 2: HTTP publishes on either loop and socket publishes share one id space and one order', async () => {
  const relay = await new Relay({ flags: { ...W, publish_api: 1, secret: SECRET } }).start();
  const subs = await spread(relay, () => rawSse(relay.port, '/sse?channel=mix'), 2);
  const pub = await new Publisher(relay.socket).connect();
  const auth = { Authorization: `Bearer ${sign({ alg: 'HS256', typ: 'JWT' }, { publish: ['*'], exp: now() + 3600 })}` };
  // Several HTTP clients: the kernel puts them on both loops.
  const clients = [];
  for (let i = 0; i < 6; i++) clients.push(await RawClient.connect(relay.port));
  const ids = [];
  for (let round = 0; round < 5; round++) {
    ids.push((await pubOk(pub, 'sse', 'mix', `s${round}`)).id);
    for (const [k, c] of clients.entries()) {
      const body = JSON.stringify({ channel: 'mix', data: `h${round}.${k}` });
      const before = c.text().length;
      await c.write(
        `POST /publish HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth.Authorization}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      await c.until(() => /\r\n\r\n\{[^\n]*"ids":\[[^\]]+\]\}/.test(c.text().slice(before)), `answer ${round}.${k}`);
      ids.push(JSON.parse(c.text().slice(before).split('\r\n\r\n')[1]).ids[0]);
    }
  }
  // Ids are one sequence, in the order the publishes returned.
  const seqs = ids.map((id) => Number(id.split('-')[1]));
  assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y));
  assert.equal(new Set(ids.map((id) => id.split('-')[0])).size, 1, 'one epoch');
  for (const s of subs) {
    const got = await s.waitEvents(ids.length);
    assert.deepEqual(
      got.map((e) => e.id),
      ids,
    );
  }
  for (const c of [...subs, ...clients]) c.destroy();
  await pub.close();
  await relay.stopClean();
});

const userToken = (sub) => sign({ alg: 'HS256', typ: 'JWT' }, { sub, channels: ['presence-*'], exp: now() + 3600 });

test('workers = 2: presence counts users over both loops: one join, members of every loop, one leave', async () => {
  const CH = 'presence-room';
  const relay = await new Relay({ flags: { ...W, secret: SECRET, presence_leave_ms: 200 } }).start();
  const viewer = await heraldClient(relay.wsUrl('/ws'));
  viewer.send({ type: 'subscribe', channel: CH, token: userToken('viewer') });
  await viewer.until((m) => m.type === 'subscribed', 'viewer subscribed');
  // ann's tabs until both loops hold some (the viewer is one of them).
  const tabs = await spread(
    relay,
    async () => {
      const c = await heraldClient(relay.wsUrl('/ws'));
      c.send({ type: 'subscribe', channel: CH, token: userToken('ann') });
      await c.until((m) => m.type === 'subscribed', 'ann subscribed');
      return c;
    },
    2,
  );
  viewer.send({ type: 'presence', channel: CH, ref: 1 });
  const got = await viewer.until((m) => m.type === 'presence' && m.ref === 1, 'members');
  assert.deepEqual(
    got.at(-1).json.members.map((x) => x.user),
    ['ann', 'viewer'],
  );
  // Every tab of ann closes; then bob joins as a sentinel: ann's one
  // leave came before it, and nothing else about ann.
  for (const t of tabs) t.close();
  await viewer.until((m) => m.type === 'leave' && m.user === 'ann', 'ann leaves');
  const bob = await heraldClient(relay.wsUrl('/ws'));
  bob.send({ type: 'subscribe', channel: CH, token: userToken('bob') });
  await viewer.until((m) => m.type === 'join' && m.user === 'bob', 'bob joins');
  const annEvents = viewer.msgs.filter((m) => (m.json.type === 'join' || m.json.type === 'leave') && m.json.user === 'ann');
  assert.deepEqual(
    annEvents.map((m) => m.json.type),
    ['join', 'leave'],
  );
  bob.close();
  viewer.close();
  await relay.stopClean();
});

// /metrics from another loopback address: not counted against 127.0.0.1's
// per-address limit.
async function metricsFrom2(port) {
  const sock = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
  await once(sock, 'connect');
  let text = '';
  sock.on('data', (d) => (text += d));
  sock.end('GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  await once(sock, 'close');
  const out = {};
  assert.match(text, /^HTTP\/1\.1 200 /, `metrics: ${JSON.stringify(text)}`);
  for (const line of text.split('\r\n\r\n')[1].split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return out;
}

test('workers = 2: max_connections_per_ip holds for the relay, not per loop', async () => {
  const LIMIT = 8;
  const relay = await new Relay({ flags: { ...W, max_connections_per_ip: LIMIT } }).start();
  // Streams from 127.0.0.1 up to the limit; the kernel spreads them (with
  // 8, both loops hold some but once in 128 runs, which proves less but
  // fails nothing).
  const ok = [];
  for (let i = 0; i < LIMIT; i++) ok.push(await rawSse(relay.port, '/sse?channel=a'));
  const m = await metricsFrom2(relay.port);
  assert.equal(perLoop(m)[0] + perLoop(m)[1], LIMIT);
  // One more from that address is refused, whichever loop takes it.
  for (let i = 0; i < 6; i++) {
    const c = await RawClient.connect(relay.port);
    await c.write('GET /sse?channel=a HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.until(() => c.text().includes('\r\n'), 'a status line');
    assert.match(c.text(), /^HTTP\/1\.1 429 /);
    c.destroy();
  }
  assert.equal((await metricsFrom2(relay.port))['herald_limit_hits_total{limit="connections_per_ip"}'], 6);
  for (const c of ok) c.destroy();
  await relay.stopClean();
});

test('workers = 2: a client that stops reading on one loop delays no client of either loop', async () => {
  const relay = await new Relay({ flags: { ...W, max_queued_bytes: 65536 } }).start();
  const stuck = await rawSse(relay.port, '/sse?channel=fire');
  stuck.sock.pause();
  // Others until each loop holds two besides: the stuck one shares a loop
  // with some of them, and the other loop has its own.
  const others = await spread(relay, () => rawSse(relay.port, '/sse?channel=fire'), 3);
  const pub = await new Publisher(relay.socket).connect();
  const big = 'x'.repeat(8000);
  const n = 200; // 1.6 MB: far more than the stuck client's socket buffers
  for (let i = 0; i < n; i++) await pubOk(pub, 'sse', 'fire', `${i} ${big}`);
  await pubOk(pub, 'sse', 'fire', 'sentinel');
  for (const o of others) {
    const got = await o.waitEvents(n + 1);
    assert.equal(got.at(-1).data, 'sentinel');
    assert.ok(got.every((e, i) => i === n || e.data.startsWith(`${i} `)));
  }
  // The stuck one got no more than a prefix (its socket buffers' worth).
  stuck.sock.resume();
  stuck.destroy();
  for (const o of others) o.destroy();
  await pub.close();
  await relay.stopClean();
});

test('workers = 2: SIGTERM drains every loop, and the state file has what each loop published', async () => {
  const dir = tmpdir();
  const socket = path.join(dir, 'relay.sock');
  const flags = { ...W, drain_ms: 300, publish_api: 1, secret: SECRET };
  const first = await new Relay({ socket, flags }).start();
  const streams = await spread(first, () => rawSse(first.port, '/sse?channel=d'), 2);
  const pub = await new Publisher(socket).connect();
  const a = await pubOk(pub, 'sse', 'd', 'before');
  const token = sign({ alg: 'HS256', typ: 'JWT' }, { publish: ['*'], exp: now() + 3600 });
  const ids = [a.id];
  for (let i = 0; i < 4; i++) {
    const c = await RawClient.connect(first.port);
    const body = JSON.stringify({ channel: 'd', data: `http ${i}` });
    await c.write(
      `POST /publish HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer ${token}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    await c.closed;
    ids.push(JSON.parse(c.text().split('\r\n\r\n')[1]).ids[0]);
  }
  await pub.close();
  const stopped = first.stop();
  // Every stream, on both loops, is closed by the drain after it got
  // everything: a retry hint, then the end.
  for (const s of streams) {
    await s.closed;
    assert.deepEqual(
      s.events().map((e) => e.id),
      ids,
    );
  }
  assert.equal((await stopped).code, 0);
  assert.equal((first.log().match(/shutdown: SIGTERM; draining/g) || []).length, 2, 'each loop drains');
  assert.match(first.log(), /state: saved .*: epoch [0-9a-f]+, seq 5, 5 message\(s\)/);
  first.cleanup();
  // The next start (two loops again) resumes exactly on either loop.
  const second = await new Relay({ socket, flags }).start();
  const back = await spread(second, () => rawSse(second.port, '/sse?channel=d', { 'Last-Event-ID': ids[0] }), 1);
  for (const r of back) {
    const got = await r.waitEvents(4);
    assert.deepEqual(
      got.map((e) => e.id),
      ids.slice(1),
    );
    r.destroy();
  }
  await second.stopClean();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('GET /metrics with workers = 2 answers every scrape, with every loop added up', async () => {
  const relay = await new Relay({ flags: W }).start();
  const streams = await spread(relay, () => rawSse(relay.port, '/sse?channel=q'), 1);
  for (let i = 0; i < 20; i++) {
    const { status, body } = await httpGet(relay.port, '/metrics');
    assert.equal(status, 200);
    assert.match(body, /^herald_connections\{transport="sse"\} (\d+)$/m);
    assert.equal(Number(body.match(/^herald_connections\{transport="sse"\} (\d+)$/m)[1]), streams.length);
    // One HELP and TYPE per family, as Prometheus requires.
    assert.equal((body.match(/^# TYPE herald_connections /gm) || []).length, 1);
    assert.equal((body.match(/^herald_info\{/gm) || []).length, 1);
    assert.match(body, /^herald_info\{version="[^"]+"\} 1$/m);
  }
  for (const s of streams) s.destroy();
  await waitFor(async () => (await relay.metrics())['herald_connections{transport="sse"}'] === 0, 'streams gone');
  await relay.stopClean();
});
