// Workers with the Redis broker (issue 18): each loop of a relay keeps its
// own Redis broker and presence, with links of its own, exactly as relays
// joined through Redis do (cluster/broker_redis.c). One redis-server, relay
// A with two loops and relay B with two loops; the kernel spreads clients
// over a relay's loops (SO_REUSEPORT), so each test opens clients until
// both loops of A hold some (herald_loop_connections, per loop). Then:
// every client on every loop gets every message in one order with the same
// ids; a resume is exact on either loop; a user's tabs on both loops are
// one join and one leave; SIGTERM stops both loops cleanly and hands their
// members over. These run with workers = 2 whatever HERALD_WORKERS says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Relay, Publisher, RawClient, rawSse, pubOk, waitFor, SANITIZER_RE } from './lib/harness.mjs';
import { Redis } from './lib/redis.mjs';
import { heraldClient } from './lib/herald.mjs';
import { SECRET, sign, now } from './lib/token.mjs';

const perLoop = (m) => [m['herald_loop_connections{loop="0"}'] ?? 0, m['herald_loop_connections{loop="1"}'] ?? 0];

// Open clients with open() until each loop of relay holds at least min of
// them; each comes back with the loop it landed on.
async function spread(relay, open, min = 2, max = 64) {
  const out = [];
  let before = perLoop(await relay.metrics());
  for (let i = 0; i < max; i++) {
    const c = await open(i);
    const m = perLoop(await relay.metrics());
    c.loop = m[0] > before[0] ? 0 : 1;
    before = m;
    out.push(c);
    if (m[0] >= min && m[1] >= min) return out;
  }
  throw new Error(`the kernel put ${max} clients on one loop`);
}

// Relay A and B (two loops each) on a new redis-server, once every loop of
// both is linked (herald_redis_up takes the smallest loop's value).
async function twoRelays(flags = {}, flagsA = {}) {
  const redis = await new Redis().start();
  const base = { workers: 2, redis: redis.url, secret: SECRET, ...flags };
  const A = await new Relay({ flags: { ...base, ...flagsA } }).start();
  const B = await new Relay({ flags: base }).start();
  redis.relays = [A, B];
  await waitFor(async () => (await A.metrics()).herald_redis_up === 1 && (await B.metrics()).herald_redis_up === 1, 'both relays linked');
  assert.match(A.log(), /2 workers: one event loop per thread/);
  return { redis, A, B };
}

// An SSE stream whose response began (rawSse waits for it): with Redis, a
// fresh stream starts at a position Redis gave, and gets everything
// published after it.
async function stream(relay, headers = {}) {
  return rawSse(relay.port, '/sse?channel=news', headers);
}

const pubToken = sign({ alg: 'HS256', typ: 'JWT' }, { publish: ['*'], exp: now() + 3600 });

