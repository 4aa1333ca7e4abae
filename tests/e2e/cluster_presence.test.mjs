// Presence in cluster mode (two relays through a real redis-server,
// herald.v1 clients on the npm ws package, an SSE client): members are
// users, not tabs, across relays: a user's tabs on two relays are one join
// and one leave; a tab that moves to another relay within presence_leave_ms
// is no leave and no join; the presence query lists every relay's members,
// sorted; a SIGKILLed relay's members leave by themselves, published by a
// relay still alive (within presence_ttl_ms + the presence sweep). Users
// come from the token's `sub` claim (no hooks needed). "No leave" is proven
// by a sentinel user's leave, due after the one that must not come (the
// same relay keeps leaves in deadline order), or by a message published
// after; nothing waits for a fixed time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pubOk, sse, waitFor } from './lib/harness.mjs';
import { cluster } from './lib/cluster.mjs';
import { heraldClient } from './lib/herald.mjs';
import { SECRET, sign, now } from './lib/token.mjs';

const CH = 'presence-room';
// presence_ttl_ms well above a busy machine's stalls: a live relay that
// could not refresh its entries in time (starved of CPU for a second)
// would have its members expire, a leave and a join no test expects. The
// SIGKILL test waits for its leave by event, within the harness deadline.
const flags = { secret: SECRET, presence_leave_ms: 1500, presence_ttl_ms: 6000 };

const userToken = (sub, channels = ['presence-*']) =>
  sign({ alg: 'HS256', typ: 'JWT' }, { sub, channels, exp: now() + 3600 });

// A herald.v1 tab of user on relay r, subscribed to ch.
async function tab(r, user, ch = CH) {
  const c = await heraldClient(r.wsUrl('/ws'));
  c.send({ type: 'subscribe', channel: ch, token: userToken(user) });
  await c.until((m) => m.type === 'subscribed' && m.channel === ch, `${user} subscribed`);
  return c;
}

const isPresence = (type, user) => (m) => m.type === type && m.channel === CH && m.user === user;
const presenceEvents = (msgs) =>
  msgs.filter((m) => m.json.type === 'join' || m.json.type === 'leave').map((m) => `${m.json.type} ${m.json.user}`);

async function members(client, ref) {
  client.send({ type: 'presence', channel: CH, ref });
  const got = await client.until((m) => m.type === 'presence' && m.ref === ref, `presence answer ${ref}`);
  return got.at(-1).json.members;
}

test('cluster presence: two tabs on two relays are one join and one leave; members of every relay, sorted', async () => {
  const { relays, pubs, stop } = await cluster(2, { flags });
  const [A, B] = relays;
  const obs = await tab(A, 'obs'); // observes from relay A
  await obs.until(isPresence('join', 'obs'), 'own join');
  const view = sse(B.url(`/sse?channel=${CH}&token=${userToken('viewer')}`), {
    events: ['herald.join', 'herald.leave'],
  });
  await view.opened;
  await obs.until(isPresence('join', 'viewer'), 'join viewer'); // an SSE member too

  const ann1 = await tab(A, 'ann');
  const j = await obs.until(isPresence('join', 'ann'), 'join ann');
  assert.deepEqual(j.at(-1).json, { type: 'join', channel: CH, user: 'ann', info: null });
  const ann2 = await tab(B, 'ann'); // her second tab, on the other relay: no join
  const s1 = await pubOk(pubs[1], 'all', CH, 'sentinel-1');
  const upTo1 = await obs.until((m) => m.type === 'message' && m.data === 'sentinel-1', 'sentinel-1');
  assert.deepEqual(presenceEvents(upTo1), []);
  assert.ok(s1.id);

  assert.deepEqual(await members(obs, 1), [
    { user: 'ann', info: null },
    { user: 'obs', info: null },
    { user: 'viewer', info: null },
  ]);
  assert.deepEqual(await members(ann2, 2), await members(obs, 3)); // the same from relay B

  // SSE: event herald.join with the JSON, an id like any publish.
  await waitFor(() => view.received.some((e) => e.data === 'sentinel-1'), 'SSE sentinel-1');
  const sj = view.received.find((e) => e.type === 'herald.join' && JSON.parse(e.data).user === 'ann');
  assert.deepEqual(JSON.parse(sj.data), { channel: CH, user: 'ann', info: null });
  assert.ok(sj.id);

  // Her tab on A closes: B still holds her, so no leave. zed's leave (on
  // A, due after ann's would have been) is the sentinel.
  const zed = await tab(A, 'zed');
  await obs.until(isPresence('join', 'zed'), 'join zed');
  await ann1.close();
  await zed.close();
  const upToZed = await obs.until(isPresence('leave', 'zed'), 'leave zed');
  assert.deepEqual(presenceEvents(upToZed), ['leave zed']);

  // Her last tab goes: one leave, after the delay.
  await ann2.close();
  const upToLeave = await obs.until(isPresence('leave', 'ann'), 'leave ann');
  assert.deepEqual(presenceEvents(upToLeave), ['leave ann']);
  assert.deepEqual(await members(obs, 4), [
    { user: 'obs', info: null },
    { user: 'viewer', info: null },
  ]);
  const ma = await A.metrics();
  const mb = await B.metrics();
  assert.equal(ma.herald_presence_joins_total + mb.herald_presence_joins_total, 4); // obs viewer ann zed
  assert.equal(ma.herald_presence_expired_total + mb.herald_presence_expired_total, 0);
  view.close();
  await obs.close();
  await stop();
});

