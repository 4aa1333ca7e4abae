// The Pusher WebSocket front (docs/PROTOCOL.md 4) with the real pusher-js
// and laravel-echo: connect, ping, public, private and presence channels
// (auth by a PHP endpoint in php-fpm), events published from PHP's side
// (ingest), client events, and the protocol's errors and close codes,
// which raw WebSocket clients (npm ws) read byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Publisher, Relay, rawWs, wsFrame, wsClient, waitFor } from './lib/harness.mjs';
import {
  KEY,
  PUSHER_FLAGS,
  startPusherRelay,
  startAuth,
  pusherClient,
  subscribed,
  record,
  echoClient,
  echoSubscribed,
  nextEvent,
} from './lib/pusher.mjs';

// A raw client of /app/{key}: every message parsed ({event, channel, data}
// with data parsed when it is a JSON string).
async function rawPusher(relay, p = `/app/${KEY}?protocol=7&client=js&version=8.6.0`) {
  const c = await wsClient(relay.wsUrl(p));
  c.msgs = () =>
    c.received.map((m) => {
      const o = JSON.parse(m.data);
      if (typeof o.data === 'string') {
        try {
          o.data = JSON.parse(o.data);
        } catch {
          /* text data stays text */
        }
      }
      return o;
    });
  c.until = (pred, what) => waitFor(() => c.msgs().find(pred), what);
  return c;
}

test('connect, ping, public channel: PHP publishes reach pusher-js with their event name', async () => {
  const relay = await startPusherRelay();
  const pub = await new Publisher(relay.socket).connect();
  const raw = await rawPusher(relay);
  const est = await raw.until((m) => m.event === 'pusher:connection_established', 'established');
  assert.match(est.data.socket_id, /^\d+\.\d+$/);
  assert.equal(est.data.activity_timeout, 120);
  assert.equal(typeof JSON.parse(raw.received[0].data).data, 'string', 'data is a JSON string');
  raw.send({ event: 'pusher:ping', data: {} });
  await raw.until((m) => m.event === 'pusher:pong', 'pong');

  const p = await pusherClient(relay);
  assert.match(p.connection.socket_id, /\./);
  const { ch } = await subscribed(p, 'news');
  const rec = record(ch);
  await pub.pubAck('all', 'news', JSON.stringify({ title: 'hello' }), { event: 'App\\Events\\Posted', json: true });
  await pub.pubAck('all', 'news', 'plain text');
  await pub.pubAck('ws', 'news', Buffer.from([0, 1, 2, 250]), { binary: true });
  await pub.pubAck('sse', 'news', 'for sse', { event: 'named' });
  const posted = await rec.until((e) => e.event === 'App\\Events\\Posted', 'json event');
  assert.deepEqual(posted.data, { title: 'hello' });
  await rec.until((e) => e.event === 'named', 'sse event');
  const msgs = rec.got.filter((e) => e.event === 'message').map((e) => e.data);
  assert.deepEqual(msgs, ['plain text', Buffer.from([0, 1, 2, 250]).toString('base64')]);
  p.disconnect();
  raw.ws.close();
  await relay.stopClean();
});

test('laravel-echo: listen(".event") on a public and a private channel, auth by PHP', async () => {
  const relay = await startPusherRelay();
  const auth = await startAuth();
  const pub = await new Publisher(relay.socket).connect();
  const echo = await echoClient(relay, auth, 'alice');
  const got = [];
  const pubCh = echo.channel('orders').listen('.order.shipped', (e) => got.push(['orders', e]));
  const privCh = echo.private('account.7').listen('.balance', (e) => got.push(['private', e]));
  await echoSubscribed(pubCh, privCh);
  await pub.pubAck('all', 'orders', JSON.stringify({ id: 1 }), { event: 'order.shipped', json: true });
  await pub.pubAck('all', 'private-account.7', JSON.stringify({ cents: 5 }), { event: 'balance', json: true });
  await waitFor(() => got.length === 2, 'both events');
  assert.deepEqual(got, [
    ['orders', { id: 1 }],
    ['private', { cents: 5 }],
  ]);
  echo.disconnect();
  await relay.stopClean();
});

