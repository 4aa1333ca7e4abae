// Pusher webhooks (docs/PROTOCOL.md 4.10) from the real relay: to a Node
// HTTP server (pusher_webhook_url) and to PHP-FPM through the FastCGI pool
// (pusher_webhook_fastcgi), every body checked with the npm `pusher`
// client's webhook().isValid() (and in PHP with hash_hmac); channel
// occupied/vacated from herald.v1 subscribers, member added/removed from
// presence; a 5xx is retried with the same signed body, a 4xx is not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { Relay, waitFor } from './lib/harness.mjs';
import { heraldClient } from './lib/herald.mjs';
import { startHooks } from './lib/hooks.mjs';
import { SECRET, sign, now } from './lib/token.mjs';
import { APP, pusherFlags, pusherClient } from './lib/pusher_api.mjs';

const userToken = (sub) => sign({ alg: 'HS256', typ: 'JWT' }, { sub, channels: ['presence-*'], exp: now() + 3600 });

// An HTTP server that keeps each webhook and answers with the next status
// of `statuses` (200 once they are used up).
async function receiver(statuses = []) {
  const got = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.push({ method: req.method, url: req.url, headers: req.headers, rawBody: Buffer.concat(chunks).toString() });
      res.writeHead(statuses.length ? statuses.shift() : 200);
      res.end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const events = () => got.flatMap((g) => JSON.parse(g.rawBody).events);
  return {
    got,
    events,
    url: `http://127.0.0.1:${server.address().port}/hooks/pusher`,
    waitEvent: (pred, what) => waitFor(() => events().find(pred), what),
    close: () => new Promise((r) => server.close(r)),
  };
}

async function sub(relay, ch, user) {
  const c = await heraldClient(relay.wsUrl('/ws'));
  c.send(user ? { type: 'subscribe', channel: ch, token: userToken(user) } : { type: 'subscribe', channel: ch });
  await c.until((m) => m.type === 'subscribed' && m.channel === ch, `subscribed to ${ch}`);
  return c;
}

const is = (name, channel, extra = {}) => (e) =>
  e.name === name && e.channel === channel && Object.entries(extra).every(([k, v]) => e[k] === v);

test('webhooks to a URL: occupied, vacated, member added and removed, signed as Pusher signs', async () => {
  const rx = await receiver();
  const relay = await new Relay({
    flags: pusherFlags({ secret: SECRET, pusher_webhook_url: rx.url, presence_leave_ms: 0 }),
  }).start();
  const a = await sub(relay, 'room');
  const b = await sub(relay, 'room'); // a second subscriber: no second occupied
  const p = await sub(relay, 'presence-lobby', 'ana');
  await rx.waitEvent(is('member_added', 'presence-lobby', { user_id: 'ana' }), 'member_added');
  await rx.waitEvent(is('channel_occupied', 'room'), 'occupied room');
  await rx.waitEvent(is('channel_occupied', 'presence-lobby'), 'occupied lobby');
  await a.close();
  await p.close();
  await rx.waitEvent(is('member_removed', 'presence-lobby', { user_id: 'ana' }), 'member_removed');
  await rx.waitEvent(is('channel_vacated', 'presence-lobby'), 'vacated lobby');
  await b.close();
  await rx.waitEvent(is('channel_vacated', 'room'), 'vacated room');

  const names = rx.events().map((e) => `${e.name} ${e.channel}`);
  assert.equal(names.filter((n) => n === 'channel_occupied room').length, 1, names.join(', '));
  assert.equal(names.filter((n) => n === 'channel_vacated room').length, 1, names.join(', '));
  // Internal channels (a connection's, a user's) never show.
  assert.ok(names.every((n) => !n.includes('#')), names.join(', '));
  const pusher = pusherClient(relay.port);
  const other = pusherClient(relay.port, { secret: 'not-the-secret' });
  for (const g of rx.got) {
    assert.equal(g.method, 'POST');
    assert.equal(g.url, '/hooks/pusher');
    assert.equal(g.headers['x-pusher-key'], APP.key);
    const body = JSON.parse(g.rawBody);
    assert.equal(typeof body.time_ms, 'number');
    assert.ok(Math.abs(body.time_ms - Date.now()) < 3600e3);
    assert.ok(pusher.webhook({ headers: g.headers, rawBody: g.rawBody }).isValid(), g.rawBody);
    assert.ok(!other.webhook({ headers: g.headers, rawBody: g.rawBody }).isValid());
  }
  const m = await relay.metrics();
  assert.equal(m['herald_pusher_webhooks_total{result="ok"}'], rx.got.length);
  assert.equal(m['herald_pusher_webhook_events_total'], rx.events().length);
  await relay.stopClean();
  await rx.close();
});

