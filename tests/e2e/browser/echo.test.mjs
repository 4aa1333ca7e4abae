// Laravel Echo in Chromium against the relay's Pusher front, with Laravel
// on the server: laravel-echo's iife build and pusher-js's web build (the
// one with encryption) in a page, /broadcasting/auth answered by php-fpm
// running tests/e2e/laravel/auth.php (the `herald` driver's
// Broadcast::auth() on Debian's Laravel 8.83), events broadcast by
// tests/e2e/laravel/broadcast.php. Two users in two browsers: public,
// private, presence (here/joining) and private-encrypted channels receive
// Laravel's events as Echo names them; toOthers() with one page's
// Echo.socketId() skips that page only (proven by a sentinel broadcast
// after). Every wait is for something a page shows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { launchBrowser, ROOT, freePort } from './lib/stack.mjs';
import { Relay, httpGet } from '../lib/harness.mjs';
import { LaravelPhp, startAuthFpm, APP_ID, KEY, APP_SECRET } from '../laravel/lib.mjs';

const T = { timeout: 30000 };
const NM = path.join(ROOT, 'tests/e2e/node_modules');
const ASSETS = {
  '/pusher.js': path.join(NM, 'pusher-js/dist/web/pusher-with-encryption.min.js'),
  '/echo.js': path.join(NM, 'laravel-echo/dist/echo.iife.js'),
};
const PAGE = '<!doctype html><meta charset="utf-8"><title>echo</title><script src="/pusher.js"></script><script src="/echo.js"></script>';

