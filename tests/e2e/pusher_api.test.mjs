// The Pusher HTTP API (docs/PROTOCOL.md 4.9) against the real relay with the
// npm `pusher` client (it signs as pusher-php-server and Laravel's Pusher
// broadcaster do): trigger and triggerBatch reach herald.v1 and SSE
// subscribers with their event names; every refusal (signature, key,
// timestamp window, body MD5, sizes, limits, app id, method) has its status,
// its counter, and publishes nothing (proven by a sentinel published after);
// the GET queries answer from the registry and from presence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Relay, sse } from './lib/harness.mjs';
import { startHooks, ask } from './lib/hooks.mjs';
import { heraldClient } from './lib/herald.mjs';
import { SECRET, sign, now } from './lib/token.mjs';
import { APP, pusherFlags, pusherClient, signedFetch } from './lib/pusher_api.mjs';

async function setup(extra = {}) {
  const relay = await new Relay({ flags: pusherFlags({ secret: SECRET, ...extra }) }).start();
  return { relay, pusher: pusherClient(relay.port) };
}

async function subscriber(relay, ch) {
  const h = await heraldClient(relay.wsUrl('/ws'));
  h.send({ type: 'subscribe', channel: ch });
  await h.until((m) => m.type === 'subscribed' && m.channel === ch, `subscribed to ${ch}`);
  return h;
}

const userToken = (sub) => sign({ alg: 'HS256', typ: 'JWT' }, { sub, channels: ['presence-*'], exp: now() + 3600 });

test('trigger and triggerBatch reach herald.v1 and SSE subscribers with their event names', async () => {
  const { relay, pusher } = await setup();
  const h = await subscriber(relay, 'orders');
  const s = sse(relay.url('/sse?channel=orders'), { events: ['order.shipped', 'plain', 'b1', 'b2'] });
  await s.opened;

  let res = await pusher.trigger('orders', 'order.shipped', { id: 7, items: ['a'] });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {});
  // A string that is not JSON stays a string.
  res = await pusher.trigger(['orders', 'other'], 'plain', 'just text');
  assert.equal(res.status, 200);
  res = await pusher.triggerBatch([
    { channel: 'orders', name: 'b1', data: { n: 1 } },
    { channel: 'orders', name: 'b2', data: '[2]' },
  ]);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { batch: [{}, {}] });

  const got = (await h.take(4)).map((m) => m.json);
  assert.deepEqual(
    got.map((m) => [m.type, m.channel, m.event, m.data]),
    [
      ['message', 'orders', 'order.shipped', { id: 7, items: ['a'] }],
      ['message', 'orders', 'plain', 'just text'],
      ['message', 'orders', 'b1', { n: 1 }],
      ['message', 'orders', 'b2', [2]],
    ],
  );
  const ev = await s.waitCount(4);
  assert.deepEqual(
    ev.map((e) => [e.type, e.data]),
    [
      ['order.shipped', '{"id":7,"items":["a"]}'],
      ['plain', 'just text'],
      ['b1', '{"n":1}'],
      ['b2', '[2]'],
    ],
  );
  const m = await relay.metrics();
  assert.equal(m['herald_pusher_api_events_total'], 4);
  s.close();
  await h.close();
  await relay.stopClean();
});