test('cluster presence: a tab that moves to another relay within the delay is no leave and no join', async () => {
  const { relays, stop } = await cluster(2, { flags });
  const [A, B] = relays;
  const obs = await tab(B, 'obs');
  await obs.until(isPresence('join', 'obs'), 'own join');
  const dan = await tab(A, 'dan');
  await obs.until(isPresence('join', 'dan'), 'join dan');
  const zed = await tab(A, 'zed');
  await obs.until(isPresence('join', 'zed'), 'join zed');
  await dan.close(); // a reload ...
  const dan2 = await tab(B, 'dan'); // ... lands on the other relay
  await zed.close(); // the sentinel: due after dan's leave would have been, on A
  const upToZed = await obs.until(isPresence('leave', 'zed'), 'leave zed');
  assert.deepEqual(presenceEvents(upToZed), ['leave zed']);
  assert.deepEqual(
    (await members(obs, 1)).map((m) => m.user),
    ['dan', 'obs'],
  );
  await dan2.close();
  await obs.close();
  await stop();
});

test('cluster presence: a SIGKILLed relay\'s members leave by themselves, published once by a relay alive', async () => {
  const { relays, stop } = await cluster(2, { flags });
  const [A, B] = relays;
  const obs = await tab(A, 'obs');
  await obs.until(isPresence('join', 'obs'), 'own join');
  const eve = await tab(B, 'eve');
  await obs.until(isPresence('join', 'eve'), 'join eve');
  await B.stop('SIGKILL');
  // Within presence_ttl_ms (6 s) + the sweep (2 s): the harness deadline is far above.
  const upToLeave = await obs.until(isPresence('leave', 'eve'), 'leave eve');
  assert.deepEqual(presenceEvents(upToLeave), ['leave eve']);
  assert.deepEqual(await members(obs, 1), [{ user: 'obs', info: null }]);
  await waitFor(async () => (await A.metrics()).herald_presence_expired_total === 1, 'expired counted');
  await eve.closed;
  await obs.close();
  relays.splice(1, 1); // B is gone already
  await stop();
});

test('cluster presence: a relay stopped cleanly hands its members over; another relay publishes their leave', async () => {
  const { relays, stop } = await cluster(2, { flags });
  const [A, B] = relays;
  const obs = await tab(A, 'obs');
  await obs.until(isPresence('join', 'obs'), 'own join');
  const fay = await tab(B, 'fay');
  await obs.until(isPresence('join', 'fay'), 'join fay');
  await B.stopClean();
  const upToLeave = await obs.until(isPresence('leave', 'fay'), 'leave fay');
  assert.deepEqual(presenceEvents(upToLeave), ['leave fay']);
  await fay.closed;
  await obs.close();
  relays.splice(1, 1);
  await stop();
});
