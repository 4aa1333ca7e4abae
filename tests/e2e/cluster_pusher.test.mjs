// The Pusher front in cluster mode: two relays through a real
// redis-server, laravel-echo/pusher-js clients on both, the PHP auth
// endpoint in php-fpm. Presence lists (here) hold the members of every
// relay, joining/leaving cross relays, events published on one relay and
// client events (whispers) sent on one reach the other relay's clients,
// never their sender. "Nothing more arrived" is proven by a sentinel
// published after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from './lib/harness.mjs';
import { cluster } from './lib/cluster.mjs';
import { PUSHER_FLAGS, startAuth, echoClient, echoSubscribed } from './lib/pusher.mjs';

const flags = { ...PUSHER_FLAGS, presence_leave_ms: 0, presence_ttl_ms: 6000 };

function join(echo, name) {
  const ev = [];
  let here = null;
  const ch = echo
    .join(name)
    .here((m) => (here = m))
    .joining((m) => ev.push(['joining', m.name]))
    .leaving((m) => ev.push(['leaving', m.name]));
  return { ch, ev, here: () => here };
}

test('cluster: presence across two relays, events and whispers cross relays, not back to their sender', async () => {
  const { relays, pubs, stop } = await cluster(2, { flags });
  const [A, B] = relays;
  const auth = await startAuth();
  const ann = await echoClient(A, auth, 'ann');
  const bob = await echoClient(B, auth, 'bob');
  const a = join(ann, 'room.1');
  await waitFor(() => a.here(), 'ann here');
  assert.deepEqual(a.here().map((m) => m.name), ['Ann']);
  const b = join(bob, 'room.1');
  await waitFor(() => b.here(), 'bob here');
  // bob, on relay B, sees ann of relay A, and himself.
  assert.deepEqual(b.here().map((m) => m.name).sort(), ['Ann', 'Bob']);
  await waitFor(() => a.ev.length === 1, 'ann sees bob join');
  assert.deepEqual(a.ev, [['joining', 'Bob']]);

  // PHP on relay A publishes; both hear it.
  const got = { ann: [], bob: [] };
  a.ch.listen('.moved', (e) => got.ann.push(e));
  b.ch.listen('.moved', (e) => got.bob.push(e));
  await pubs[0].pubAck('all', 'presence-room.1', '{"x":1}', { event: 'moved', json: true });
  await waitFor(() => got.ann.length === 1 && got.bob.length === 1, 'event on both relays');

  // A whisper from ann (relay A) reaches bob (relay B), not ann.
  const wh = { ann: [], bob: [] };
  const meta = [];
  a.ch.listenForWhisper('typing', (e) => wh.ann.push(e));
  b.ch.listenForWhisper('typing', (e) => wh.bob.push(e));
  bob.connector.pusher.channel('presence-room.1').bind('client-typing', (d, m) => meta.push(m));
  a.ch.whisper('typing', { from: 'ann' });
  await waitFor(() => wh.bob.length === 1 && meta.length === 1, 'whisper across relays');
  assert.deepEqual(wh.bob, [{ from: 'ann' }]);
  assert.deepEqual(meta, [{ user_id: 'ann' }], 'its sender, carried through Redis');
  await pubs[1].pubAck('all', 'presence-room.1', '{"x":2}', { event: 'moved', json: true });
  await waitFor(() => got.ann.length === 2, 'sentinel at ann');
  assert.equal(wh.ann.length, 0);

  // A third member on relay B, then bob leaves: ann (relay A) sees both.
  const cyd = await echoClient(B, auth, 'cyd');
  const c = join(cyd, 'room.1');
  await waitFor(() => c.here(), 'cyd here');
  assert.deepEqual(c.here().map((m) => m.name).sort(), ['Ann', 'Bob', 'Cyd']);
  bob.disconnect();
  await waitFor(() => a.ev.length === 3, 'ann sees cyd join and bob leave');
  assert.deepEqual(a.ev.slice(1), [
    ['joining', 'Cyd'],
    ['leaving', 'Bob'],
  ]);
  ann.disconnect();
  cyd.disconnect();
  await stop();
});

test('cluster: private channel on both relays; a subscription made on B hears what A publishes at once', async () => {
  const { relays, pubs, stop } = await cluster(2, { flags });
  const auth = await startAuth();
  for (let i = 0; i < 3; i++) {
    const e = await echoClient(relays[1], auth, 'dan');
    const got = [];
    const ch = e.private(`orders.${i}`).listen('.paid', (x) => got.push(x));
    await echoSubscribed(ch);
    await pubs[0].pubAck('all', `private-orders.${i}`, `{"i":${i}}`, { event: 'paid', json: true });
    await waitFor(() => got.length === 1, `event ${i}`);
    assert.deepEqual(got, [{ i }]);
    e.disconnect();
  }
  await stop();
});