test('refusals: each its status and counter, nothing published', async () => {
  const { relay, pusher } = await setup({ pusher_max_event_bytes: 1024, pusher_max_batch: 3 });
  const h = await subscriber(relay, 'c');
  const body = JSON.stringify({ name: 'e', channels: ['c'], data: 'x' });
  const P = `/apps/${APP.appId}/events`;
  const cases = [
    // [what, request, status, reason, text]
    ['wrong secret', () => pusherClient(relay.port, { secret: 'nope' }).trigger('c', 'e', 'x'), 401, 'signature', /Invalid signature/],
    ['wrong key', () => pusherClient(relay.port, { key: 'other' }).trigger('c', 'e', 'x'), 401, 'signature', /auth_key/],
    ['wrong app id', () => pusherClient(relay.port, { appId: '1' }).trigger('c', 'e', 'x'), 404, 'not_found', /Unknown app/],
    ['stale timestamp', () => signedFetch(relay.port, 'POST', P, { body, ts: Math.floor(Date.now() / 1000) - 601 }), 401, 'timestamp', /Timestamp expired/],
    ['future timestamp', () => signedFetch(relay.port, 'POST', P, { body, ts: Math.floor(Date.now() / 1000) + 601 }), 401, 'timestamp', /Timestamp expired/],
    ['wrong md5', () => signedFetch(relay.port, 'POST', P, { body, md5: 'a'.repeat(32) }), 401, 'body_md5', /body_md5/],
    ['no md5', () => signedFetch(relay.port, 'POST', P, { body, md5: undefined, tamper: (u) => u.replace(/&body_md5=[0-9a-f]+/, '') }), 401, 'signature', /Invalid signature/],
    ['signed query changed', () => signedFetch(relay.port, 'POST', P, { body, tamper: (u) => u + '&info=x' }), 401, 'signature', /Invalid signature/],
    ['doubled parameter', () => signedFetch(relay.port, 'POST', P, { body, tamper: (u) => u + '&auth_version=1.0' }), 400, 'query', /twice/],
    ['oversized data', () => pusher.trigger('c', 'e', 'y'.repeat(1025)), 413, 'too_large', /too large/],
    // (the npm client itself refuses too many channels, long names, bad socket ids)
    ['too many channels', () => signedFetch(relay.port, 'POST', P, { body: JSON.stringify({ name: 'e', channels: Array.from({ length: 101 }, (_, i) => `c${i}`), data: 'x' }) }), 400, 'invalid', /too many channels/],
    ['bad channel', () => signedFetch(relay.port, 'POST', P, { body: JSON.stringify({ name: 'e', channel: 'a b', data: 'x' }) }), 400, 'invalid', /invalid channel/],
    ['long name', () => signedFetch(relay.port, 'POST', P, { body: JSON.stringify({ name: 'n'.repeat(201), channel: 'c', data: 'x' }) }), 400, 'invalid', /name/],
    ['data not a string', () => signedFetch(relay.port, 'POST', P, { body: JSON.stringify({ name: 'e', channel: 'c', data: { a: 1 } }) }), 400, 'invalid', /data must be a string/],
    ['bad socket_id', () => signedFetch(relay.port, 'POST', P, { body: JSON.stringify({ name: 'e', channel: 'c', data: 'x', socket_id: '1.2x' }) }), 400, 'invalid', /socket_id/],
    ['not JSON', () => signedFetch(relay.port, 'POST', P, { body: '{nope' }), 400, 'invalid', /not JSON/],
    ['batch too large', () => pusher.triggerBatch(Array.from({ length: 4 }, () => ({ channel: 'c', name: 'e', data: 'x' }))), 400, 'invalid', /Batch too large/],
    // one bad event: none of the batch is published
    ['bad event in a batch', () => pusher.triggerBatch([{ channel: 'c', name: 'e', data: 'x' }, { channel: 'c', name: 'e', data: 'z'.repeat(2000) }]), 413, 'too_large', /batch\[1\]/],
    ['GET on events', () => signedFetch(relay.port, 'GET', P), 405, 'method', /POST/],
  ];
  for (const [what, fn, status, reason, text] of cases) {
    const before = (await relay.metrics())[`herald_pusher_api_refused_total{reason="${reason}"}`];
    let st, body;
    try {
      const r = await fn();
      if (r instanceof Response) {
        st = r.status;
        body = await r.text();
      } else {
        st = r.status;
        body = r.text;
      }
    } catch (e) {
      st = e.status;
      body = e.body;
    }
    assert.equal(st, status, `${what}: status (${body})`);
    assert.match(body, text, what);
    const after = (await relay.metrics())[`herald_pusher_api_refused_total{reason="${reason}"}`];
    assert.equal(after, before + 1, `${what}: counted as ${reason}`);
  }
  // Nothing was published: the next message is the sentinel.
  await pusher.trigger('c', 'sentinel', 'end');
  const [first] = await h.take(1);
  assert.equal(first.json.event, 'sentinel');
  assert.equal((await relay.metrics())['herald_pusher_api_events_total'], 1);
  await h.close();
  await relay.stopClean();
});

