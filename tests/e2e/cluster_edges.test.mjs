// Cluster mode at its edges (issue 12): a counter that goes backwards, a
// script that cannot finish, a flushed script cache, a fresh stream whose
// SUBSCRIBE is not confirmed yet, Redis away with publishes coming in, a
// blip on the subscriber link, ids from an earlier epoch. Real redis-server,
// real relays, real clients; nothing waits for time: "nothing arrived" is
// proven by a sentinel published after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Relay, rawSse, sse, pubOk, waitFor } from './lib/harness.mjs';
import { cluster } from './lib/cluster.mjs';
import { Redis, RedisProxy } from './lib/redis.mjs';

const seqOf = (id) => Number(id.split('-')[1]);
const epochOf = (id) => id.split('-')[0];
const sseUrl = (chs) => '/sse?' + chs.map((c) => `channel=${encodeURIComponent(c)}`).join('&');
const datas = (blocks) => blocks.filter((b) => b.data !== undefined).map((b) => b.data);

// Blocks of an event stream that carry data, from the first one on.
async function eventsUntil(c, data, what) {
  return c.until(() => c.events().some((e) => e.data === data) && c.events().slice(), what);
}

test('the counter going backwards (SET herald:seq 0, then FLUSHALL): a new epoch, every later message delivered, resumes across it get herald.gap', async () => {
  const { redis, relays, pubs, stop } = await cluster(2);
  const s = await rawSse(relays[1].port, sseUrl(['E']));
  await redis.subscribers('E', 1);
  const a1 = await pubOk(pubs[0], 'sse', 'E', 'a1');
  const a2 = await pubOk(pubs[0], 'sse', 'E', 'a2');
  await s.waitEvents(2);
  // A promoted replica or an eviction puts the counter back; here by hand.
  await redis.cmd('SET', 'herald:seq', '0');
  const b1 = await pubOk(pubs[0], 'sse', 'E', 'b1');
  const b2 = await pubOk(pubs[1], 'sse', 'E', 'b2');
  assert.notEqual(epochOf(b1.id), epochOf(a1.id), 'a new epoch');
  assert.equal(epochOf(b2.id), epochOf(b1.id));
  assert.ok(seqOf(b2.id) > seqOf(b1.id));
  // The stream that was open receives everything, in order.
  const evs = await s.waitEvents(4);
  assert.deepEqual(
    evs.map((e) => [e.id, e.data]),
    [a1, a2, b1, b2].map((a, i) => [a.id, ['a1', 'a2', 'b1', 'b2'][i]]),
  );
  // A resume from the old epoch: the gap, then everything Redis holds in
  // the new one, then live.
  const r = await rawSse(relays[0].port, sseUrl(['E']), { 'Last-Event-ID': a2.id });
  await redis.subscribers('E', 2);
  const live = await pubOk(pubs[1], 'sse', 'E', 'live');
  const rb = await r.until(() => r.blocks().some((b) => b.data === 'live') && r.blocks(), 'live');
  const named = rb.filter((b) => b.data !== undefined);
  assert.equal(named[0].event, 'herald.gap');
  assert.deepEqual(JSON.parse(named[0].data).channels, ['E']);
  assert.deepEqual(datas(named.slice(1)), ['b1', 'b2', 'live']);
  assert.equal(named.at(-1).id, live.id);
  // FLUSHALL: the epoch goes with the data; the next publish starts another.
  await redis.cmd('FLUSHALL');
  const c1 = await pubOk(pubs[1], 'sse', 'E', 'c1');
  assert.notEqual(epochOf(c1.id), epochOf(b1.id));
  assert.equal((await s.waitEvents(6))[5].data, 'c1');
  assert.equal((await r.waitEvents(5))[4].data, 'c1');
  const r2 = await rawSse(relays[1].port, sseUrl(['E']), { 'Last-Event-ID': b2.id });
  const rb2 = await r2.waitEvents(2);
  assert.equal(rb2[0].event, 'herald.gap');
  assert.equal(rb2[1].data, 'c1');
  for (const rel of relays)
    assert.ok((await rel.metrics()).herald_redis_unpublished_total === 0);
  s.destroy();
  r.destroy();
  r2.destroy();
  await stop();
});

