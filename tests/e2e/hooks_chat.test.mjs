// Application hooks end to end (Contract 5), the common path: a chat room
// through a real php-fpm pool (hooks/chat.php, the docs' example), the
// application refusing a connect and a subscribe, SSE authenticated by the
// application's session cookie alone, and the disconnect event. Real relay,
// real php-fpm, npm ws herald.v1 clients; "nothing else arrived" is proven
// by a sentinel published after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rawWs, sse, pubOk, waitFor } from './lib/harness.mjs';
import { startHooks, ask, sendRef, answer, status, sum } from './lib/hooks.mjs';

const subscribed = (c, ch) => c.until((j) => j.type === 'subscribed' && j.channel === ch, `subscribed to ${ch}`);

test('chat: two users in a presence room; a send is published by the hook to both, the sender gets the reply', async () => {
  const h = await startHooks({ script: 'chat.php', flags: { app_events: 'connect,message' } });
  const ana = await h.client('ana');
  const bob = await h.client('bob');
  ana.send({ type: 'subscribe', channel: 'presence-room' });
  await subscribed(ana, 'presence-room');
  bob.send({ type: 'subscribe', channel: 'presence-room' });
  await subscribed(bob, 'presence-room');

  const ref = sendRef(ana, 'hello bob', { channel: 'presence-room' });
  const isChat = (j) => j.type === 'message' && j.channel === 'presence-room';
  const [fromAna] = (await ana.until(isChat, 'the chat message')).slice(-1);
  const [atBob] = (await bob.until(isChat, 'the chat message')).slice(-1);
  assert.deepEqual(fromAna.json.data, { from: 'ana', text: 'hello bob' });
  assert.equal(atBob.text, fromAna.text, 'one message, same id, to both');
  // The reply, with the ref of the send, to the sender only.
  assert.deepEqual(await answer(ana, ref), { type: 'reply', ref, data: 'sent' });

  // And back: bob answers, ana reads it.
  assert.equal((await ask(bob, 'hi ana', { channel: 'presence-room' })).data, 'sent');
  const [back] = (await ana.until((j) => isChat(j) && j.data.from === 'bob', 'bob in the room')).slice(-1);
  assert.deepEqual(back.json.data, { from: 'bob', text: 'hi ana' });
  assert.ok(!bob.msgs.some((m) => m.json.type === 'reply' && m.json.ref === ref), 'no reply to the other side');

  const m = await h.metrics();
  assert.equal(m['herald_hook_events_total{type="connect"}'], 2);
  assert.equal(m['herald_hook_events_total{type="subscribe"}'], 2, 'presence subscribes go to the app');
  assert.equal(m['herald_hook_events_total{type="message"}'], 2);
  assert.equal(sum(m, 'herald_hook_requests_total', /result="(?!ok)/), 0, 'no failed request');
  await h.stop();
});

test('the application refuses a connect (WebSocket and SSE 403), a subscribe (error with channel and ref), a message, and closes a connection', async () => {
  const h = await startHooks({ flags: { app_events: 'connect,message', app_channels: 'private-' } });
  const { relay } = h;
  // Connect refused: 403 at the handshake, not a 101 then a close.
  const ws = await rawWs(relay.port, '/ws', { 'Sec-WebSocket-Protocol': 'herald.v1', Cookie: 'user=blocked' });
  assert.equal(ws.response.status, 403);
  ws.destroy();
  const raw = await rawWs(relay.port, '/ws?channel=news', { Cookie: 'user=blocked' });
  assert.equal(raw.response.status, 403, 'raw WebSocket too');
  raw.destroy();
  assert.equal(await status(relay.port, '/sse?channel=news', { cookie: 'user=blocked' }), 403);
  // A user name the relay cannot take (outside the channel alphabet): refused too.
  const bad = await rawWs(relay.port, '/ws', { 'Sec-WebSocket-Protocol': 'herald.v1', Cookie: 'user=baduser' });
  assert.equal(bad.response.status, 403);
  bad.destroy();
  assert.equal((await h.metrics())['herald_hook_failures_total{reason="bad_user"}'], 1);

  const ana = await h.client('ana');
  ana.send({ type: 'subscribe', channel: 'private-ok', ref: 's1' });
  await subscribed(ana, 'private-ok');
  ana.send({ type: 'subscribe', channel: 'private-forbidden', ref: 's2' });
  const [refused] = (await ana.until((j) => j.type === 'error', 'the refusal')).slice(-1);
  assert.deepEqual(refused.json, { type: 'error', channel: 'private-forbidden', ref: 's2', error: 'not for you' });
  // A channel outside app_channels needs no approval (no subscribe event).
  ana.send({ type: 'subscribe', channel: 'public' });
  await subscribed(ana, 'public');
  // Anonymous (no cookie): the app refuses its private channel.
  const anon = await h.client(null);
  anon.send({ type: 'subscribe', channel: 'private-ok', ref: 7 });
  const [login] = await anon.take(1);
  assert.deepEqual(login.json, { type: 'error', channel: 'private-ok', ref: 7, error: 'login required' });

  // The refused channel gets nothing; the others go on (sentinel after).
  await pubOk(h.pub, 'all', 'private-forbidden', 'must not arrive');
  const ok = await pubOk(h.pub, 'all', 'private-ok', 'still subscribed');
  const got = await ana.until((j) => j.type === 'message');
  assert.deepEqual(
    got.map((m) => m.json),
    [{ type: 'message', channel: 'private-ok', id: ok.id, data: 'still subscribed' }],
  );
  const subs = h.events().filter((e) => e.type === 'subscribe');
  assert.deepEqual(
    subs.map((e) => [e.channel, e.user]),
    [
      ['private-ok', 'ana'],
      ['private-forbidden', 'ana'],
      ['private-ok', null],
    ],
  );

  // A message refused by the app: an error envelope with its ref.
  const denied = await ask(ana, { do: 'deny' });
  assert.equal(denied.type, 'error');
  assert.equal(denied.error, 'denied by the application');
  // close: true: the reply, then the close 4000.
  const bye = await ask(anon, { do: 'close' });
  assert.equal(bye.data, 'bye');
  assert.deepEqual(await anon.closed, { code: 4000, reason: 'closed by the application' });
  // ana undisturbed.
  assert.equal((await ask(ana, 'still there')).data.echo, 'still there');

  const m = await h.metrics();
  assert.equal(m['herald_hook_events_total{type="connect"}'], 6);
  assert.equal(m['herald_hook_events_total{type="subscribe"}'], 3);
  await h.stop();
});

test('SSE authenticated by the application: the session cookie alone opens a private channel', async () => {
  const h = await startHooks({ flags: { app_events: 'connect,message', app_channels: 'private-' } });
  const { relay } = h;
  const es = sse(relay.url('/sse?channel=private-x'), { headers: { cookie: 'user=ana' } });
  await es.opened;
  const a = await pubOk(h.pub, 'sse', 'private-x', 'for ana');
  const [ev] = await es.waitCount(1);
  assert.deepEqual(ev, { type: 'message', data: 'for ana', id: a.id });
  // Without the cookie: the subscribe is refused (no token either).
  assert.equal(await status(relay.port, '/sse?channel=private-x'), 403);
  // A public channel needs neither.
  assert.equal(await status(relay.port, '/sse?channel=news'), 200);

  const connects = h.events().filter((e) => e.type === 'connect');
  assert.equal(connects[0].transport, 'sse');
  assert.equal(connects[0].headers.cookie, 'user=ana');
  assert.equal(connects[0].ip, '127.0.0.1');
  assert.match(connects[0].conn, /^\d+\.\d+$/);
  const sub = h.events().find((e) => e.type === 'subscribe');
  assert.deepEqual([sub.channel, sub.user, sub.conn], ['private-x', 'ana', connects[0].conn]);
  es.close();
  await h.stop();
});

test('disconnect reaches the hook (WebSocket and SSE), with the connection id and user', async () => {
  const h = await startHooks({ flags: { app_events: 'connect,message,disconnect' } });
  const ana = await h.client('ana');
  const { conn } = (await ask(ana, 'who')).data;
  await ana.close();
  const d = await h.waitEvent((e) => e.type === 'disconnect' && e.conn === conn, 'the WebSocket disconnect');
  assert.equal(d.user, 'ana');

  const es = sse(h.relay.url('/sse?channel=news'), { headers: { cookie: 'user=bob' } });
  await es.opened;
  const c = await h.waitEvent((e) => e.type === 'connect' && e.transport === 'sse', 'the SSE connect');
  es.close();
  const d2 = await h.waitEvent((e) => e.type === 'disconnect' && e.conn === c.conn, 'the SSE disconnect');
  assert.equal(d2.user, 'bob');
  await waitFor(async () => (await h.metrics())['herald_hook_events_total{type="disconnect"}'] === 2, 'disconnects counted');
  await h.stop();
});
