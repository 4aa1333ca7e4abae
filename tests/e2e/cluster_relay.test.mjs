// Cluster mode (--redis): three relays on loopback joined through a real
// redis-server. Cross-relay delivery (SSE and WebSocket), global ids and
// exact resume on another relay (also multi-channel, and the gap event),
// ordering under concurrent publishers on every relay, no duplicates, a
// relay killed and restarted, Redis killed and restarted (the edges, such
// as failover and blips, are in cluster_edges.test.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Relay, Publisher, rawSse, sse, wsClient, pubOk, waitFor } from './lib/harness.mjs';
import { cluster } from './lib/cluster.mjs';
import { Redis } from './lib/redis.mjs';
import path from 'node:path';
import { tmpdir } from './lib/harness.mjs';

const seqOf = (id) => Number(id.split('-')[1]);
const epochOf = (id) => id.split('-')[0];
const sseUrl = (chs) => '/sse?' + chs.map((c) => `channel=${encodeURIComponent(c)}`).join('&');

test('a message published on one relay reaches SSE and WebSocket subscribers on the others, once', async () => {
  const { redis, relays, pubs, stop } = await cluster(3);
  const s2 = await rawSse(relays[1].port, sseUrl(['A', 'B']));
  const w3 = await wsClient(relays[2].wsUrl('/ws?channel=A&channel=B'));
  await redis.subscribers('A', 2);
  await redis.subscribers('B', 2);
  const a1 = await pubOk(pubs[0], 'sse', 'A', 'one');
  const a2 = await pubOk(pubs[0], 'sse', ['A', 'B'], 'both');
  const a3 = await pubOk(pubs[2], 'sse', 'B', 'three', { event: 'upd', retry: 1234 });
  await pubOk(pubs[0], 'ws', ['A', 'B'], 'ws-both');
  await pubOk(pubs[1], 'ws', 'A', Buffer.from([0, 1, 255]));
  // Ids are global: one epoch, increasing in publish order across relays.
  assert.equal(new Set([a1, a2, a3].map((a) => epochOf(a.id))).size, 1);
  assert.ok(seqOf(a1.id) < seqOf(a2.id) && seqOf(a2.id) < seqOf(a3.id));
  const evs = await s2.waitEvents(3);
  assert.deepEqual(
    evs.map((e) => [e.id, e.data]),
    [
      [a1.id, 'one'],
      [a2.id, 'both'],
      [a3.id, 'three'],
    ],
  );
  assert.equal(evs[2].event, 'upd');
  assert.equal(evs[2].retry, '1234');
  const msgs = await w3.waitCount(2);
  assert.deepEqual(msgs[0], { data: 'ws-both', isBinary: false });
  assert.equal(msgs[1].isBinary, true);
  assert.deepEqual([...msgs[1].data], [0, 1, 255]);
  // Nothing more arrives: a marker published last is the next thing each sees.
  const m = await pubOk(pubs[1], 'sse', 'A', 'marker');
  await pubOk(pubs[1], 'ws', 'A', 'marker');
  assert.equal((await s2.waitEvents(4))[3].id, m.id);
  assert.equal((await w3.waitCount(3))[2].data, 'marker');
  assert.equal(s2.events().length, 4);
  assert.equal(w3.received.length, 3);
  const met = await relays[1].metrics();
  assert.equal(met.herald_redis_up, 1);
  assert.equal(met.herald_redis_messages_out_total, 3); // its own: binary ws, the two markers
  assert.ok(met.herald_redis_messages_in_total >= 5);
  assert.equal(met.herald_redis_unpublished_total, 0);
  s2.destroy();
  w3.ws.close();
  await w3.closed;
  // A relay keeps Redis subscriptions only for channels its clients use:
  // relay 1 never had any, and relays 2 and 3 drop theirs (after 5 s idle).
  assert.equal((await relays[0].metrics()).herald_redis_channels, 0);
  await redis.subscribers('A', 0);
  await redis.subscribers('B', 0);
  assert.equal((await relays[1].metrics()).herald_redis_channels, 0);
  // And subscribes again when a client comes back.
  const again = await rawSse(relays[1].port, sseUrl(['A']));
  await redis.subscribers('A', 1);
  const back = await pubOk(pubs[2], 'sse', 'A', 'back');
  assert.deepEqual(
    (await again.waitEvents(1)).map((e) => [e.id, e.data]),
    [[back.id, 'back']],
  );
  again.destroy();
  await stop();
});