test('a publish that cannot be written on every channel is written on none (all-or-nothing)', async () => {
  const { redis, relays, pubs, stop } = await cluster(2);
  const s = await rawSse(relays[1].port, sseUrl(['A']));
  await redis.subscribers('A', 1);
  const first = await pubOk(pubs[0], 'sse', 'A', 'first');
  await s.waitEvents(1);
  // Channel B's history key holds something that is not a Stream (the
  // layout before and after epochs in key names both covered).
  const epoch = epochOf(first.id);
  for (const k of ['herald:h:B', `herald:h:${epoch}:B`]) await redis.cmd('SET', k, 'not a stream');
  const nack = await pubs[0].pubAck('sse', ['A', 'B'], 'half');
  assert.equal(nack.ok, false);
  assert.match(nack.error, /redis/);
  // A was not written either: the next thing its subscriber sees is the
  // sentinel, and A's history does not hold the refused message.
  const sentinel = await pubOk(pubs[0], 'sse', 'A', 'sentinel');
  assert.deepEqual(datas(await s.waitEvents(2)), ['first', 'sentinel']);
  const r = await rawSse(relays[0].port, sseUrl(['A']), { 'Last-Event-ID': first.id });
  assert.deepEqual(
    (await r.waitEvents(1)).map((e) => [e.id, e.data]),
    [[sentinel.id, 'sentinel']],
  );
  assert.equal((await relays[0].metrics()).herald_redis_unpublished_total, 1);
  s.destroy();
  r.destroy();
  await stop();
});

test('a flushed script cache (SCRIPT FLUSH): publishes fall back to the script source, none lost, in order', async () => {
  const { redis, relays, pubs, stop } = await cluster(2);
  const s = await rawSse(relays[1].port, sseUrl(['S']));
  await redis.subscribers('S', 1);
  await pubOk(pubs[0], 'sse', 'S', 'before');
  await redis.cmd('SCRIPT', 'FLUSH');
  // Several in a row: the first meets NOSCRIPT with the others behind it.
  for (let i = 0; i < 20; i++) await pubs[0].pub('sse', 'S', `n${i}`);
  const last = await pubOk(pubs[0], 'sse', 'S', 'last');
  assert.ok(last.ok);
  const want = ['before', ...Array.from({ length: 20 }, (_, i) => `n${i}`), 'last'];
  assert.deepEqual(datas(await s.waitEvents(want.length)), want);
  assert.equal((await relays[0].metrics()).herald_redis_unpublished_total, 0);
  // And again, with the cache flushed a second time.
  await redis.cmd('SCRIPT', 'FLUSH');
  await pubOk(pubs[0], 'ws', 'S', 'ws after flush');
  await pubOk(pubs[1], 'sse', 'S', 'again');
  assert.equal((await s.waitEvents(want.length + 1)).at(-1).data, 'again');
  s.destroy();
  await stop();
});

