// herald.v1 in cluster mode (--redis, a real redis-server): a since
// received on one relay resumes exactly on another; a fresh subscribe waits
// for Redis's position (its subscribed names it) and then misses nothing;
// several subscribes sent at once (each an asynchronous resume here) come
// out in order, each channel exact; a blip on a relay's subscriber link is
// caught up once per channel (with a gap envelope where the Streams no
// longer reach back).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pubOk, waitFor } from './lib/harness.mjs';
import { cluster } from './lib/cluster.mjs';
import { Redis, RedisProxy } from './lib/redis.mjs';
import { heraldClient } from './lib/herald.mjs';

const msg = (ch, id, data) => JSON.stringify({ type: 'message', channel: ch, id, data });

test('cluster: a since from relay A resumes exactly on relay B; back-to-back subscribes stay in order', async () => {
  const { redis, relays, pubs, stop } = await cluster(2);
  const [A, B] = relays;
  const a = await heraldClient(A.wsUrl('/ws?channel=c1'));
  const [sub] = await a.take(1);
  assert.equal(sub.json.type, 'subscribed');
  await redis.subscribers('c1', 1);
  const m1 = await pubOk(pubs[0], 'all', 'c1', 'one');
  const m2 = await pubOk(pubs[1], 'ws', ['c1', 'c2'], 'two');
  assert.deepEqual(await a.texts(2), [msg('c1', m1.id, 'one'), msg('c1', m2.id, 'two')]);
  await a.close();
  // Missed while away: published on either relay.
  const m3 = await pubOk(pubs[1], 'sse', 'c1', 'three');
  const m4 = await pubOk(pubs[0], 'all', ['c1', 'c2'], 'four');
  const b = await heraldClient(B.wsUrl('/ws'));
  b.send({ type: 'subscribe', channel: 'c1', since: m2.id, ref: 1 });
  b.send({ type: 'subscribe', channel: 'c2', since: m1.id, ref: 2 });
  b.send({ type: 'subscribe', channel: 'c3', ref: 3 });
  assert.deepEqual(await b.texts(7).then((t) => t.map((x) => x.replace(/"id":"[^"]+","ref":3/, '"id":P,"ref":3'))), [
    `{"type":"subscribed","channel":"c1","id":"${m2.id}","ref":1}`,
    msg('c1', m3.id, 'three'),
    msg('c1', m4.id, 'four'),
    `{"type":"subscribed","channel":"c2","id":"${m1.id}","ref":2}`,
    msg('c2', m2.id, 'two'),
    msg('c2', m4.id, 'four'),
    '{"type":"subscribed","channel":"c3","id":P,"ref":3}',
  ]);
  // Live from here, each channel once; the sentinel proves no duplicate.
  await redis.subscribers('c3', 1);
  const m5 = await pubOk(pubs[0], 'all', ['c1', 'c2', 'c3'], 'five');
  const got = await b.take(3);
  assert.deepEqual(got.map((m) => m.json.channel).sort(), ['c1', 'c2', 'c3']);
  assert.ok(got.every((m) => m.json.id === m5.id && m.json.data === 'five'));
  const s = await pubOk(pubs[1], 'all', 'c3', 'sentinel');
  assert.deepEqual(await b.texts(1), [msg('c3', s.id, 'sentinel')]);
  await b.close();
  await stop();
});

test('cluster: a fresh subscribe starts at the position Redis gives, and misses nothing after it', async () => {
  const { redis, relays, pubs, stop } = await cluster(2);
  const [A, B] = relays;
  const before = await pubOk(pubs[0], 'all', 'f', 'before');
  const b = await heraldClient(B.wsUrl('/ws'));
  b.send({ type: 'subscribe', channel: 'f' });
  const [sub] = await b.take(1);
  assert.equal(sub.json.type, 'subscribed');
  // The position is at or after what was published before, never before.
  const seq = (id) => Number(id.split('-')[1]);
  assert.ok(seq(sub.json.id) >= seq(before.id), `${sub.json.id} >= ${before.id}`);
  // Published on the other relay right away (B's Redis subscription may
  // not be confirmed yet): it arrives, once.
  const m = await pubOk(pubs[0], 'all', 'f', 'right after');
  assert.deepEqual(await b.texts(1), [msg('f', m.id, 'right after')]);
  // A since of the new position resumes on A with nothing missed.
  const a = await heraldClient(A.wsUrl('/ws'));
  a.send({ type: 'subscribe', channel: 'f', since: sub.json.id });
  assert.deepEqual(await a.texts(2), [
    `{"type":"subscribed","channel":"f","id":"${sub.json.id}"}`,
    msg('f', m.id, 'right after'),
  ]);
  await redis.subscribers('f', 2);
  const s = await pubOk(pubs[1], 'all', 'f', 'sentinel');
  assert.deepEqual(await a.texts(1), [msg('f', s.id, 'sentinel')]);
  assert.deepEqual(await b.texts(1), [msg('f', s.id, 'sentinel')]);
  await a.close();
  await b.close();
  await stop();
});

test('cluster: a blip on the subscriber link: herald.v1 catches up once per channel, in order, no gap', async () => {
  const { redis, relays, pubs, stop } = await cluster(2);
  const h = await heraldClient(relays[1].wsUrl('/ws?channel=X&channel=Y'));
  await h.take(2);
  await redis.subscribers('X', 1);
  await redis.subscribers('Y', 1);
  const m0 = await pubOk(pubs[0], 'all', 'X', 'm0');
  assert.deepEqual(await h.texts(1), [msg('X', m0.id, 'm0')]);
  // Relay 2 frozen while Redis drops every subscriber link and relay 1
  // publishes: it cannot have heard any of these.
  process.kill(relays[1].proc.pid, 'SIGSTOP');
  await redis.cmd('CLIENT', 'KILL', 'TYPE', 'pubsub');
  const expected = [];
  for (let i = 1; i <= 4; i++) {
    const chs = i % 2 ? ['X'] : ['X', 'Y'];
    const a = await pubOk(pubs[0], i % 2 ? 'ws' : 'all', chs, `m${i}`);
    for (const ch of chs) expected.push(msg(ch, a.id, `m${i}`));
  }
  process.kill(relays[1].proc.pid, 'SIGCONT');
  await waitFor(
    async () => (await relays[1].metrics()).herald_redis_reconnects_total >= 1,
    'relay 2 linked again',
  );
  await redis.subscribers('X', 1);
  await redis.subscribers('Y', 1);
  const live = await pubOk(pubs[0], 'all', 'Y', 'live');
  const got = await h.until((j) => j.data === 'live', 'caught up, then live');
  assert.deepEqual(
    got.map((m) => m.text),
    [...expected, msg('Y', live.id, 'live')],
  );
  assert.equal((await relays[1].metrics())['herald_redis_catchups_total{result="exact"}'], 1);
  await h.close();
  await stop();
});

test('cluster: a blip longer than history: a gap envelope on that channel, then what the Stream holds', async () => {
  const { redis, relays, pubs, stop } = await cluster(2, { flags: { history_size: 2 } });
  const h = await heraldClient(relays[1].wsUrl('/ws?channel=H&channel=K'));
  await h.take(2);
  await redis.subscribers('H', 1);
  await redis.subscribers('K', 1);
  const h0 = await pubOk(pubs[0], 'all', 'H', 'h0');
  assert.deepEqual(await h.texts(1), [msg('H', h0.id, 'h0')]);
  process.kill(relays[1].proc.pid, 'SIGSTOP');
  await redis.cmd('CLIENT', 'KILL', 'TYPE', 'pubsub');
  const hs = [];
  for (let i = 1; i <= 5; i++) hs.push(await pubOk(pubs[0], 'all', 'H', `h${i}`));
  const k1 = await pubOk(pubs[0], 'ws', 'K', 'k1');
  process.kill(relays[1].proc.pid, 'SIGCONT');
  await redis.subscribers('H', 1);
  await redis.subscribers('K', 1);
  const live = await pubOk(pubs[0], 'all', 'H', 'live');
  const got = await h.until((j) => j.data === 'live', 'gap, catch-up, live');
  assert.deepEqual(
    got.map((m) => m.text),
    [
      `{"type":"gap","channel":"H","since":"${h0.id}"}`,
      msg('H', hs[3].id, 'h4'),
      msg('H', hs[4].id, 'h5'),
      msg('K', k1.id, 'k1'),
      msg('H', live.id, 'live'),
    ],
  );
  assert.equal((await relays[1].metrics())['herald_redis_catchups_total{result="gap"}'], 1);
  await h.close();
  await stop();
});

test('cluster: subscribes waiting behind a resume in progress are bounded by max_channels; one more is refused (busy), the rest go through in order', async () => {
  const redis = await new Redis().start();
  const proxy = await new RedisProxy(redis).start();
  const { relays, pubs, stop } = await cluster(1, { flags: { max_channels: 2 }, urls: [proxy.url], redis });
  const [relay] = relays;
  const [pub] = pubs;
  const h = await heraldClient(relay.wsUrl('/ws'));
  // The relay's SUBSCRIBE of q is kept back: q's subscribe stays in progress.
  proxy.hold();
  h.send({ type: 'subscribe', channel: 'q', ref: 1 });
  await proxy.whenHeld();
  for (const ref of [2, 3, 4]) h.send({ type: 'unsubscribe', channel: 'z', ref });
  const refused = await h.until((j) => j.type === 'error', 'the refusal');
  assert.equal(
    refused.at(-1).text,
    '{"type":"error","ref":4,"channel":"z","error":"too many subscribes waiting for a resume"}',
  );
  assert.equal((await relay.metrics())['herald_ws_envelope_errors_total{reason="busy"}'], 1);
  proxy.release();
  await redis.subscribers('q', 1);
  const s = await pubOk(pub, 'all', 'q', 'sentinel');
  // The sentinel may come before the unsubscribes' answers: it is a live
  // message of q's subscribe, handed over with its resume, after which the
  // waiting ops run.
  const all = refused.map((m) => m.json);
  const seen = () => all.some((j) => j.type === 'message') && all.some((j) => j.ref === 3);
  while (!seen()) all.push(...(await h.take(1)).map((m) => m.json));
  assert.deepEqual(
    all.filter((j) => j.type !== 'error' && j.type !== 'message').map((j) => [j.type, j.ref]),
    [
      ['subscribed', 1],
      ['unsubscribed', 2],
      ['unsubscribed', 3],
    ],
  );
  const m = all.find((j) => j.type === 'message');
  assert.deepEqual([m.channel, m.id, m.data], ['q', s.id, 'sentinel']);
  assert.ok(all.indexOf(m) > all.findIndex((j) => j.type === 'subscribed'));
  await h.close();
  await stop();
});