test('resume on another relay: exact across channels, in id order, then live; gap when history is gone', async () => {
  const { redis, relays, pubs, stop } = await cluster(3, { flags: { history_size: 4 } });
  const acks = [];
  const plan = [
    ['A', 'a1'],
    ['B', 'b1'],
    [['A', 'B'], 'ab'],
    ['A', 'a2'],
    ['C', 'c1'],
    ['B', 'b2'],
    ['A', 'a3'],
  ];
  for (const [i, [ch, d]] of plan.entries())
    acks.push({ ...(await pubOk(pubs[i % 3], 'sse', ch, d)), d });
  // Resume after the first message, on relay 3, for A and B: everything of
  // A and B after it, merged by id, the two-channel message once.
  const before = await relays[2].metrics();
  const c = await rawSse(relays[2].port, sseUrl(['A', 'B']), { 'Last-Event-ID': acks[0].id });
  const want = ['b1', 'ab', 'a2', 'b2', 'a3'];
  const evs = await c.waitEvents(want.length);
  assert.deepEqual(
    evs.map((e) => e.data),
    want,
  );
  assert.deepEqual(
    evs.map((e) => e.id),
    acks.filter((a) => want.includes(a.d)).map((a) => a.id),
  );
  assert.ok(!c.blocks().some((b) => b.event === 'herald.gap'));
  // Live after the replay, with no duplicate and no hole.
  await redis.subscribers('A', 1);
  const live = await pubOk(pubs[0], 'sse', 'A', 'live');
  const all = await c.waitEvents(want.length + 1);
  assert.equal(all.at(-1).id, live.id);
  const after = await relays[2].metrics();
  assert.equal(
    after['herald_resumes_total{result="exact"}'],
    before['herald_resumes_total{result="exact"}'] + 1,
  );
  c.destroy();
  // history_size 4: A's Stream keeps a3 live more0 more1, so a resume from
  // before a1 says gap on A only, then replays what is left of A and C.
  for (let i = 0; i < 2; i++) await pubOk(pubs[1], 'sse', 'A', `more${i}`);
  const g = await rawSse(relays[1].port, sseUrl(['A', 'C']), {
    'Last-Event-ID': acks[0].id.replace(/-\d+$/, '-0'),
  });
  const gblocks = await g.until(() => g.events().length >= 6 && g.events(), 'gap then replay');
  assert.equal(gblocks[0].event, 'herald.gap');
  assert.deepEqual(JSON.parse(gblocks[0].data).channels, ['A']);
  assert.deepEqual(
    gblocks.slice(1).map((e) => e.data),
    ['c1', 'a3', 'live', 'more0', 'more1'],
  );
  g.destroy();
  // A foreign id (another epoch) is a gap on every channel.
  const f = await rawSse(relays[0].port, sseUrl(['A']), { 'Last-Event-ID': '1-5' });
  const fb = await f.until(() => f.events().length >= 1 && f.events(), 'gap');
  assert.equal(fb[0].event, 'herald.gap');
  f.destroy();
  await stop();
});