test('publishes in flight when the command link is lost are sent again and run once', async () => {
  const { redis, relays, pubs, stop } = await cluster(2);
  const s = await rawSse(relays[1].port, sseUrl(['I']));
  await redis.subscribers('I', 1);
  await pubOk(pubs[0], 'sse', 'I', 'before');
  await s.waitEvents(1);
  // Redis frozen: the relay's publishes wait on the command link until it
  // gives the link up as stalled and connects again. The first link's
  // commands still run when Redis thaws (their replies are lost), and so
  // do the ones sent again on the new link: each must take effect once.
  redis.pause();
  const acks = [1, 2, 3].map((i) => pubs[0].pubAck('sse', 'I', `i${i}`));
  // Sent again on the new link (resent): with workers the metrics add the
  // loops up, and another loop's reconnect is not the publishing loop's.
  await waitFor(
    async () => {
      const m = await relays[0].metrics();
      return (
        m.herald_redis_reconnects_total >= 1 &&
        m.herald_redis_resent_total >= 3 &&
        m['herald_redis_link_up{link="cmd"}'] === 1
      );
    },
    'the command link given up as stalled and connected again',
    20000,
  );
  redis.resume();
  const done = await Promise.all(acks);
  for (const a of done) assert.equal(a.ok, true, JSON.stringify(a));
  assert.equal(new Set(done.map((a) => a.id)).size, 3);
  const sentinel = await pubOk(pubs[0], 'sse', 'I', 'sentinel');
  const evs = await eventsUntil(s, 'sentinel', 'the sentinel');
  assert.deepEqual(
    evs.map((e) => [e.id, e.data]),
    [[evs[0].id, 'before'], ...done.map((a, i) => [a.id, `i${i + 1}`]), [sentinel.id, 'sentinel']],
  );
  assert.equal(Number(await redis.cmd('XLEN', `herald:h:${epochOf(sentinel.id)}:I`)), 5);
  assert.ok((await relays[0].metrics()).herald_redis_resent_total >= 3);
  s.destroy();
  await stop();
});

test('a fresh stream gets what is published after its response began, also before Redis confirmed its SUBSCRIBE', async () => {
  const redis = await new Redis().start();
  const proxy = await new RedisProxy(redis).start();
  const { relays, pubs, stop } = await cluster(2, { redis, urls: [redis.url, proxy.url] });
  // Relay 2's SUBSCRIBE of F is kept back by the proxy.
  proxy.hold();
  const s = await rawSse(relays[1].port, sseUrl(['F']));
  await proxy.whenHeld();
  assert.equal(s.response().status, 200);
  // Published after the response began, before the subscription exists.
  const early = await pubOk(pubs[0], 'sse', 'F', 'early');
  assert.ok(seqOf(early.id) > seqOf(s.blocks()[0].id));
  proxy.release();
  await redis.subscribers('F', 1);
  const live = await pubOk(pubs[0], 'sse', 'F', 'live');
  assert.deepEqual(
    (await s.waitEvents(2)).map((e) => [e.id, e.data]),
    [
      [early.id, 'early'],
      [live.id, 'live'],
    ],
  );
  const sentinel = await pubOk(pubs[1], 'sse', 'F', 'sentinel');
  assert.equal((await s.waitEvents(3))[2].id, sentinel.id);
  assert.equal(s.events().length, 3);
  s.destroy();
  await stop();
  proxy.stop();
});

test('a fresh stream on a relay that did not follow the channel starts after what was published before it', async () => {
  const { redis, relays, pubs, stop } = await cluster(2);
  // Relay 2 has no client on G while these are published.
  await pubOk(pubs[0], 'sse', 'G', 'old1');
  await pubOk(pubs[0], 'sse', 'G', 'old2');
  const s = await rawSse(relays[1].port, sseUrl(['G']));
  const first = s.blocks()[0].id;
  await redis.subscribers('G', 1);
  const sentinel = await pubOk(pubs[0], 'sse', 'G', 'sentinel');
  assert.deepEqual(datas(await s.waitEvents(1)), ['sentinel']);
  // The position its first block gave is after them too: a browser that
  // reconnects with it does not get them either.
  const again = await rawSse(relays[0].port, sseUrl(['G']), { 'Last-Event-ID': first });
  const evs = await again.waitEvents(1);
  assert.deepEqual(
    evs.map((e) => [e.id, e.data, e.event]),
    [[sentinel.id, 'sentinel', undefined]],
  );
  s.destroy();
  again.destroy();
  await stop();
});

