// Presence through application hooks (Contract 5): members are users, not
// tabs. Two users in three tabs make two joins; the presence query answers
// both once, sorted, with the info the hook gave at subscribe; a reload
// (the last tab closed, another subscribed within presence_leave_ms) makes
// no leave; a killed tab's user leaves once, after the delay;
// herald_presence() in a hook and in a CLI script returns the members; an
// SSE subscriber sees herald.join / herald.leave. "No leave" is proven by
// another user's later leave (same delay, fired in order) and a sentinel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sse, pubOk, waitFor, RawClient, httpRequestText, parseResponse, parseSse } from './lib/harness.mjs';
import { runPhp } from './lib/php.mjs';
import { SECRET } from './lib/token.mjs';
import { startHooks, ask, opened } from './lib/hooks.mjs';

const CH = 'presence-room';
const info = (u) => ({ name: u[0].toUpperCase() + u.slice(1) });
const member = (u) => ({ user: u, info: info(u) });
const isPresence = (j) => j.type === 'join' || j.type === 'leave';

// An SSE client's events from index `from` up to the first that pred
// accepts; [events, next index].
async function sseUntil(es, from, pred, what) {
  const i = await waitFor(() => {
    const k = es.received.findIndex((e, n) => n >= from && pred(e));
    return k >= 0 ? k + 1 : 0;
  }, what);
  return [es.received.slice(from, i), i];
}
const presenceData = (events) =>
  events.filter((e) => e.type !== 'message').map((e) => [e.type, JSON.parse(e.data)]);

