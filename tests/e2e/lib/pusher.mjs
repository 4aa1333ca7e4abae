// The Pusher front (docs/PROTOCOL.md 4) end to end: a relay with the
// pusher_* options, a real php-fpm pool running tests/e2e/hooks/
// pusher_auth.php as the app's /broadcasting/auth, and the real npm
// pusher-js (node build) and laravel-echo as clients. pusher-js asks the
// auth endpoint through channelAuthorization.customHandler, which runs the
// PHP script over FastCGI (lib/fpm.mjs) as a web server would: the socket
// id and channel as request parameters, the user as a cookie.
import { after } from 'node:test';
import fs from 'node:fs';
import path from 'node:path';
import Pusher from 'pusher-js';
import EchoModule from 'laravel-echo';
import { Relay, tmpdir, waitFor, ROOT, DEADLINE_MS } from './harness.mjs';
import { startFpm, fastcgi } from './fpm.mjs';

// laravel-echo's node entry is CommonJS: its default export arrives one
// level down.
const Echo = EchoModule.default ?? EchoModule;

export const APP_ID = '4242';
export const KEY = 'herald-test-key';
export const SECRET = 'herald-test-secret-0123456789';

export const PUSHER_FLAGS = { pusher_app_id: APP_ID, pusher_key: KEY, pusher_secret: SECRET };

// A relay with the Pusher front on (flags on top).
export async function startPusherRelay(flags = {}) {
  const relay = new Relay({ flags: { ...PUSHER_FLAGS, ...flags } });
  await relay.start();
  return relay;
}

// php-fpm running the auth endpoint; ended by pid after the test.
export async function startAuth() {
  const dir = tmpdir('herald-pusher-auth-');
  const script = path.join(dir, 'pusher_auth.php');
  fs.copyFileSync(path.join(ROOT, 'tests/e2e/hooks/pusher_auth.php'), script);
  const pool = await startFpm(dir, { workers: 2, ini: { display_errors: 0 } });
  after(() => pool.stop('SIGTERM'));
  // One auth request as a web server would make it; resolves with
  // {status, body}.
  const request = async (user, socketId, channel, secret = SECRET) => {
    const query = new URLSearchParams({ socket_id: socketId, channel_name: channel }).toString();
    const r = await fastcgi(pool.sock, {
      SCRIPT_FILENAME: script,
      REQUEST_METHOD: 'GET',
      QUERY_STRING: query,
      REQUEST_URI: `/broadcasting/auth?${query}`,
      PUSHER_KEY: KEY,
      PUSHER_SECRET: secret,
      ...(user ? { HTTP_COOKIE: `user=${user}` } : {}),
    });
    const m = /^Status: (\d+)/m.exec(r.head);
    return { status: m ? Number(m[1]) : 200, body: r.body };
  };
  // pusher-js's channelAuthorization for a user (secret: a wrong one).
  const authorization = (user, { secret } = {}) => ({
    customHandler: ({ socketId, channelName }, callback) => {
      request(user, socketId, channelName, secret).then(
        ({ status, body }) =>
          status === 200
            ? callback(null, JSON.parse(body))
            : callback(new Error(`auth endpoint answered ${status}`), null),
        (err) => callback(err, null),
      );
    },
  });
  return { pool, request, authorization };
}

function clientOptions(relay, auth, user, extra = {}) {
  return {
    cluster: 'mt1',
    wsHost: '127.0.0.1',
    wsPort: relay.port,
    forceTLS: false,
    enabledTransports: ['ws'],
    disableStats: true,
    ...(auth ? { channelAuthorization: auth.authorization(user) } : {}),
    ...extra,
  };
}

// A connected pusher-js client; disconnected after the test.
export async function pusherClient(relay, { auth = null, user = null, key = KEY, ...extra } = {}) {
  const p = new Pusher(key, clientOptions(relay, auth, user, extra));
  after(() => p.disconnect());
  await waitFor(() => p.connection.state === 'connected', 'pusher-js connected');
  return p;
}

// Resolve with the first arguments of event on a pusher-js emitter.
export function nextEvent(emitter, event, timeoutMs = DEADLINE_MS) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${event}`)), timeoutMs);
    const fn = (...args) => {
      clearTimeout(timer);
      emitter.unbind(event, fn);
      resolve(args);
    };
    emitter.bind(event, fn);
  });
}

// Subscribe and wait for pusher:subscription_succeeded (rejects on
// pusher:subscription_error with its data).
export function subscribed(p, channel) {
  const ch = p.subscribe(channel);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer to subscribe ${channel}`)), DEADLINE_MS);
    ch.bind('pusher:subscription_succeeded', (members) => {
      clearTimeout(timer);
      resolve({ ch, members });
    });
    ch.bind('pusher:subscription_error', (err) => {
      clearTimeout(timer);
      const e = new Error(`subscription_error on ${channel}: ${JSON.stringify(err)}`);
      e.data = err;
      reject(e);
    });
  });
}

// A recorder of a channel's events (every event, through bind_global).
export function record(ch) {
  const got = [];
  ch.bind_global((event, data) => got.push({ event, data }));
  return {
    got,
    until: (pred, what = 'event') =>
      waitFor(() => got.find(pred), what),
  };
}

// laravel-echo over pusher-js against the relay; disconnected after.
export async function echoClient(relay, auth, user, extra = {}) {
  const echo = new Echo({
    broadcaster: 'pusher',
    key: KEY,
    Pusher,
    ...clientOptions(relay, auth, user, extra),
  });
  after(() => echo.disconnect());
  await waitFor(() => echo.connector.pusher.connection.state === 'connected', 'Echo connected');
  return echo;
}

// Echo channels whose subscription succeeded (pusher-js's flag).
export function echoSubscribed(...chs) {
  return waitFor(() => chs.every((c) => c.subscription.subscribed), 'Echo subscriptions');
}

export { Pusher, Echo };