test('private channels: no auth, a wrong signature, a refused user get subscription_error; Echo .error() hears it', async () => {
  const relay = await startPusherRelay();
  const auth = await startAuth();
  const raw = await rawPusher(relay);
  const est = await raw.until((m) => m.event === 'pusher:connection_established');
  raw.send({ event: 'pusher:subscribe', data: { channel: 'private-x' } });
  let e = await raw.until((m) => m.event === 'pusher:subscription_error', 'error without auth');
  assert.equal(e.channel, 'private-x');
  assert.equal(e.data.type, 'AuthError');
  assert.equal(e.data.status, 401);
  // Signed for another socket id.
  const other = JSON.parse((await auth.request('alice', '1.2', 'private-y')).body);
  raw.send({ event: 'pusher:subscribe', data: { channel: 'private-y', auth: other.auth } });
  e = await raw.until((m) => m.event === 'pusher:subscription_error' && m.channel === 'private-y');
  assert.match(e.data.error, /Invalid signature/);
  // Signed right: the same connection goes on.
  const good = JSON.parse((await auth.request('alice', est.data.socket_id, 'private-y')).body);
  raw.send({ event: 'pusher:subscribe', data: { channel: 'private-y', auth: good.auth } });
  await raw.until((m) => m.event === 'pusher_internal:subscription_succeeded' && m.channel === 'private-y');

  // Echo with a wrong secret in the endpoint: .error() is called.
  const echo = await echoClient(relay, { authorization: (u) => auth.authorization(u, { secret: 'nope' }) }, 'bob');
  const err = await new Promise((resolve) => echo.private('orders.1').error(resolve));
  assert.equal(err.type, 'AuthError');
  assert.equal(err.status, 401);
  raw.ws.close();
  echo.disconnect();
  await relay.stopClean();
});

test('presence: here / joining / leaving with Echo, member lists with ids and info', async () => {
  const relay = await startPusherRelay({ presence_leave_ms: 0 });
  const auth = await startAuth();
  const a = await echoClient(relay, auth, '1');
  const events = [];
  let here;
  const hereP = new Promise((resolve) => {
    a.join('chat.5')
      .here((m) => resolve((here = m)))
      .joining((m) => events.push(['joining', m]))
      .leaving((m) => events.push(['leaving', m]));
  });
  await hereP;
  assert.deepEqual(here, [{ name: '1' }]);
  const b = await echoClient(relay, auth, 'bob');
  const hereB = await new Promise((resolve) => b.join('chat.5').here(resolve));
  assert.deepEqual(
    hereB.map((m) => m.name).sort(),
    ['1', 'Bob'],
  );
  await waitFor(() => events.length === 1, 'joining');
  assert.deepEqual(events[0], ['joining', { name: 'Bob' }]);
  // Members as pusher-js keeps them: ids and info.
  const members = a.connector.pusher.channel('presence-chat.5').members;
  assert.equal(members.count, 2);
  assert.deepEqual(members.get('bob').info, { name: 'Bob' });
  assert.equal(String(members.me.id), '1'); // as the app's channel_data had it: 1
  b.disconnect();
  await waitFor(() => events.length === 2, 'leaving');
  assert.deepEqual(events[1], ['leaving', { name: 'Bob' }]);
  a.disconnect();
  await relay.stopClean();
});