test('webhooks: a 5xx is tried again with the same body; a 4xx is dropped', async () => {
  const rx = await receiver([503, 400]);
  const relay = await new Relay({
    flags: pusherFlags({ secret: SECRET, pusher_webhook_url: rx.url, pusher_webhook_events: 'channel_occupied' }),
  }).start();
  const a = await sub(relay, 'first');
  await waitFor(() => rx.got.length >= 2, 'the webhook tried twice');
  assert.equal(rx.got[0].rawBody, rx.got[1].rawBody);
  assert.equal(rx.got[0].headers['x-pusher-signature'], rx.got[1].headers['x-pusher-signature']);
  // The second try was refused (400): dropped; the next webhook is the sentinel's.
  const b = await sub(relay, 'sentinel');
  await rx.waitEvent(is('channel_occupied', 'sentinel'), 'sentinel');
  assert.equal(rx.got.length, 3);
  assert.deepEqual(
    rx.got.map((g) => JSON.parse(g.rawBody).events.map((e) => e.channel).join()),
    ['first', 'first', 'sentinel'],
  );
  const m = await relay.metrics();
  assert.equal(m['herald_pusher_webhooks_total{result="retried"}'], 1);
  assert.equal(m['herald_pusher_webhooks_total{result="refused"}'], 1);
  assert.equal(m['herald_pusher_webhooks_total{result="ok"}'], 1);
  await a.close();
  await b.close();
  await relay.stopClean();
  await rx.close();
});

test('webhooks through PHP-FPM: verified by PHP and by the npm client; a 500 is tried again', async () => {
  // The webhook script is the app's script (pusher_webhook_script empty);
  // no hook event is sent to it (app_events: message, and no message).
  const h = await startHooks({
    script: 'pusher_webhook.php',
    flags: pusherFlags({
      app_events: 'message',
      pusher_webhook_fastcgi: 1,
      pusher_webhook_events: 'channel_occupied,member_added',
    }),
  });
  const relay = h.relay;
  const log = path.join(h.dir, 'webhooks.log');
  const lines = () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);
  const events = () => lines().flatMap((l) => (l.valid ? JSON.parse(l.body).events : []));
  const c1 = await sub(relay, 'fail-500');
  await waitFor(() => events().find(is('channel_occupied', 'fail-500')) && lines().length >= 2, 'fail-500 tried twice');
  const c2 = await sub(relay, 'presence-x', 'zoe');
  await waitFor(() => events().find(is('member_added', 'presence-x', { user_id: 'zoe' })), 'member_added through FPM');
  const pusher = pusherClient(relay.port);
  for (const l of lines()) {
    assert.equal(l.valid, true);
    assert.equal(l.key, APP.key);
    assert.equal(l.uri, '/pusher/webhook');
    assert.equal(l.content_type, 'application/json');
    const headers = { 'x-pusher-key': l.key, 'x-pusher-signature': l.signature, 'content-type': l.content_type };
    assert.ok(pusher.webhook({ headers, rawBody: l.body }).isValid());
  }
  assert.equal(lines()[0].body, lines()[1].body);
  const m = await relay.metrics();
  assert.equal(m['herald_pusher_webhooks_total{result="retried"}'], 1);
  await c1.close();
  await c2.close();
  await h.stop();
});