test('GET channels, channel and users; info on trigger', async () => {
  const { relay, pusher } = await setup();
  const a = await subscriber(relay, 'news');
  const b = await subscriber(relay, 'news');
  const c = await subscriber(relay, 'sports');
  // two users in presence-room (one in two tabs)
  const tabs = [];
  for (const u of ['ana', 'bob', 'bob']) {
    const t = await heraldClient(relay.wsUrl('/ws'));
    t.send({ type: 'subscribe', channel: 'presence-room', token: userToken(u) });
    await t.until((m) => m.type === 'subscribed', `${u} subscribed`);
    tabs.push(t);
  }
  const get = async (path, params) => (await pusher.get({ path, params })).json();

  assert.deepEqual(await get('/channels'), { channels: { news: {}, sports: {}, 'presence-room': {} } });
  assert.deepEqual(await get('/channels', { filter_by_prefix: 'new' }), { channels: { news: {} } });
  assert.deepEqual(await get('/channels', { filter_by_prefix: 'presence-', info: 'user_count' }), {
    channels: { 'presence-room': { user_count: 2 } },
  });
  assert.deepEqual(await get('/channels/news', { info: 'subscription_count' }), {
    occupied: true,
    subscription_count: 2,
  });
  assert.deepEqual(await get('/channels/empty'), { occupied: false });
  assert.deepEqual(await get('/channels/presence-room', { info: 'user_count,subscription_count' }), {
    occupied: true,
    user_count: 2,
    subscription_count: 3,
  });
  assert.deepEqual(await get('/channels/presence-room/users'), { users: [{ id: 'ana' }, { id: 'bob' }] });

  // Pusher's rules: user_count and users of presence channels only.
  await assert.rejects(pusher.get({ path: '/channels/news/users' }), (e) => e.status === 400);
  await assert.rejects(pusher.get({ path: '/channels/news', params: { info: 'user_count' } }), (e) => e.status === 400);
  await assert.rejects(pusher.get({ path: '/channels', params: { info: 'user_count' } }), (e) => e.status === 400);
  await assert.rejects(pusher.get({ path: '/channels/bad%20name' }), (e) => e.status === 400);
  await assert.rejects(pusher.get({ path: '/nothing' }), (e) => e.status === 404);
  const r = await signedFetch(relay.port, 'POST', `/apps/${APP.appId}/channels`, { body: '{}' });
  assert.equal(r.status, 405);

  // info on a trigger: after the publish.
  let res = await pusher.trigger(['news', 'presence-room'], 'e', 'x', { info: 'subscription_count' });
  assert.deepEqual(await res.json(), {
    channels: { news: { subscription_count: 2 }, 'presence-room': { subscription_count: 3 } },
  });
  res = await pusher.triggerBatch([
    { channel: 'presence-room', name: 'e', data: 'y', info: 'user_count' },
    { channel: 'news', name: 'e', data: 'z' },
  ]);
  assert.deepEqual(await res.json(), { batch: [{ user_count: 2 }, {}] });

  for (const t of [a, b, c, ...tabs]) await t.close();
  await relay.stopClean();
});

// socket_id (Pusher's exclusion, Laravel's toOthers()): the connection it
// names gets nothing, every other subscriber gets the event; a sentinel
// after proves it. The connection id comes from the app (an echo hook).
test('socket_id leaves out that connection, on trigger and in a batch', async () => {
  const h = await startHooks({ flags: pusherFlags({ app_events: 'connect,message' }) });
  const ana = await h.client('ana');
  const bob = await h.client('bob');
  for (const c of [ana, bob]) {
    c.send({ type: 'subscribe', channel: 'lobby' });
    await c.until((j) => j.type === 'subscribed');
  }
  const echo = await ask(ana, { hello: 1 }, { channel: 'lobby' });
  const socketId = echo.data.conn;
  assert.match(socketId, /^\d+\.\d+$/);
  const pusher = pusherClient(h.relay.port);
  await pusher.trigger('lobby', 'said', { text: 'hi' }, { socket_id: socketId });
  await pusher.triggerBatch([{ channel: 'lobby', name: 'b', data: 'x', socket_id: socketId }]);
  await pusher.trigger('lobby', 'sentinel', 'end');
  const isS = (j) => j.type === 'message' && j.event === 'sentinel';
  assert.deepEqual(
    (await bob.until(isS)).map((m) => m.json.event),
    ['said', 'b', 'sentinel'],
  );
  assert.deepEqual(
    (await ana.until(isS)).map((m) => m.json.event),
    ['sentinel'],
    'the excluded connection gets nothing but the sentinel',
  );
  await h.stop();
});