test('presence: two users in three tabs, a reload, a killed tab, herald_presence, SSE join/leave', async () => {
  const h = await startHooks({
    flags: { app_events: 'connect,message,disconnect', presence_leave_ms: 2000 },
  });
  const join = async (c) => {
    c.send({ type: 'subscribe', channel: CH });
    try {
      await c.until((j) => j.type === 'subscribed' && j.channel === CH, 'subscribed');
    } catch (e) {
      console.error(`subscribe not answered; ws readyState ${c.ws.readyState}\n${await h.diagnose()}`);
      throw e;
    }
  };
  // The observers: olga on herald.v1, sam on herald.v1 and on SSE (a user
  // too: his cookie). (The SSE stream of a user's first tab, with its own
  // join, is the last test's.)
  const olga = await h.client('olga');
  await join(olga);
  const samTab = await h.client('sam');
  await join(samTab);
  const sam = sse(h.relay.url(`/sse?channel=${CH}`), {
    headers: { cookie: 'user=sam' },
    events: ['herald.join', 'herald.leave'],
  });
  await opened(sam);

  const ana1 = await h.client('ana');
  await join(ana1);
  const ana2 = await h.client('ana');
  await join(ana2);
  const bob = await h.client('bob');
  await join(bob);
  const s1 = await pubOk(h.pub, 'all', CH, 'after the joins');
  const seen1 = (await olga.until((j) => j.type === 'message' && j.id === s1.id)).map((m) => m.json);
  assert.deepEqual(
    seen1.filter(isPresence).filter((j) => j.user !== 'olga'),
    [
      { type: 'join', channel: CH, user: 'sam', info: info('sam') },
      { type: 'join', channel: CH, user: 'ana', info: info('ana') },
      { type: 'join', channel: CH, user: 'bob', info: info('bob') },
    ],
    'one join per user, not per tab',
  );
  // ana's and bob's joins, once each.
  let [samEvents, samPos] = await sseUntil(sam, 0, (e) => e.data === 'after the joins', 'SSE sentinel 1');
  assert.deepEqual(
    presenceData(samEvents),
    [
      ['herald.join', { channel: CH, user: 'ana', info: info('ana') }],
      ['herald.join', { channel: CH, user: 'bob', info: info('bob') }],
    ],
  );

  // The members: users once each, sorted, with their info.
  const all = ['ana', 'bob', 'olga', 'sam'].map(member);
  ana1.send({ type: 'presence', channel: CH, ref: 'p1' });
  const [p1] = (await ana1.until((j) => j.type === 'presence')).slice(-1);
  assert.deepEqual(p1.json, { type: 'presence', channel: CH, ref: 'p1', members: all });
  // The same from PHP: in a hook, and in a CLI script.
  assert.deepEqual((await ask(bob, { do: 'presence', channel: CH })).data, all);
  const cli = await runPhp(`echo json_encode(herald_presence('${CH}'));`, {
    'herald.socket': h.relay.socket,
    'herald.secret': SECRET,
  }).done;
  assert.deepEqual(JSON.parse(cli.stdout), all, cli.stderr);
  // Errors: not a presence channel, not subscribed.
  ana1.send({ type: 'presence', channel: 'lobby', ref: 'p2' });
  const [p2] = (await ana1.until((j) => j.ref === 'p2')).slice(-1);
  assert.deepEqual([p2.json.type, p2.json.error], ['error', 'not a presence channel']);
  ana1.send({ type: 'presence', channel: 'presence-other', ref: 'p3' });
  const [p3] = (await ana1.until((j) => j.ref === 'p3')).slice(-1);
  assert.deepEqual([p3.json.type, p3.json.error], ['error', 'not subscribed']);

  // ana closes one of her two tabs: still a member, no leave (checked below).
  await ana2.close();
  // A reload: ana's last tab closes and a new page subscribes at once.
  const ana3 = await h.client('ana');
  await ana1.close();
  await join(ana3);
  // bob's tab is killed (no close frame): he leaves, once, after the delay.
  // ana's pending leave, had it not been cancelled, would have fired first.
  bob.ws.terminate();
  const seen2 = (await olga.until((j) => j.type === 'leave')).map((m) => m.json);
  assert.deepEqual(seen2.filter(isPresence), [{ type: 'leave', channel: CH, user: 'bob', info: info('bob') }]);
  [samEvents, samPos] = await sseUntil(sam, samPos, (e) => e.type === 'herald.leave', 'SSE leave');
  assert.deepEqual(presenceData(samEvents), [['herald.leave', { channel: CH, user: 'bob', info: info('bob') }]]);

  // ana's last tab closes for good: one leave.
  await ana3.close();
  const seen3 = (await olga.until((j) => j.type === 'leave')).map((m) => m.json);
  assert.deepEqual(seen3.filter(isPresence), [{ type: 'leave', channel: CH, user: 'ana', info: info('ana') }]);
  const s2 = await pubOk(h.pub, 'all', CH, 'the end');
  assert.deepEqual(
    (await olga.until((j) => j.id === s2.id)).map((m) => m.json.type),
    ['message'],
    'nothing between the leave and the sentinel',
  );
  olga.send({ type: 'presence', channel: CH, ref: 'p4' });
  const [p4] = (await olga.until((j) => j.type === 'presence')).slice(-1);
  assert.deepEqual(p4.json.members, ['olga', 'sam'].map(member));
  [samEvents] = await sseUntil(sam, samPos, (e) => e.data === 'the end', 'SSE sentinel 2');
  assert.deepEqual(presenceData(samEvents), [['herald.leave', { channel: CH, user: 'ana', info: info('ana') }]]);

  // Each tab's disconnect reached the hook (best effort, but here all).
  const disconnects = h.events().filter((e) => e.type === 'disconnect');
  assert.deepEqual(disconnects.map((e) => e.user).sort(), ['ana', 'ana', 'ana', 'bob']);
  sam.close();
  await h.stop();
});

test('presence on SSE: the response head first, then the subscriber\'s own join if any', async () => {
  const h = await startHooks({ flags: { app_events: 'connect', presence_leave_ms: 2000 } });
  const c = await RawClient.connect(h.relay.port);
  await c.write(httpRequestText(`/sse?channel=${CH}`, { Cookie: 'user=sam' }));
  await c.untilText('\r\n\r\n');
  const s = await pubOk(h.pub, 'sse', CH, 'sentinel');
  await c.untilText('data: sentinel\n\n');
  assert.match(c.text(), /^HTTP\/1\.1 200 OK\r\n/);
  const events = parseSse(parseResponse(c.text()).body).filter((b) => b.data !== undefined);
  assert.deepEqual(events.at(-1).id, s.id);
  for (const b of events.slice(0, -1)) {
    assert.deepEqual([b.event, JSON.parse(b.data)], ['herald.join', { channel: CH, user: 'sam', info: info('sam') }]);
  }
  c.destroy();
  await h.stop();
});