test('client events (whispers): to the others on the channel, never back, not on public channels', async () => {
  const relay = await startPusherRelay();
  const auth = await startAuth();
  const a = await echoClient(relay, auth, 'alice');
  const b = await echoClient(relay, auth, 'bob');
  const gotA = [];
  const gotB = [];
  const chA = a.private('room.1').listenForWhisper('typing', (e) => gotA.push(e));
  const chB = b.private('room.1').listenForWhisper('typing', (e) => gotB.push(e));
  await echoSubscribed(chA, chB);
  chA.whisper('typing', { who: 'alice' });
  await waitFor(() => gotB.length === 1, 'whisper at bob');
  assert.deepEqual(gotB[0], { who: 'alice' });
  // A sentinel from bob proves alice's own whisper did not come back.
  chB.whisper('typing', { who: 'bob' });
  await waitFor(() => gotA.length === 1, 'whisper at alice');
  assert.deepEqual(gotA, [{ who: 'bob' }]);
  assert.equal(gotB.length, 1);

  // On a public channel: pusher:error, code null.
  const raw = await rawPusher(relay);
  await raw.until((m) => m.event === 'pusher:connection_established');
  raw.send({ event: 'pusher:subscribe', data: { channel: 'lobby' } });
  await raw.until((m) => m.event === 'pusher_internal:subscription_succeeded');
  raw.send({ event: 'client-x', channel: 'lobby', data: {} });
  const e = await raw.until((m) => m.event === 'pusher:error', 'error');
  assert.equal(e.data.code, null);
  assert.match(e.data.message, /private and presence/);
  raw.send({ event: 'client-x', channel: 'private-not-mine', data: {} });
  await waitFor(() => raw.msgs().filter((m) => m.event === 'pusher:error').length === 2, 'second error');
  assert.match(raw.msgs().filter((m) => m.event === 'pusher:error')[1].data.message, /not subscribed/);
  raw.ws.close();
  a.disconnect();
  b.disconnect();
  await relay.stopClean();
});

// On a presence channel a client event names its sender: pusher-js hands
// the receiver {user_id} as the callback's metadata (Pusher's protocol).
test('client events on a presence channel carry the sender\'s user_id', async () => {
  const relay = await startPusherRelay();
  const auth = await startAuth();
  const a = await echoClient(relay, auth, 'alice');
  const b = await echoClient(relay, auth, 'bob');
  await new Promise((resolve) => a.join('chat.7').here(resolve));
  await new Promise((resolve) => b.join('chat.7').here(resolve));
  const got = [];
  b.connector.pusher.channel('presence-chat.7').bind('client-typing', (data, meta) => got.push([data, meta]));
  a.connector.pusher.channel('presence-chat.7').trigger('client-typing', { on: true });
  await waitFor(() => got.length === 1, 'the whisper at bob');
  assert.deepEqual(got[0], [{ on: true }, { user_id: 'alice' }]);
  a.disconnect();
  b.disconnect();
  await relay.stopClean();
});

test('bad input: not JSON, no event, unknown pusher event, binary: pusher:error and the connection stays', async () => {
  const relay = await startPusherRelay();
  const pub = await new Publisher(relay.socket).connect();
  const raw = await rawPusher(relay);
  await raw.until((m) => m.event === 'pusher:connection_established');
  raw.ws.send('not json');
  raw.ws.send('[1,2]');
  raw.send({ data: {} });
  raw.send({ event: 'pusher:nope', data: {} });
  raw.send({ event: 'whatever', data: {} });
  raw.ws.send(Buffer.from([1, 2, 3]));
  raw.send({ event: 'pusher:subscribe', data: { channel: 'bad channel!' } });
  raw.send({ event: 'pusher:unsubscribe', data: { channel: 'never-subscribed' } });
  raw.send({ event: 'pusher:subscribe', data: { channel: 'ok' } });
  await raw.until((m) => m.event === 'pusher_internal:subscription_succeeded' && m.channel === 'ok');
  const errors = raw.msgs().filter((m) => m.event === 'pusher:error');
  assert.equal(errors.length, 6);
  for (const e of errors) assert.equal(e.data.code, null);
  const subErr = raw.msgs().find((m) => m.event === 'pusher:subscription_error');
  assert.equal(subErr.channel, 'bad channel!');
  await pub.pubAck('all', 'ok', 'still here');
  await raw.until((m) => m.event === 'message' && m.data === 'still here');
  const m = await relay.metrics();
  assert.equal(m['herald_pusher_errors_total{code="null"}'], 6);
  raw.ws.close();
  await relay.stopClean();
});