test('Redis away: publishes wait in a bounded backlog and are delivered in order when it returns; acks wait for Redis', async () => {
  const { redis, relays, pubs } = await cluster(2, { flags: { retry_min: 50, retry_max: 100 } });
  const es = sse(relays[1].url(sseUrl(['Q'])), { events: ['herald.gap'] });
  await es.opened;
  await redis.subscribers('Q', 1);
  await pubOk(pubs[0], 'sse', 'Q', 'before');
  await es.waitCount(1);
  const port = redis.port;
  await redis.kill();
  await waitFor(
    async () => (await relays[0].metrics())['herald_redis_link_up{link="cmd"}'] === 0,
    'relay 1 sees Redis down',
  );
  for (let i = 1; i <= 4; i++) await pubs[0].pub('sse', 'Q', `p${i}`);
  const p5 = pubs[0].pubAck('sse', 'Q', 'p5');
  await pubs[0].pub('ws', 'Q', 'w6');
  await waitFor(
    async () => (await relays[0].metrics()).herald_redis_backlog_messages === 6,
    'six publishes in the backlog',
  );
  const met = await relays[0].metrics();
  assert.ok(met.herald_redis_backlog_bytes > 0);
  assert.equal(met.herald_redis_unpublished_total, 0);
  // Redis comes back empty: a new epoch. The backlog goes first, then
  // what is published from now on.
  const redis2 = await new Redis(port).start();
  const later = [];
  for (let i = 7; i <= 9; i++) later.push(pubs[0].pubAck('sse', 'Q', `p${i}`));
  const a5 = await p5;
  assert.equal(a5.ok, true, JSON.stringify(a5));
  const l = await Promise.all(later);
  assert.ok(l.every((a) => a.ok));
  assert.ok(l.every((a) => seqOf(a.id) > seqOf(a5.id)));
  // The subscriber on relay 2 is told of the new epoch (gap), then gets
  // every message of it, in order, once.
  const want = ['p1', 'p2', 'p3', 'p4', 'p5', 'p7', 'p8', 'p9'];
  await waitFor(() => es.received.some((e) => e.data === 'p9'), 'the backlog and what followed');
  assert.deepEqual(
    es.received.map((e) => (e.type === 'herald.gap' ? 'gap' : e.data)),
    ['before', 'gap', ...want],
  );
  await waitFor(
    async () => (await relays[0].metrics()).herald_redis_backlog_messages === 0,
    'backlog empty',
  );
  const m = await relays[0].metrics();
  assert.equal(m.herald_redis_unpublished_total, 0);
  assert.equal(m.herald_redis_backlog_bytes, 0);
  es.close();
  for (const p of pubs) await p.close();
  for (const r of relays) await r.stopClean();
  await redis2.kill();
});

test('Redis away past redis_backlog_bytes: publishers are refused with a reason, and accepted again when it drained', async () => {
  const { redis, relays, pubs } = await cluster(1, { flags: { redis_backlog_bytes: 65536 } });
  const port = redis.port;
  await redis.kill();
  await waitFor(
    async () => (await relays[0].metrics())['herald_redis_link_up{link="cmd"}'] === 0,
    'Redis down',
  );
  // Each publish is either kept (the backlog grows by one) or refused at
  // once (its ack comes back): wait for whichever happens.
  const big = 'x'.repeat(10000);
  const kept = [];
  let refused = null;
  for (let i = 0; i < 20 && !refused; i++) {
    let reply = null;
    const a = pubs[0].pubAck('sse', 'B', `${i}:${big}`).then((r) => (reply = r));
    const n = kept.length + 1;
    const outcome = await waitFor(async () => {
      if (reply) return 'refused';
      return (await relays[0].metrics()).herald_redis_backlog_messages === n && 'kept';
    }, `publish ${i} kept or refused`);
    if (outcome === 'kept') kept.push(a);
    else refused = reply;
  }
  assert.ok(refused, 'a publish was refused');
  assert.equal(refused.ok, false);
  assert.match(refused.error, /backlog full/);
  assert.match(relays[0].log(), /publishers are refused: redis unavailable, backlog full/);
  assert.ok(kept.length >= 4, `${kept.length} kept`);
  const met = await relays[0].metrics();
  assert.ok(met.herald_redis_backlog_bytes <= 65536);
  assert.equal(met.herald_redis_unpublished_total, 1);
  const redis2 = await new Redis(port).start();
  for (const a of await Promise.all(kept)) assert.equal(a.ok, true);
  await waitFor(() => /publishers are accepted again/.test(relays[0].log()), 'accepted again');
  await pubOk(pubs[0], 'sse', 'B', 'after');
  for (const p of pubs) await p.close();
  for (const r of relays) await r.stopClean();
  await redis2.kill();
});