test('resume on another relay while messages keep coming: each message once, in order, none lost', async () => {
  const { relays, pubs, stop } = await cluster(3);
  const acks = [];
  let started;
  const ready = new Promise((r) => (started = r));
  // Publishing goes on (acked one by one) while the resume reads Redis and
  // live messages arrive on pub/sub: the replay and the held live messages
  // must join with no duplicate and no hole.
  const publishing = (async () => {
    for (let i = 0; i < 300; i++) {
      acks.push((await pubOk(pubs[i % 2], 'sse', i % 3 ? 'P' : 'Q', `p${i}`)).id);
      if (i === 20) started();
    }
  })();
  await ready;
  const from = acks[10];
  const c = await rawSse(relays[2].port, sseUrl(['P', 'Q']), { 'Last-Event-ID': from });
  await publishing;
  const want = acks.slice(11);
  const evs = await c.waitEvents(want.length);
  assert.deepEqual(
    evs.map((e) => e.id),
    want,
  );
  const m = await pubOk(pubs[2], 'sse', 'P', 'marker');
  assert.equal((await c.waitEvents(want.length + 1)).at(-1).id, m.id);
  assert.equal(c.events().length, want.length + 1);
  assert.ok(!c.blocks().some((b) => b.event === 'herald.gap'));
  c.destroy();
  await stop();
});

test('concurrent publishers on three relays: every subscriber sees one order, each publisher in its order, no duplicate', async () => {
  const { redis, relays, pubs, stop } = await cluster(3);
  const subs = [];
  for (const r of relays) subs.push(await rawSse(r.port, sseUrl(['O'])));
  const ws = await wsClient(relays[1].wsUrl('/ws?channel=O'));
  await redis.subscribers('O', 3);
  const N = 150;
  await Promise.all(
    pubs.map(async (p, k) => {
      for (let i = 0; i < N; i++) {
        await p.pub('sse', 'O', `${k}:${i}`);
        await p.pub('ws', 'O', `${k}:${i}`);
      }
      await pubOk(p, 'sse', 'O', `${k}:end`);
    }),
  );
  const total = 3 * (N + 1);
  const seen = [];
  for (const s of subs) seen.push(await s.waitEvents(total));
  const order = seen[0].map((e) => e.id);
  for (const evs of seen) {
    assert.equal(evs.length, total);
    assert.deepEqual(
      evs.map((e) => e.id),
      order,
    );
    const seqs = evs.map((e) => seqOf(e.id));
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1], 'ids increase');
    for (let k = 0; k < 3; k++) {
      const mine = evs.map((e) => e.data).filter((d) => d.startsWith(`${k}:`));
      assert.deepEqual(mine, [...Array.from({ length: N }, (_, i) => `${k}:${i}`), `${k}:end`]);
    }
  }
  const wsMsgs = await ws.waitCount(3 * N);
  for (let k = 0; k < 3; k++) {
    assert.deepEqual(
      wsMsgs.map((m) => m.data).filter((d) => d.startsWith(`${k}:`)),
      Array.from({ length: N }, (_, i) => `${k}:${i}`),
    );
  }
  // Nothing extra trails behind.
  const m = await pubOk(pubs[0], 'sse', 'O', 'marker');
  for (const s of subs) assert.equal((await s.waitEvents(total + 1)).at(-1).id, m.id);
  for (const s of subs) assert.equal(s.events().length, total + 1);
  assert.equal(ws.received.length, 3 * N);
  subs.forEach((s) => s.destroy());
  ws.ws.close();
  await ws.closed;
  await stop();
});