test('wrong key: 4001; no protocol: 4008; protocol 4: 4007 (error, then close)', async () => {
  const relay = await startPusherRelay();
  for (const [p, code] of [
    ['/app/wrong?protocol=7', 4001],
    [`/app/${KEY}`, 4008],
    [`/app/${KEY}?protocol=4`, 4007],
  ]) {
    const raw = await rawPusher(relay, p);
    const closed = await raw.closed;
    assert.equal(closed.code, code, p);
    const msgs = raw.msgs();
    assert.equal(msgs.length, 1);
    assert.equal(msgs[0].event, 'pusher:error');
    assert.equal(msgs[0].data.code, code);
  }
  // pusher-js with a wrong key: refused, no reconnection.
  const { default: Pusher } = await import('pusher-js');
  const p = new Pusher('wrong', { cluster: 'mt1', wsHost: '127.0.0.1', wsPort: relay.port, forceTLS: false, enabledTransports: ['ws'] });
  const [err] = await nextEvent(p.connection, 'error');
  assert.equal(err.error.data.code, 4001);
  p.disconnect();
  await relay.stopClean();
});

test('client event rate limit: 4301 past pusher_client_events_per_sec, the event dropped', async () => {
  const relay = await startPusherRelay({ pusher_client_events_per_sec: 2 });
  const auth = await startAuth();
  const pub = await new Publisher(relay.socket).connect();
  const a = await pusherClient(relay, { auth, user: 'alice' });
  const b = await pusherClient(relay, { auth, user: 'bob' });
  const { ch: chA } = await subscribed(a, 'private-r');
  const { ch: chB } = await subscribed(b, 'private-r');
  const recB = record(chB);
  const errs = [];
  a.connection.bind('error', (e) => errs.push(e));
  for (let i = 0; i < 5; i++) chA.trigger('client-n', { i });
  // Three refused: all five were read.
  await waitFor(() => errs.length === 3, 'rate errors');
  for (const e of errs) assert.equal(e.data.code, 4301);
  // A sentinel published after them proves what reached b.
  await pub.pubAck('all', 'private-r', 'sentinel', { event: 'sentinel' });
  await recB.until((e) => e.event === 'sentinel');
  assert.deepEqual(
    recB.got.filter((e) => e.event === 'client-n').map((e) => e.data),
    [{ i: 0 }, { i: 1 }],
  );
  assert.equal((await relay.metrics())['herald_pusher_errors_total{code="4301"}'], 3);
  a.disconnect();
  b.disconnect();
  await relay.stopClean();
});

test('toOthers: a PHP publish with except (the X-Socket-ID) skips that socket only', async () => {
  const relay = await startPusherRelay();
  const pub = await new Publisher(relay.socket).connect();
  const a = await pusherClient(relay);
  const b = await pusherClient(relay);
  const recA = record((await subscribed(a, 'feed;v=1,x')).ch);
  const recB = record((await subscribed(b, 'feed;v=1,x')).ch);
  await pub.pubAck('all', 'feed;v=1,x', '{"n":1}', { event: 'posted', json: true, except: a.connection.socket_id });
  await pub.pubAck('all', 'feed;v=1,x', 'sentinel', { event: 'sentinel' });
  await recA.until((e) => e.event === 'sentinel');
  await recB.until((e) => e.event === 'sentinel');
  assert.equal(recA.got.filter((e) => e.event === 'posted').length, 0);
  assert.deepEqual(recB.got.filter((e) => e.event === 'posted').map((e) => e.data), [{ n: 1 }]);
  a.disconnect();
  b.disconnect();
  await relay.stopClean();
});