test('a blip on the subscriber link keeps SSE streams open; they catch up from the Streams, once and in order', async () => {
  const { redis, relays, pubs, stop } = await cluster(2);
  const s = await rawSse(relays[1].port, sseUrl(['X', 'Y']));
  await redis.subscribers('X', 1);
  await redis.subscribers('Y', 1);
  await pubOk(pubs[0], 'sse', 'X', 'm0');
  await s.waitEvents(1);
  // Relay 2 frozen while Redis drops every subscriber link and relay 1
  // publishes: it cannot have heard any of these.
  process.kill(relays[1].proc.pid, 'SIGSTOP');
  await redis.cmd('CLIENT', 'KILL', 'TYPE', 'pubsub');
  const during = [];
  for (let i = 1; i <= 6; i++)
    during.push(await pubOk(pubs[0], 'sse', i % 2 ? 'X' : ['X', 'Y'], `m${i}`));
  process.kill(relays[1].proc.pid, 'SIGCONT');
  await waitFor(
    async () => (await relays[1].metrics()).herald_redis_reconnects_total >= 1,
    'relay 2 linked again',
  );
  await redis.subscribers('X', 1);
  await redis.subscribers('Y', 1);
  const live = await pubOk(pubs[0], 'sse', 'Y', 'live');
  const evs = await eventsUntil(s, 'live', 'caught up, then live');
  assert.deepEqual(
    evs.slice(1).map((e) => [e.id, e.data]),
    [...during.map((a, i) => [a.id, `m${i + 1}`]), [live.id, 'live']],
  );
  assert.ok(!s.blocks().some((b) => b.event === 'herald.gap'));
  assert.equal(s.isClosed, false);
  const met = await relays[1].metrics();
  assert.equal(met['herald_connections{transport="sse"}'], 1);
  assert.equal(met['herald_redis_catchups_total{result="exact"}'], 1);
  const sentinel = await pubOk(pubs[1], 'sse', 'X', 'sentinel');
  assert.equal((await eventsUntil(s, 'sentinel', 'sentinel')).length, 9);
  assert.equal(s.events().at(-1).id, sentinel.id);
  s.destroy();
  await stop();
});

test('a blip longer than history: the stream stays, is told the gap, and gets what the Stream still holds', async () => {
  const { redis, relays, pubs, stop } = await cluster(2, { flags: { history_size: 2 } });
  const s = await rawSse(relays[1].port, sseUrl(['H', 'K']));
  await redis.subscribers('H', 1);
  await pubOk(pubs[0], 'sse', 'H', 'h0');
  await s.waitEvents(1);
  process.kill(relays[1].proc.pid, 'SIGSTOP');
  await redis.cmd('CLIENT', 'KILL', 'TYPE', 'pubsub');
  for (let i = 1; i <= 5; i++) await pubOk(pubs[0], 'sse', 'H', `h${i}`);
  await pubOk(pubs[0], 'sse', 'K', 'k1');
  process.kill(relays[1].proc.pid, 'SIGCONT');
  await redis.subscribers('H', 1);
  await redis.subscribers('K', 1);
  await pubOk(pubs[0], 'sse', 'H', 'live');
  const evs = await eventsUntil(s, 'live', 'gap, catch-up, live');
  assert.equal(evs[1].event, 'herald.gap');
  assert.deepEqual(JSON.parse(evs[1].data).channels, ['H']);
  assert.deepEqual(datas(evs.slice(2)), ['h4', 'h5', 'k1', 'live']);
  assert.equal(s.isClosed, false);
  assert.equal((await relays[1].metrics())['herald_redis_catchups_total{result="gap"}'], 1);
  s.destroy();
  await stop();
});

