// The Laravel broadcaster (packages/herald-laravel) on Debian's
// php-laravel-framework (8.83), end to end: PHP scripts in tests/e2e/laravel
// build a Laravel container with the `herald` driver and broadcast events
// as an application does (event(...), broadcast(...)->toOthers()) to a real
// relay; herald.v1 and SSE subscribers receive them with Laravel's event
// name and payload, once per channel; toOthers() skips the connection named
// by X-Socket-ID; Broadcast::auth() answers what Pusher's library would
// (checked here with the same HMAC formula); private-encrypted channels
// carry a secretbox that tweetnacl (what pusher-js uses) opens with the
// shared secret of the auth answer. "Nothing arrived" is proven by a
// sentinel broadcast after.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import nacl from 'tweetnacl';
import { Relay, rawSse, waitFor, ROOT, RELAY_BIN } from './lib/harness.mjs';
import { heraldClient } from './lib/herald.mjs';
import { SECRET, sign, now } from './lib/token.mjs';
import { startHooks, ask } from './lib/hooks.mjs';
import { EXT, PHP } from './lib/php.mjs';
import { LaravelPhp, startAuthFpm, KEY, APP_SECRET, MASTER_KEY } from './laravel/lib.mjs';

// A subscription token for herald.v1 (private and presence channels), with
// the user for presence.
const tokenFor = (channels, sub) =>
  sign({ alg: 'HS256', typ: 'JWT' }, { channels, exp: now() + 3600, ...(sub ? { sub } : {}) });

async function subscribe(c, channel, token) {
  c.send({ type: 'subscribe', channel, ...(token ? { token } : {}) });
  const got = await c.until((j) => (j.type === 'subscribed' || j.type === 'error') && j.channel === channel);
  assert.equal(got.at(-1).json.type, 'subscribed', JSON.stringify(got.at(-1).json));
}

// The messages (type message) c received on channel, once the sentinel
// event came on it (from everything c received: channels interleave).
async function messagesUntil(c, channel, sentinel = 'sentinel') {
  const on = (m) => m.json?.type === 'message' && m.json.channel === channel;
  await waitFor(() => c.msgs.some((m) => on(m) && m.json.event === sentinel), `${sentinel} on ${channel}`);
  return c.msgs.filter(on).map((m) => m.json);
}

const hmac = (msg) => createHmac('sha256', APP_SECRET).update(msg).digest('hex');

test('broadcast() reaches herald.v1 and SSE subscribers on public, private and presence channels, with Laravel\'s event name and payload, once per channel', async () => {
  const relay = await new Relay({ flags: { secret: SECRET } }).start();
  const php = new LaravelPhp('broadcast.php', relay.socket);
  const h = await heraldClient(relay.wsUrl('/ws'));
  await subscribe(h, 'orders');
  await subscribe(h, 'private-orders.7', tokenFor(['private-orders.7']));
  await subscribe(h, 'presence-room.lobby', tokenFor(['presence-room.lobby'], '7'));
  const sse = await rawSse(relay.port, '/sse?channel=orders', {});

  const all = ['public:orders', 'private:orders.7', 'presence:room.lobby'];
  const order = { id: 7, url: 'https://shop.test/o/7', name: 'Zoë', lines: [{ sku: 'a', qty: 2 }], paid: true, note: null };
  // Laravel's defaults: the public properties are the payload, the class the event name.
  await php.broadcast({ event: 'OrderShipped', order, on: all });
  // broadcastAs() and broadcastWith().
  await php.broadcast({ event: 'Notice', as: 'order.notice', with: { text: 'on its way' }, on: ['public:orders'] });
  await php.broadcast({ event: 'Notice', as: 'empty', with: [], on: ['private:orders.7'] });
  await php.broadcast({ event: 'Notice', as: 'sentinel', with: { n: 1 }, on: all });

  const ev = (j) => [j.event, j.data];
  assert.deepEqual((await messagesUntil(h, 'orders')).map(ev), [
    ['App\\Events\\OrderShipped', { order }],
    ['order.notice', { text: 'on its way' }],
    ['sentinel', { n: 1 }],
  ]);
  assert.deepEqual((await messagesUntil(h, 'private-orders.7')).map(ev), [
    ['App\\Events\\OrderShipped', { order }],
    ['empty', []],
    ['sentinel', { n: 1 }],
  ]);
  assert.deepEqual((await messagesUntil(h, 'presence-room.lobby')).map(ev), [
    ['App\\Events\\OrderShipped', { order }],
    ['sentinel', { n: 1 }],
  ]);

  // SSE: the event name, and the payload as JSON text.
  await sse.until(() => sse.events().some((e) => e.event === 'sentinel'), 'the sentinel on SSE');
  const named = sse.events().filter((e) => e.event);
  assert.deepEqual(
    named.map((e) => [e.event, JSON.parse(e.data)]),
    [
      ['App\\Events\\OrderShipped', { order }],
      ['order.notice', { text: 'on its way' }],
      ['sentinel', { n: 1 }],
    ],
  );
  php.stop();
  sse.destroy();
  await h.close();
  await relay.stopClean();
});