test('relay stopped (4200) and killed under Echo: it reconnects, subscribes again, and hears PHP', async () => {
  let relay = await startPusherRelay();
  const port = relay.port;
  const socket = relay.socket;
  const auth = await startAuth();
  const echo = await echoClient(relay, auth, 'alice');
  const got = [];
  const ch = echo.private('orders.9').listen('.shipped', (e) => got.push(e));
  await echoSubscribed(ch);
  const conn = echo.connector.pusher.connection;
  // A clean stop: close 4200, "reconnect now".
  const raw = await wsClient(relay.wsUrl(`/app/${KEY}?protocol=7`));
  const stopped = relay.stop('SIGTERM');
  assert.equal((await raw.closed).code, 4200);
  await stopped;
  // Started again: Echo comes back; then killed, and started again.
  for (const round of [1, 2]) {
    await waitFor(() => conn.state !== 'connected', 'Echo saw the relay go');
    relay = new Relay({ port, socket, flags: { ...PUSHER_FLAGS } });
    await relay.start();
    await waitFor(() => conn.state === 'connected' && ch.subscription.subscribed, 'Echo back');
    const pub = await new Publisher(relay.socket).connect();
    await pub.pubAck('all', 'private-orders.9', '{"id":9}', { event: 'shipped', json: true });
    await waitFor(() => got.length === round, 'event after reconnect');
    pub.close();
    if (round === 1) await relay.stop('SIGKILL');
  }
  assert.deepEqual(got, [{ id: 9 }, { id: 9 }]);
  echo.disconnect();
  await relay.stopClean();
});

test('a frame flood past ws_max_messages_per_sec closes 4100 (pusher-js backs off); others undisturbed', async () => {
  const relay = await startPusherRelay({ ws_max_messages_per_sec: 5 });
  const pub = await new Publisher(relay.socket).connect();
  const calm = await rawPusher(relay);
  calm.send({ event: 'pusher:subscribe', data: { channel: 'c' } });
  await calm.until((m) => m.event === 'pusher_internal:subscription_succeeded');
  // 20 pings in one write (bytes on the wire: the close frame is read
  // before anything the client could send after it).
  const flood = await rawWs(relay.port, `/app/${KEY}?protocol=7`);
  const ping = JSON.stringify({ event: 'pusher:ping', data: {} });
  await flood.write(Buffer.concat(Array.from({ length: 20 }, () => wsFrame(1, Buffer.from(ping)))));
  const close = await flood.waitClose();
  assert.equal(close.code, 4100);
  assert.equal(close.reason, 'message rate exceeded');
  await pub.pubAck('all', 'c', 'fine');
  await calm.until((m) => m.event === 'message' && m.data === 'fine');
  calm.ws.close();
  await relay.stopClean();
});

test('server ping after pusher_activity_timeout of silence; a pong keeps the connection, none closes it with 4201', async () => {
  const relay = await startPusherRelay({ pusher_activity_timeout: 10, pusher_pong_timeout: 1 });
  const raw = await rawPusher(relay);
  const mute = await rawPusher(relay);
  const closed = new Promise((resolve) => mute.ws.once('close', (code, reason) => resolve([code, String(reason)])));
  const est = await raw.until((m) => m.event === 'pusher:connection_established');
  await mute.until((m) => m.event === 'pusher:connection_established');
  assert.equal(est.data.activity_timeout, 10);
  await raw.until((m) => m.event === 'pusher:ping', 'server ping');
  raw.send({ event: 'pusher:pong', data: {} });
  // The one that does not answer its ping is closed, as Pusher does.
  await mute.until((m) => m.event === 'pusher:ping', 'server ping (mute)');
  assert.deepEqual(await closed, [4201, 'Pong reply not received']);
  raw.send({ event: 'pusher:ping', data: {} });
  await raw.until((m) => m.event === 'pusher:pong', 'still served');
  assert.equal((await relay.metrics())['herald_pusher_errors_total{code="4201"}'], 1);
  raw.ws.close();
  await relay.stopClean();
});