test('a relay killed and restarted: its EventSource comes back and resumes from Redis exactly', async () => {
  const { redis, relays, pubs, stop } = await cluster(2, { flags: { retry_min: 50, retry_max: 100 } });
  const es = sse(relays[1].url(sseUrl(['K'])));
  await es.opened;
  await redis.subscribers('K', 1);
  const first = [];
  for (let i = 0; i < 3; i++) first.push(await pubOk(pubs[0], 'sse', 'K', `k${i}`));
  await es.waitCount(3);
  const port = relays[1].port;
  await relays[1].stop('SIGKILL');
  // Published while relay 2 is gone: only Redis has them.
  const missed = [];
  for (let i = 3; i < 6; i++) missed.push(await pubOk(pubs[0], 'sse', 'K', `k${i}`));
  const again = await new Relay({
    port,
    flags: { redis: redis.url, retry_min: 50, retry_max: 100 },
  }).start();
  const evs = await es.waitCount(6);
  assert.deepEqual(
    evs.map((e) => e.id),
    [...first, ...missed].map((a) => a.id),
  );
  await redis.subscribers('K', 1);
  const live = await pubOk(pubs[0], 'sse', 'K', 'live');
  assert.equal((await es.waitCount(7))[6].id, live.id);
  assert.equal(es.received.length, 7);
  assert.equal((await again.metrics())['herald_resumes_total{result="exact"}'], 1);
  es.close();
  relays[1] = again;
  pubs[1].sock.destroy();
  pubs.splice(1, 1);
  await stop();
});

// The same, with the client back before the restarted relay heard from
// Redis at all (Redis frozen meanwhile): the relay cannot know yet whether
// the client's id is of the cluster's epoch, and must not take it for a
// foreign one (a gap and everything again) — the read's answer decides.
test('a restarted relay that has not heard from Redis yet still resumes its EventSource exactly', async () => {
  const { redis, relays, pubs, stop } = await cluster(2, { flags: { retry_min: 50, retry_max: 100 } });
  const es = sse(relays[1].url(sseUrl(['KF'])));
  await es.opened;
  await redis.subscribers('KF', 1);
  const first = [];
  for (let i = 0; i < 3; i++) first.push(await pubOk(pubs[0], 'sse', 'KF', `k${i}`));
  await es.waitCount(3);
  const port = relays[1].port;
  await relays[1].stop('SIGKILL');
  const missed = [];
  for (let i = 3; i < 6; i++) missed.push(await pubOk(pubs[0], 'sse', 'KF', `k${i}`));
  redis.pause();
  let again;
  try {
    again = await new Relay({ port, flags: { redis: redis.url, retry_min: 50, retry_max: 100 } }).start();
    // The EventSource is back (its resume asked) while Redis still sleeps.
    await waitFor(async () => {
      const m = await again.metrics();
      return Object.entries(m).some(([k, v]) => k.startsWith('herald_connections{') && k.includes('sse') && v >= 1);
    }, 'the EventSource back on the restarted relay');
  } finally {
    redis.resume();
  }
  const evs = await es.waitCount(6);
  assert.deepEqual(
    evs.map((e) => e.id),
    [...first, ...missed].map((a) => a.id),
  );
  const live = await pubOk(pubs[0], 'sse', 'KF', 'live');
  assert.equal((await es.waitCount(7))[6].id, live.id);
  assert.equal(es.received.length, 7);
  assert.equal((await again.metrics())['herald_resumes_total{result="exact"}'], 1);
  es.close();
  relays[1] = again;
  pubs[1].sock.destroy();
  pubs.splice(1, 1);
  await stop();
});