test("a relay that is down is a BroadcastException, as Pusher's driver throws; a channel name outside the alphabet the extension's ValueError", async () => {
  const relay = await new Relay().start();
  const php = new LaravelPhp('broadcast.php', relay.socket);
  const bad = await php.call({ event: 'Notice', as: 'x', with: {}, on: ['public:no spaces allowed'] });
  assert.match(bad.error, /^ValueError: herald_publish\(\): Argument #1 \(\$channel\)/, JSON.stringify(bad));
  await relay.stopClean();
  const down = await php.call({ event: 'Notice', as: 'x', with: { a: 1 }, on: ['public:orders'] });
  assert.match(down.error, /^Illuminate\\Broadcasting\\BroadcastException: Herald error: /, JSON.stringify(down));
  php.stop();
});

// herald_publish()'s except (the spec's foundation): until the extension
// has it, toOthers() cannot work and its test says so.
const HAS_EXCEPT =
  spawnSync(PHP, ['-n', '-d', `extension=${EXT}`, '-r', 'echo (new ReflectionFunction("herald_publish"))->getNumberOfParameters();'], {
    encoding: 'utf8',
  }).stdout.trim() === '4';

test('toOthers(): the connection named by X-Socket-ID is skipped, the others get the event', { skip: !HAS_EXCEPT && 'herald_publish() has no except yet' }, async () => {
  const hk = await startHooks({ flags: { app_events: 'connect,message' } });
  const php = new LaravelPhp('broadcast.php', hk.relay.socket);
  const ana = await hk.client('ana');
  const bob = await hk.client('bob');
  for (const c of [ana, bob]) await subscribe(c, 'orders');
  const anaSocket = (await ask(ana, 'who am i')).data.conn;
  assert.match(anaSocket, /^\d+\.\d+$/, 'a connection id is a Pusher socket id');

  // ana's request (her X-Socket-ID) broadcasts to the others only.
  await php.broadcast({ event: 'Notice', as: 'said', with: { from: 'ana' }, on: ['public:orders'], toOthers: true, socketHeader: anaSocket });
  // Without toOthers the header changes nothing; a header that is no
  // socket id excludes nobody.
  await php.broadcast({ event: 'Notice', as: 'all', with: { n: 1 }, on: ['public:orders'], socketHeader: anaSocket });
  await php.broadcast({ event: 'Notice', as: 'all', with: { n: 2 }, on: ['public:orders'], toOthers: true, socketHeader: 'not-a-socket' });
  await php.broadcast({ event: 'Notice', as: 'sentinel', with: {}, on: ['public:orders'] });

  const names = async (c) => (await messagesUntil(c, 'orders')).map((j) => [j.event, j.data]);
  assert.deepEqual(await names(bob), [['said', { from: 'ana' }], ['all', { n: 1 }], ['all', { n: 2 }], ['sentinel', []]]);
  assert.deepEqual(await names(ana), [['all', { n: 1 }], ['all', { n: 2 }], ['sentinel', []]]);
  php.stop();
  await hk.stop();
});

test('Broadcast::auth() answers as Pusher\'s library: the signatures verify, channel_data for presence, shared_secret for private-encrypted, 403 otherwise', async () => {
  const relay = await new Relay().start();
  const php = new LaravelPhp('auth.php', relay.socket);
  const ana = { id: 7, name: 'Ana' };
  const sock = '1234.5678';
  const auth = async (channel_name, user = ana, extra = {}) => {
    const r = await php.call({ channel_name, socket_id: sock, user, ...extra });
    return r.status === 200 && !extra.callback ? { ...r, json: JSON.parse(r.body) } : r;
  };

  const priv = await auth('private-orders.7');
  assert.deepEqual(priv.json, { auth: `${KEY}:${hmac(`${sock}:private-orders.7`)}` });
  const user = await auth('private-App.Models.User.7');
  assert.deepEqual(user.json, { auth: `${KEY}:${hmac(`${sock}:private-App.Models.User.7`)}` });

  const pres = await auth('presence-room.lobby');
  const channelData = '{"user_id":7,"user_info":{"name":"Ana","room":"lobby"}}';
  assert.deepEqual(pres.json, {
    auth: `${KEY}:${hmac(`${sock}:presence-room.lobby:${channelData}`)}`,
    channel_data: channelData,
  });

  const enc = await auth('private-encrypted-secrets.7');
  const shared = createHash('sha256').update(Buffer.concat([Buffer.from('private-encrypted-secrets.7'), Buffer.from(MASTER_KEY, 'base64')])).digest('base64');
  assert.deepEqual(enc.json, { auth: `${KEY}:${hmac(`${sock}:private-encrypted-secrets.7`)}`, shared_secret: shared });

  // ?callback= is ignored unless the connection says 'jsonp' => true
  // (Laravel 12's default); then JSONP, as Laravel's Pusher broadcaster.
  const plain = await auth('private-orders.7', ana, { callback: 'cb' });
  assert.equal(plain.body, `{"auth":"${KEY}:${hmac(`${sock}:private-orders.7`)}"}`);
  const jsonpPhp = new LaravelPhp('auth.php', relay.socket, { HERALD_JSONP: '1' });
  const jsonp = await jsonpPhp.call({ channel_name: 'private-orders.7', socket_id: sock, user: ana, callback: 'cb' });
  assert.equal(jsonp.body, `/**/cb({"auth":"${KEY}:${hmac(`${sock}:private-orders.7`)}"});`);
  assert.match(jsonp.type, /^text\/javascript/);
  jsonpPhp.stop();

  // Refused: another user's channel, nobody signed in, no such channel, a public channel, a bad socket id.
  assert.equal((await auth('private-orders.8')).status, 403);
  assert.equal((await auth('private-orders.7', null)).status, 403);
  assert.equal((await auth('presence-room.lobby', null)).status, 403);
  assert.equal((await auth('private-nowhere')).status, 403);
  assert.equal((await auth('orders')).status, 403);
  assert.equal((await php.call({ channel_name: 'private-orders.7', socket_id: '12.x', user: ana })).status, 403);
  php.stop();
  await relay.stopClean();
});

test('Broadcast::auth() under php-fpm, from the request itself (Request::capture()): the same answers, 403 as an HTTP status', async () => {
  const relay = await new Relay().start();
  const { fpm, auth, log } = await startAuthFpm(relay.socket);
  const sock = '42.7';
  const ok = await auth({ channel_name: 'presence-room.lobby', socket_id: sock }, { id: 'u-9', name: 'Bo' });
  assert.equal(ok.status, 200, log());
  assert.match(ok.type, /^application\/json/);
  const channelData = '{"user_id":"u-9","user_info":{"name":"Bo","room":"lobby"}}';
  assert.deepEqual(JSON.parse(ok.body), { auth: `${KEY}:${hmac(`${sock}:presence-room.lobby:${channelData}`)}`, channel_data: channelData });
  assert.equal((await auth({ channel_name: 'private-orders.7', socket_id: sock }, null)).status, 403);
  await fpm.stop();
  await relay.stopClean();
});

test('private-encrypted channels: the event is a secretbox that tweetnacl opens with the auth answer\'s shared_secret', async () => {
  const relay = await new Relay({ flags: { secret: SECRET } }).start();
  const php = new LaravelPhp('broadcast.php', relay.socket);
  const authPhp = new LaravelPhp('auth.php', relay.socket);
  const ch = 'private-encrypted-secrets.7';
  const h = await heraldClient(relay.wsUrl('/ws'));
  await subscribe(h, ch, tokenFor([ch]));

  const order = { id: 7, card: '4242', name: 'Zoë' };
  await php.broadcast({ event: 'OrderShipped', order, on: ['encrypted:secrets.7'] });
  await php.broadcast({ event: 'Notice', as: 'sentinel', with: {}, on: ['encrypted:secrets.7'] });
  const msgs = await messagesUntil(h, ch);
  assert.equal(msgs.length, 2);

  const a = await authPhp.call({ channel_name: ch, socket_id: '1.2', user: { id: 7, name: 'Ana' } });
  const key = Buffer.from(JSON.parse(a.body).shared_secret, 'base64');
  const open = (data) => {
    assert.deepEqual(Object.keys(data), ['nonce', 'ciphertext']);
    const plain = nacl.secretbox.open(Buffer.from(data.ciphertext, 'base64'), Buffer.from(data.nonce, 'base64'), key);
    assert.ok(plain, 'the box opens with the shared secret');
    return JSON.parse(Buffer.from(plain).toString());
  };
  assert.equal(msgs[0].event, 'App\\Events\\OrderShipped');
  assert.deepEqual(open(msgs[0].data), { order });
  assert.deepEqual(open(msgs[1].data), []);
  assert.ok(!JSON.stringify(msgs[0]).includes('4242'), 'nothing in clear');
  php.stop();
  authPhp.stop();
  await h.close();
  await relay.stopClean();
});

test('docs/LARAVEL.md names only what exists: its relay.ini keys are relay options, its connection keys are what the driver reads', async () => {
  const doc = fs.readFileSync(path.join(ROOT, 'docs/LARAVEL.md'), 'utf8');
  const help = spawnSync(RELAY_BIN, ['--help'], { encoding: 'utf8' }).stdout;
  const ini = /```ini\n([\s\S]*?)```/.exec(doc)[1];
  const keys = [...ini.matchAll(/^(\w+) =/gm)].map((m) => m[1]);
  assert.deepEqual(keys, ['pusher_app_id', 'pusher_key', 'pusher_secret_file']);
  for (const k of keys) assert.match(help, new RegExp(`^ {2}--${k} `, 'm'), k);
  const driver = fs.readFileSync(path.join(ROOT, 'packages/herald-laravel/src/HeraldBroadcaster.php'), 'utf8');
  const php = /```php\n([\s\S]*?)```/.exec(doc)[1];
  for (const k of ['key', 'secret', 'app_id', 'options', 'jsonp']) {
    assert.ok(php.includes(`'${k}' =>`), `the doc's connection has ${k}`);
    assert.ok(driver.includes(`$config['${k}']`), `the driver reads ${k}`);
  }
  assert.ok(driver.includes(`$options['encryption_master_key_base64']`));
  assert.ok(php.includes(`'encryption_master_key_base64' =>`));
});
