// Workers (issue 18) and the Pusher front: one relay, two event loops, and
// pusher-js clients on both (the kernel spreads them; each client's loop is
// the one whose herald_loop_connections went up when it connected). What
// the Pusher HTTP API and the webhooks say must be the relay's, not the
// answering loop's: subscription_count and occupied count both loops; a
// channel used on both loops is occupied once and vacated once, in that
// order; client events reach the other loop. These run with workers = 2
// whatever HERALD_WORKERS says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { once } from 'node:events';
import { waitFor } from './lib/harness.mjs';
import { APP_ID, KEY, SECRET, startPusherRelay, pusherClient, subscribed, record } from './lib/pusher.mjs';
import { pusherClient as apiClient } from './lib/pusher_api.mjs';

const W = { workers: 2 };

const perLoop = (m) => [m['herald_loop_connections{loop="0"}'] ?? 0, m['herald_loop_connections{loop="1"}'] ?? 0];

// pusher-js clients, opened one at a time until each loop holds min of
// them: [loop 0's, loop 1's].
async function onBothLoops(relay, open, min = 2, max = 64) {
  const out = [[], []];
  let before = perLoop(await relay.metrics());
  for (let i = 0; i < max; i++) {
    const c = await open(i);
    const now = perLoop(await relay.metrics());
    assert.equal(now[0] + now[1], before[0] + before[1] + 1);
    out[now[0] > before[0] ? 0 : 1].push(c);
    before = now;
    if (out[0].length >= min && out[1].length >= min) return out;
  }
  throw new Error(`the kernel put ${max} clients on one loop`);
}

// The app's HTTP API client (the relay's one key and secret).
const api = (relay) => apiClient(relay.port, { appId: APP_ID, key: KEY, secret: SECRET });

// An HTTP server keeping each webhook's events (always 200).
async function receiver() {
  const got = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.push(...JSON.parse(Buffer.concat(chunks).toString()).events);
      res.writeHead(200);
      res.end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    got,
    url: `http://127.0.0.1:${server.address().port}/hooks`,
    waitEvent: (pred, what) => waitFor(() => got.find(pred), what),
    close: () => new Promise((r) => server.close(r)),
  };
}

// pusher-js's private-channel authorization, signed here as the app would.
const authorizer = {
  customHandler: ({ socketId, channelName }, callback) => {
    const sig = crypto.createHmac('sha256', SECRET).update(`${socketId}:${channelName}`).digest('hex');
    callback(null, { auth: `${KEY}:${sig}` });
  },
};

test('workers = 2, Pusher HTTP API: subscription_count, occupied and the channel list count both loops', async () => {
  const relay = await startPusherRelay(W);
  const [zero, one] = await onBothLoops(relay, () => pusherClient(relay));
  const all = [...zero, ...one];
  await Promise.all(all.map((p) => subscribed(p, 'room')));
  // A channel on one loop only, each: a loop answering from its own
  // registry misses one of them whichever loop it is.
  await subscribed(zero[0], 'only-zero');
  await subscribed(one[0], 'only-one');
  const pusher = api(relay);
  const get = async (path, params) => (await pusher.get({ path, params })).json();
  // Each request lands on either loop: every answer is the relay's.
  for (let i = 0; i < 8; i++) {
    assert.deepEqual(await get('/channels', { info: 'subscription_count' }), {
      channels: {
        room: { subscription_count: all.length },
        'only-zero': { subscription_count: 1 },
        'only-one': { subscription_count: 1 },
      },
    });
    assert.deepEqual(await get('/channels', { filter_by_prefix: 'only-' }), {
      channels: { 'only-zero': {}, 'only-one': {} },
    });
    for (const ch of ['only-zero', 'only-one'])
      assert.deepEqual(await get(`/channels/${ch}`, { info: 'subscription_count' }), {
        occupied: true,
        subscription_count: 1,
      });
    assert.deepEqual(await get('/channels/room', { info: 'subscription_count' }), {
      occupied: true,
      subscription_count: all.length,
    });
    assert.deepEqual(await get('/channels/nobody'), { occupied: false });
    const res = await pusher.trigger(['only-zero', 'only-one'], 'e', `x${i}`, { info: 'subscription_count' });
    assert.deepEqual(await res.json(), {
      channels: { 'only-zero': { subscription_count: 1 }, 'only-one': { subscription_count: 1 } },
    });
    const batch = await pusher.triggerBatch([
      { channel: 'room', name: 'e', data: 'y', info: 'subscription_count' },
      { channel: 'only-one', name: 'e', data: 'z', info: 'subscription_count' },
    ]);
    assert.deepEqual(await batch.json(), { batch: [{ subscription_count: all.length }, { subscription_count: 1 }] });
  }
  // The count follows the clients on both loops.
  zero[0].unsubscribe('room');
  one[0].unsubscribe('room');
  await waitFor(
    async () => (await get('/channels/room', { info: 'subscription_count' })).subscription_count === all.length - 2,
    'room counted without two',
  );
  for (const p of all) p.disconnect();
  await waitFor(async () => (await get('/channels/room')).occupied === false, 'room vacated');
  await relay.stopClean();
});