test('a blip the relay cannot catch up from (too much arrives meanwhile): streams are ended, spread, and resume exactly', async () => {
  const redis = await new Redis().start();
  const proxy = await new RedisProxy(redis).start();
  const { relays, pubs, stop } = await cluster(2, {
    redis,
    urls: [redis.url, proxy.url],
    flags: { retry_min: 50, retry_max: 100 },
    own: [{}, { redis_backlog_bytes: 4096 }],
  });
  const es = sse(relays[1].url(sseUrl(['T'])), { events: ['herald.gap'] });
  await es.opened;
  await redis.subscribers('T', 1);
  const t0 = await pubOk(pubs[0], 'sse', 'T', 't0');
  await es.waitCount(1);
  // Relay 2's read of the Streams is kept back by the proxy while more
  // arrives live than it may hold (4096 bytes).
  process.kill(relays[1].proc.pid, 'SIGSTOP');
  await redis.cmd('CLIENT', 'KILL', 'TYPE', 'pubsub');
  proxy.hold("redis.call('XRANGE'");
  process.kill(relays[1].proc.pid, 'SIGCONT');
  await proxy.whenHeld();
  const acks = [t0];
  for (let i = 1; i <= 8; i++) acks.push(await pubOk(pubs[0], 'sse', 'T', `t${i}:${'y'.repeat(1000)}`));
  await waitFor(
    async () => (await relays[1].metrics())['herald_redis_catchups_total{result="ended"}'] === 1,
    'the catch-up given up',
  );
  assert.match(relays[1].log(), /cannot catch up \(too much arrived meanwhile\): ending 1 stream/);
  proxy.release();
  // The browser came back with its last id and resumed from Redis.
  const evs = await es.waitCount(9);
  assert.deepEqual(
    evs.map((e) => e.id),
    acks.map((a) => a.id),
  );
  assert.ok(!es.received.some((e) => e.type === 'herald.gap'));
  const sentinel = await pubOk(pubs[0], 'sse', 'T', 'sentinel');
  assert.equal((await es.waitCount(10))[9].id, sentinel.id);
  assert.equal(es.received.length, 10);
  es.close();
  await stop();
  proxy.stop();
});

test('an id from an earlier epoch or another cluster: herald.gap, then everything Redis holds for the channels', async () => {
  const { redis, relays, pubs, stop } = await cluster(2);
  const h1 = await pubOk(pubs[0], 'sse', 'O', 'h1');
  const h2 = await pubOk(pubs[0], 'sse', ['O', 'P'], 'h2');
  await pubOk(pubs[0], 'sse', 'Z', 'elsewhere');
  for (const id of ['1-5', 'garbage']) {
    const c = await rawSse(relays[1].port, sseUrl(['O', 'P']), { 'Last-Event-ID': id });
    await redis.subscribers('O', 1);
    const sentinel = await pubOk(pubs[0], 'sse', 'P', `sentinel ${id}`);
    const evs = await eventsUntil(c, `sentinel ${id}`, 'gap, everything, sentinel');
    assert.equal(evs[0].event, 'herald.gap');
    assert.deepEqual(JSON.parse(evs[0].data).channels.sort(), ['O', 'P']);
    assert.deepEqual(
      evs.slice(1, 3).map((e) => [e.id, e.data]),
      [
        [h1.id, 'h1'],
        [h2.id, 'h2'],
      ],
    );
    assert.equal(evs.at(-1).id, sentinel.id);
    c.destroy();
  }
  await stop();
});