// The application's web server: the page, the two libraries, and
// /broadcasting/auth through php-fpm; the signed-in user is the cookie
// user=<id>:<name>, as a session would say.
async function startApp(auth) {
  const server = http.createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/broadcasting/auth') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', async () => {
        const m = /(?:^|;\s*)user=(\d+):(\w+)/.exec(req.headers.cookie || '');
        const r = await auth(Object.fromEntries(new URLSearchParams(body)), m ? { id: Number(m[1]), name: m[2] } : null);
        res.writeHead(r.status, { 'Content-Type': r.type || 'application/json' });
        res.end(r.body);
      });
      return;
    }
    const file = ASSETS[req.url];
    res.writeHead(file || req.url === '/' ? 200 : 404, { 'Content-Type': file ? 'text/javascript' : 'text/html' });
    res.end(file ? fs.readFileSync(file) : PAGE);
  });
  const port = await freePort();
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${port}/`, port, close: () => new Promise((r) => server.close(r)) };
}

// A page of user id:name with Echo connected to the relay; every event
// it hears goes to window.got as [channel, event name, payload].
async function echoPage(browser, app, relayPort, user) {
  await browser.addCookies([{ name: 'user', value: user, url: app.url }]);
  const page = await browser.newPage();
  await page.goto(app.url);
  await page.evaluate(
    ({ key, port }) => {
      window.got = [];
      window.echo = new Echo({
        broadcaster: 'pusher',
        key,
        cluster: 'mt1',
        wsHost: '127.0.0.1',
        wsPort: port,
        wssPort: port,
        forceTLS: false,
        enabledTransports: ['ws', 'wss'],
        disableStats: true,
        authEndpoint: '/broadcasting/auth',
      });
    },
    { key: KEY, port: relayPort },
  );
  return page;
}

// Listen on channels (Echo's methods: channel, private, join,
// encryptedPrivate) for these events, and wait until pusher-js says each
// subscription succeeded.
async function listen(page, subs, events) {
  await page.evaluate(
    ({ subs, events }) => {
      for (const [how, name] of subs) {
        const ch = window.echo[how](name);
        if (how === 'join') {
          ch.here((users) => (window.here = users.map((u) => u.name).sort()));
          ch.joining((u) => window.got.push([name, 'joining', u]));
        }
        for (const e of events) ch.listen(e, (payload) => window.got.push([name, e, payload]));
      }
    },
    { subs, events },
  );
  const names = subs.map(([how, name]) => ({ channel: '', private: 'private-', join: 'presence-', encryptedPrivate: 'private-encrypted-' })[how] + name);
  await page.waitForFunction((names) => names.every((n) => window.echo.connector.pusher.channel(n)?.subscribed), names, T);
}

const sentinelIn = (page, ch) => page.waitForFunction((ch) => window.got.some(([c, e]) => c === ch && e === '.sentinel'), ch, T);

test('Laravel Echo (pusher-js) in Chromium: Laravel broadcasts through the herald driver reach public, private, presence and encrypted channels; toOthers skips the sender', async (t) => {
  const relay = await new Relay({ flags: { pusher_app_id: APP_ID, pusher_key: KEY, pusher_secret: APP_SECRET } }).start();
  if ((await httpGet(relay.port, `/app/${KEY}?protocol=7`)).status === 404) {
    await relay.stopClean();
    t.skip('this relay has no Pusher WebSocket front yet');
    return;
  }
  const { auth } = await startAuthFpm(relay.socket);
  const app = await startApp(auth);
  const php = new LaravelPhp('broadcast.php', relay.socket);
  const anaBrowser = await launchBrowser();
  const bobBrowser = await launchBrowser();
  t.after(async () => {
    await anaBrowser.close();
    await bobBrowser.close();
    await app.close();
  });

  const events = ['OrderShipped', '.order.notice', '.sentinel'];
  const ana = await echoPage(anaBrowser, app, relay.port, '7:Ana');
  await listen(ana, [['channel', 'orders'], ['private', 'orders.7'], ['join', 'room.lobby'], ['encryptedPrivate', 'secrets.7']], events);
  const bob = await echoPage(bobBrowser, app, relay.port, '8:Bob');
  await listen(bob, [['channel', 'orders'], ['join', 'room.lobby']], events);
  // Presence: bob's here() lists both; ana hears bob join, with his info.
  assert.deepEqual(await bob.evaluate(() => window.here), ['Ana', 'Bob']);
  await ana.waitForFunction(() => window.got.some(([c, e, u]) => c === 'room.lobby' && e === 'joining' && u.name === 'Bob'), null, T);

  // bob may not listen on ana's private channel: Echo hears the auth refusal.
  await bob.evaluate(() => {
    window.echo.private('orders.7').error((e) => (window.refused = e.status ?? e.type ?? 'error'));
  });
  await bob.waitForFunction(() => window.refused !== undefined, null, T);

  const order = { id: 7, total: 12.5, name: 'Zoë' };
  await php.broadcast({
    event: 'OrderShipped',
    order,
    on: ['public:orders', 'private:orders.7', 'presence:room.lobby', 'encrypted:secrets.7'],
  });
  // ana's request, her socket id in X-Socket-ID: everyone but ana.
  const anaSocket = await ana.evaluate(() => window.echo.socketId());
  assert.match(anaSocket, /^\d+\.\d+$/);
  await php.broadcast({ event: 'Notice', as: 'order.notice', with: { from: 'Ana' }, on: ['public:orders'], toOthers: true, socketHeader: anaSocket });
  const everywhere = ['public:orders', 'private:orders.7', 'presence:room.lobby', 'encrypted:secrets.7'];
  await php.broadcast({ event: 'Notice', as: 'sentinel', with: { n: 1 }, on: everywhere });

  for (const ch of ['orders', 'orders.7', 'room.lobby', 'secrets.7']) await sentinelIn(ana, ch);
  for (const ch of ['orders', 'room.lobby']) await sentinelIn(bob, ch);
  const heard = (page) => page.evaluate(() => window.got.filter(([, e]) => e !== 'joining'));
  assert.deepEqual(await heard(ana), [
    ['orders', 'OrderShipped', { order }],
    ['orders.7', 'OrderShipped', { order }],
    ['room.lobby', 'OrderShipped', { order }],
    ['secrets.7', 'OrderShipped', { order }],
    ['orders', '.sentinel', { n: 1 }],
    ['orders.7', '.sentinel', { n: 1 }],
    ['room.lobby', '.sentinel', { n: 1 }],
    ['secrets.7', '.sentinel', { n: 1 }],
  ]);
  assert.deepEqual(await heard(bob), [
    ['orders', 'OrderShipped', { order }],
    ['room.lobby', 'OrderShipped', { order }],
    ['orders', '.order.notice', { from: 'Ana' }],
    ['orders', '.sentinel', { n: 1 }],
    ['room.lobby', '.sentinel', { n: 1 }],
  ]);
  assert.deepEqual(anaBrowser.pageErrors, []);
  assert.deepEqual(bobBrowser.pageErrors, []);
  php.stop();
  await relay.stopClean();
});