test('workers = 2, webhooks: a channel used on both loops is occupied once and vacated once, in order, each round', async () => {
  const rx = await receiver();
  const relay = await startPusherRelay({
    ...W,
    pusher_webhook_url: rx.url,
    pusher_webhook_events: 'channel_occupied,channel_vacated',
  });
  const [zero, one] = await onBothLoops(relay, () => pusherClient(relay));
  const all = [...zero, ...one];
  const rounds = 3;
  const room = () => rx.got.filter((e) => e.channel === 'room').map((e) => e.name);
  for (let r = 0; r < rounds; r++) {
    // Both loops at once: who is first and last is decided under one lock.
    await Promise.all(all.map((p) => subscribed(p, 'room')));
    await waitFor(() => room().length >= 2 * r + 1, `occupied, round ${r}`);
    for (const p of all) p.unsubscribe('room');
    await waitFor(() => room().length >= 2 * r + 2, `vacated, round ${r}`);
  }
  // Nothing more of room after the rounds: a sentinel's webhook comes after.
  await subscribed(one[0], 'sentinel');
  await rx.waitEvent((e) => e.name === 'channel_occupied' && e.channel === 'sentinel', 'sentinel');
  assert.deepEqual(
    room(),
    Array.from({ length: rounds }, () => ['channel_occupied', 'channel_vacated']).flat(),
  );
  const m = await relay.metrics();
  assert.equal(m['herald_pusher_webhook_events_total'], rx.got.length);
  for (const p of all) p.disconnect();
  await relay.stopClean();
  await rx.close();
});

test('workers = 2: client events reach the clients of the other loop, and each makes one client_event webhook', async () => {
  const rx = await receiver();
  const relay = await startPusherRelay({ ...W, pusher_webhook_url: rx.url, pusher_webhook_events: 'client_event' });
  const [zero, one] = await onBothLoops(relay, () => pusherClient(relay, { channelAuthorization: authorizer }), 1);
  const all = [...zero, ...one];
  const chans = await Promise.all(all.map((p) => subscribed(p, 'private-chat')));
  const recs = chans.map(({ ch }) => record(ch));
  chans.forEach(({ ch }, i) => ch.trigger('client-hi', { from: i }));
  for (const [i, rec] of recs.entries()) {
    const others = all.map((_, k) => k).filter((k) => k !== i);
    await waitFor(() => rec.got.filter((x) => x.event === 'client-hi').length >= others.length, `client ${i}'s events`);
    // Every other client's, and never its own.
    assert.deepEqual(
      rec.got.filter((x) => x.event === 'client-hi').map((x) => x.data.from).sort((a, b) => a - b),
      others,
    );
  }
  await waitFor(() => rx.got.length >= all.length, 'the client_event webhooks');
  assert.deepEqual(
    rx.got.map((e) => [e.name, e.channel, e.event, JSON.parse(e.data).from]).sort((a, b) => a[3] - b[3]),
    all.map((_, i) => ['client_event', 'private-chat', 'client-hi', i]),
  );
  for (const p of all) p.disconnect();
  await relay.stopClean();
  await rx.close();
});