test('Redis killed and restarted: local clients stay, publishes wait for it, then everything works again', async () => {
  const { redis, relays, pubs } = await cluster(2, { flags: { retry_min: 50, retry_max: 100 } });
  const es = sse(relays[1].url(sseUrl(['R'])), { events: ['herald.gap'] });
  await es.opened;
  const ws = await wsClient(relays[1].wsUrl('/ws?channel=R'));
  await redis.subscribers('R', 1);
  await pubOk(pubs[0], 'sse', 'R', 'before');
  await es.waitCount(1);
  const port = redis.port;
  await redis.kill();
  await waitFor(
    async () => (await relays[0].metrics())['herald_redis_link_up{link="cmd"}'] === 0,
    'relay 1 sees Redis down',
  );
  // Kept, not lost: the ack comes once Redis took the message.
  const kept = pubs[0].pubAck('sse', 'R', 'kept');
  await waitFor(
    async () => (await relays[0].metrics()).herald_redis_backlog_messages === 1,
    'the publish waits in the backlog',
  );
  assert.equal((await relays[1].metrics())['herald_connections{transport="ws"}'], 1);
  assert.equal((await relays[1].metrics())['herald_connections{transport="sse"}'], 1);
  // Redis comes back empty (no persistence): a new epoch, so the stream's
  // position is foreign and it is told (gap), then gets the new epoch's
  // messages; it was never closed.
  const redis2 = await new Redis(port).start();
  await waitFor(async () => {
    for (const r of relays) if ((await r.metrics()).herald_redis_up !== 1) return false;
    return true;
  }, 'relays linked again');
  const k = await kept;
  assert.equal(k.ok, true, JSON.stringify(k));
  await waitFor(
    () => es.received.some((e) => e.type === 'herald.gap'),
    'gap event after the epoch changed',
  );
  await redis2.subscribers('R', 1);
  const after = await pubOk(pubs[0], 'sse', 'R', 'after');
  await pubOk(pubs[0], 'ws', 'R', 'ws after');
  await waitFor(
    () => es.received.some((e) => e.id === after.id && e.data === 'after'),
    'delivery after Redis returned',
  );
  assert.deepEqual(
    es.received.filter((e) => e.type === 'message').map((e) => e.data),
    ['before', 'kept', 'after'],
  );
  assert.equal(es.received.filter((e) => e.type === 'herald.gap').length, 1);
  await waitFor(
    () => ws.received.some((m) => m.data === 'ws after'),
    'WebSocket delivery after Redis returned',
  );
  for (const r of relays) {
    const m = await r.metrics();
    assert.ok(m.herald_redis_reconnects_total >= 1);
    assert.equal(m.herald_redis_unpublished_total, 0);
  }
  es.close();
  ws.ws.close();
  await ws.closed;
  for (const p of pubs) await p.close();
  for (const r of relays) await r.stopClean();
  await redis2.kill();
});

test('without --redis the relay has no Redis metrics; a bad --redis URL is refused at start', async () => {
  const relay = await new Relay().start();
  assert.equal((await relay.metrics()).herald_redis_up, undefined);
  await relay.stopClean();
  const bad = new Relay({ flags: { redis: 'http://nope' } });
  await assert.rejects(bad.start(), /exited at start/);
  assert.match(bad.log(), /redis: 'http:\/\/nope'/);
  // The config-file equivalent of --redis.
  const redis = await new Redis().start();
  const fromFile = await new Relay({ config: `[relay]\nredis = ${redis.url}\n` }).start();
  await waitFor(
    async () => (await fromFile.metrics()).herald_redis_up === 1,
    'linked from the config file',
  );
  await fromFile.stopClean();
  await redis.kill();
});

test('Redis on a Unix socket (unix:///path): the link comes up and carries messages', async () => {
  const redis = new Redis();
  redis.unixsocket = path.join(tmpdir('herald-redis-'), 'redis.sock');
  await redis.start();
  const relay = await new Relay({ flags: { redis: `unix://${redis.unixsocket}` } }).start();
  await waitFor(async () => (await relay.metrics()).herald_redis_up === 1, 'link up');
  const pub = await new Publisher(relay.socket).connect();
  const s = await rawSse(relay.port, sseUrl(['U']));
  await redis.subscribers('U', 1);
  const a = await pubOk(pub, 'sse', 'U', 'over a unix socket');
  assert.deepEqual(
    (await s.waitEvents(1)).map((e) => [e.id, e.data]),
    [[a.id, 'over a unix socket']],
  );
  const met = await relay.metrics();
  assert.equal(met.herald_redis_up, 1);
  assert.equal(met.herald_redis_reconnects_total ?? 0, 0);
  s.destroy();
  await pub.close();
  await relay.stopClean();
  await redis.kill();
});