// An HTTP publish on a connection of its own (on whichever loop): its id.
async function httpPublish(relay, data) {
  const c = await RawClient.connect(relay.port);
  const body = JSON.stringify({ channel: 'news', data });
  await c.write(
    `POST /publish HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer ${pubToken}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  await c.closed;
  const text = c.text();
  assert.match(text, /^HTTP\/1\.1 200 /, text);
  return JSON.parse(text.split('\r\n\r\n')[1]).ids[0];
}

test('workers = 2 with Redis: every client on every loop of both relays gets every message in one order, same ids; a resume is exact on either loop', async () => {
  const { redis, A, B } = await twoRelays({ publish_api: 1, history_size: 1000 });
  const onA = await spread(A, () => stream(A), 2);
  const onB = [await stream(B), await stream(B)];
  const pubA = await new Publisher(A.socket).connect();
  const pubB = await new Publisher(B.socket).connect();
  // Socket publishes on both relays (read by each one's first loop), and
  // HTTP publishes on both relays' loops, interleaved.
  const sent = [];
  for (let i = 0; i < 10; i++) {
    sent.push({ id: (await pubOk(pubA, 'sse', 'news', `a${i}`)).id, data: `a${i}` });
    sent.push({ id: (await pubOk(pubB, 'sse', 'news', `b${i}`)).id, data: `b${i}` });
    sent.push({ id: await httpPublish(A, `ha${i}`), data: `ha${i}` });
    sent.push({ id: await httpPublish(B, `hb${i}`), data: `hb${i}` });
  }
  // One id space: one epoch, ids increasing in the order the publishes
  // returned (each returned before the next was sent).
  assert.equal(new Set(sent.map((s) => s.id.split('-')[0])).size, 1, 'one epoch');
  const seqs = sent.map((s) => Number(s.id.split('-')[1]));
  assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y));
  assert.equal(new Set(seqs).size, seqs.length);
  for (const s of [...onA, ...onB]) {
    const got = await s.waitEvents(sent.length);
    assert.deepEqual(
      got.map((e) => [e.id, e.data]),
      sent.map((x) => [x.id, x.data]),
    );
  }
  // Each loop subscribed on its own link: A's two loops and B's.
  assert.ok((await redis.cmd('PUBSUB', 'NUMSUB', 'herald:m:news'))[1] >= 3);
  const mA = await A.metrics();
  assert.equal(mA['herald_connections{transport="sse"}'], onA.length);
  assert.equal(mA.herald_redis_unpublished_total, 0);
  assert.equal(mA['herald_redis_link_up{link="sub"}'], 1);
  // Resumes from the tenth message, wherever they land: exactly the rest,
  // no gap, then live.
  const resumed = await spread(A, () => stream(A, { 'Last-Event-ID': sent[9].id }), onA.length / 2 + 1);
  for (const r of resumed) {
    const got = await r.waitEvents(sent.length - 10);
    assert.deepEqual(
      got.map((e) => e.id),
      sent.slice(10).map((x) => x.id),
    );
    assert.ok(!r.blocks().some((x) => x.event === 'herald.gap'));
  }
  assert.equal((await A.metrics()).herald_redis_resumes_total, resumed.length);
  const live = await pubOk(pubB, 'sse', 'news', 'live');
  for (const s of [...onA, ...onB, ...resumed]) {
    const got = await s.until(() => s.events().some((e) => e.id === live.id), 'the live message');
    assert.ok(got);
  }
  for (const s of [...onA, ...onB, ...resumed]) s.destroy();
  await pubA.close();
  await pubB.close();
  await A.stopClean();
  await B.stopClean();
  await redis.kill();
});

const userToken = (sub) => sign({ alg: 'HS256', typ: 'JWT' }, { sub, channels: ['presence-*'], exp: now() + 3600 });
const CH = 'presence-room';

async function tab(relay, user) {
  const c = await heraldClient(relay.wsUrl('/ws'));
  c.send({ type: 'subscribe', channel: CH, token: userToken(user) });
  await c.until((m) => m.type === 'subscribed', `${user} subscribed`);
  return c;
}

const userEvents = (viewer, user) =>
  viewer.msgs.filter((m) => m.json && (m.json.type === 'join' || m.json.type === 'leave') && m.json.user === user).map((m) => m.json.type);

// Bob joins on B: his join is published after whatever came before about
// ann (the sentinel of "nothing more").
async function sentinel(B, viewer) {
  const bob = await tab(B, 'bob');
  await viewer.until((m) => m.type === 'join' && m.user === 'bob', 'bob joins');
  return bob;
}

test('workers = 2 with Redis: a user with tabs on both loops is one join and one leave, also when one loop loses its tabs and gets one again', async () => {
  // Leaves go to Redis at once (no reload delay): a loop's last tab
  // closing is its leave step.
  const { redis, A, B } = await twoRelays({ presence_prefixes: 'presence-' }, { presence_leave_ms: 0 });
  const viewer = await tab(B, 'viewer');
  const tabs = await spread(A, () => tab(A, 'ann'), 1);
  await viewer.until((m) => m.type === 'join' && m.user === 'ann', 'ann joins');
  viewer.send({ type: 'presence', channel: CH, ref: 1 });
  const got = await viewer.until((m) => m.type === 'presence' && m.ref === 1, 'members');
  assert.deepEqual(
    got.at(-1).json.members.map((x) => x.user),
    ['ann', 'viewer'],
  );
  // Every tab on loop 0 closes: loop 0's leave step runs (ann still has a
  // tab on loop 1: no leave). Then a tab lands on loop 0 again: its step
  // goes to Redis on loop 0's link, after the leave step (no join).
  for (const t of tabs.filter((x) => x.loop === 0)) t.ws.close();
  await waitFor(async () => perLoop(await A.metrics())[0] === 0, 'loop 0 saw its tabs close');
  const again = [];
  while (!again.some((t) => t.loop === 0)) {
    const before = perLoop(await A.metrics());
    const t = await tab(A, 'ann');
    t.loop = perLoop(await A.metrics())[0] > before[0] ? 0 : 1;
    again.push(t);
  }
  // Every tab closes: one leave.
  for (const t of [...tabs.filter((x) => x.loop === 1), ...again]) t.ws.close();
  await viewer.until((m) => m.type === 'leave' && m.user === 'ann', 'ann leaves');
  const bob = await sentinel(B, viewer);
  assert.deepEqual(userEvents(viewer, 'ann'), ['join', 'leave']);
  // Loops count as relays in Redis: joins and leaves each published once.
  const m = await A.metrics();
  assert.equal(m.herald_presence_joins_total, 1);
  assert.equal(m.herald_presence_leaves_total, 1);
  assert.equal(m.herald_presence_redis_up, 1);
  bob.ws.close();
  viewer.ws.close();
  await A.stopClean();
  await B.stopClean();
  await redis.kill();
});

test('workers = 2 with Redis: SIGTERM stops both loops cleanly; their members are handed over (one leave, from the other relay)', async () => {
  const { redis, A, B } = await twoRelays({ presence_prefixes: 'presence-', presence_leave_ms: 200, drain_ms: 300 });
  const viewer = await tab(B, 'viewer');
  const tabs = await spread(A, () => tab(A, 'ann'), 1);
  const streams = await spread(A, () => stream(A), 1);
  await viewer.until((m) => m.type === 'join' && m.user === 'ann', 'ann joins');
  const pub = await new Publisher(B.socket).connect();
  const last = await pubOk(pub, 'sse', 'news', 'last');
  for (const s of streams) await s.until(() => s.events().some((e) => e.id === last.id), 'the last message');
  const stopped = A.stop();
  // Both loops drain: every stream, on either loop, ends.
  for (const s of streams) await s.closed;
  for (const t of tabs) await t.closed;
  const r = await stopped;
  assert.equal(r.code, 0, A.log());
  assert.equal((A.log().match(/shutdown: SIGTERM; draining/g) || []).length, 2, 'each loop drains');
  assert.doesNotMatch(A.log(), SANITIZER_RE);
  // Each loop handed its entries over; B's sweep publishes the one leave.
  await viewer.until((m) => m.type === 'leave' && m.user === 'ann', 'ann leaves');
  const bob = await sentinel(B, viewer);
  assert.deepEqual(userEvents(viewer, 'ann'), ['join', 'leave']);
  A.cleanup();
  bob.ws.close();
  viewer.ws.close();
  await pub.close();
  await B.stopClean();
  await redis.kill();
});
