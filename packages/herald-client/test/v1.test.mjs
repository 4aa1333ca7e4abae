// The herald.v1 side of the client against a real relay, one tab (shared:
// false) unless said: envelopes as messages (strings, JSON values, SSE
// event names, binary payloads), `since`, resume of every channel after a
// dropped connection, send() and presence() answered with the relay's
// errors, a refused subscribe made visible, tokens refreshed before their
// exp and after a relay restart, and the classic-script build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { sign, now } from '../../../tests/e2e/lib/token.mjs';
import { Relay, Publisher, pubOk, tmpdir, waitFor, launchBrowser, pageServer, gate, openTab, got, waitData, v1Connections } from './lib.mjs';

const SECRET = 'client-test-secret-0123456789';

async function stack(t, flags = {}, tokens = null) {
  const s = {};
  t.after(async () => {
    if (s.browser) await s.browser.close();
    if (s.gate) await s.gate.stop();
    if (s.pages) await s.pages.stop();
    if (s.pub) s.pub.close();
    if (s.relay) await s.relay.stopClean();
  });
  s.tokenRequests = 0;
  s.pages = await pageServer((req, res, url) => {
    if (url.pathname !== '/token' || !tokens) return false;
    s.tokenRequests++;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
    res.end(JSON.stringify({ token: tokens(s.tokenRequests) }));
    return true;
  });
  s.socket = path.join(tmpdir('herald-client-v1-'), 'relay.sock');
  s.flags = { ws_origins: s.pages.origin, cors_origin: s.pages.origin, drain_ms: 0, ...flags };
  s.relay = await new Relay({ socket: s.socket, flags: s.flags }).start();
  s.gate = await gate(s.relay.port);
  s.pub = await new Publisher(s.socket).connect();
  s.browser = await launchBrowser();
  s.restart = async (more = {}) => {
    s.gate.close();
    s.pub.close();
    await s.relay.stopClean();
    s.flags = { ...s.flags, ...more };
    s.relay = await new Relay({ socket: s.socket, flags: s.flags }).start();
    s.gate.target = s.relay.port;
    s.pub = await new Publisher(s.socket).connect();
  };
  return s;
}

async function single(s, channels, opts = {}) {
  const tab = await openTab(s.browser, s.pages.origin);
  await tab.evaluate(
    ([url, o, chs]) => {
      T.start(url, { shared: false, transport: 'websocket', ...o });
      for (const ch of chs) T.sub(ch);
      return true;
    },
    [s.gate.url, opts, channels],
  );
  await tab.waitForFunction((n) => T.controls.filter((c) => c.type === 'subscribed').length >= n, channels.length);
  return tab;
}

test('herald.v1: strings, JSON values, event names and binary payloads arrive as message objects', async (t) => {
  const s = await stack(t);
  const tab = await single(s, ['orders']);
  assert.deepEqual(await tab.evaluate(() => [T.state, T.role, T.transport]), ['open', 'single', 'websocket']);
  assert.equal(await v1Connections(s.relay), 1);
  const sub = await tab.evaluate(() => T.controls.find((c) => c.type === 'subscribed'));
  assert.equal(sub.channel, 'orders');
  assert.match(sub.id, /^[0-9a-f]+-\d+$/);
  const a = await pubOk(s.pub, 'ws', 'orders', 'hi');
  const b = await pubOk(s.pub, 'ws', 'orders', '{"order":7,"total":12.5}', { json: true });
  const c = await pubOk(s.pub, 'sse', 'orders', 'from sse_emit', { event: 'note' });
  const d = await pubOk(s.pub, 'ws', 'orders', Buffer.from([0, 1, 2, 250, 255]));
  const e = await pubOk(s.pub, 'ws', 'orders', '{"not":"parsed"}');
  await waitData(tab, 'orders', '{"not":"parsed"}');
  assert.deepEqual(await tab.evaluate(() => T.got.orders.map((m) => [m.channel, m.id, m.data, m.event, m.binary])), [
    ['orders', a.id, 'hi', null, false],
    ['orders', b.id, { order: 7, total: 12.5 }, null, false],
    ['orders', c.id, 'from sse_emit', 'note', false],
    ['orders', d.id, [0, 1, 2, 250, 255], null, true],
    ['orders', e.id, '{"not":"parsed"}', null, false],
  ]);
  // A binary payload is a Uint8Array.
  assert.equal(await tab.evaluate(() => T.client && T.got.orders[3].binary), true);
});

test('herald.v1: subscribe with since replays after that id once, in order; unsubscribe stops delivery', async (t) => {
  const s = await stack(t);
  const first = await single(s, ['log']);
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push([(await pubOk(s.pub, 'ws', 'log', `l${i}`)).id, `l${i}`]);
  await waitData(first, 'log', 'l4');
  const tab = await openTab(s.browser, s.pages.origin);
  await tab.evaluate(
    ([url, since]) => T.start(url, { shared: false, transport: 'websocket' }) && T.sub('log', { since }),
    [s.gate.url, ids[1][0]],
  );
  await waitData(tab, 'log', 'l4');
  const sub = await tab.evaluate(() => T.controls.find((c) => c.type === 'subscribed'));
  assert.equal(sub.id, ids[1][0], 'subscribed names the since it starts after');
  await first.evaluate(() => T.unsub('log'));
  await first.waitForFunction(() => T.controls.some((c) => c.type === 'unsubscribed' && c.channel === 'log'));
  const last = await pubOk(s.pub, 'ws', 'log', 'after');
  ids.push([last.id, 'after']);
  await waitData(tab, 'log', 'after');
  assert.deepEqual(await got(tab, 'log'), ids.slice(2));
  assert.deepEqual(await got(first, 'log'), ids.slice(0, 5));
});

test('herald.v1: after a dropped connection every channel resumes from its own last id', async (t) => {
  const s = await stack(t);
  const tab = await single(s, ['p', 'q']);
  const p = [[(await pubOk(s.pub, 'ws', 'p', 'p0')).id, 'p0']];
  const q = [[(await pubOk(s.pub, 'ws', 'q', 'q0')).id, 'q0']];
  await waitData(tab, 'q', 'q0');
  await waitData(tab, 'p', 'p0');
  s.gate.close(); // the connection drops; no new one until reopen
  await tab.waitForFunction(() => T.state === 'reconnecting');
  await waitFor(() => s.gate.refused > 0, 'a reconnection attempt');
  p.push([(await pubOk(s.pub, 'ws', 'p', 'p1')).id, 'p1']);
  q.push([(await pubOk(s.pub, 'ws', 'q', 'q1')).id, 'q1']);
  p.push([(await pubOk(s.pub, 'ws', 'p', 'p2')).id, 'p2']);
  s.gate.reopen();
  const end = await pubOk(s.pub, 'ws', ['p', 'q'], 'end');
  p.push([end.id, 'end']);
  q.push([end.id, 'end']);
  await waitData(tab, 'p', 'end');
  await waitData(tab, 'q', 'end');
  assert.deepEqual(await got(tab, 'p'), p);
  assert.deepEqual(await got(tab, 'q'), q);
  const resumed = await tab.evaluate(() => T.controls.filter((c) => c.type === 'subscribed').map((c) => [c.channel, c.id]));
  assert.deepEqual(resumed.slice(2), [
    ['p', p[0][0]],
    ['q', q[0][0]],
  ]);
  assert.deepEqual(await tab.evaluate(() => T.gaps), []);
});

test('herald.v1: send() rejects with "no application hooks", presence() with "not a presence channel", from any tab', async (t) => {
  const s = await stack(t);
  const tabs = [];
  for (let i = 0; i < 2; i++) {
    const tab = await openTab(s.browser, s.pages.origin, `/?tab=${i}`);
    await tab.evaluate((url) => T.start(url, { transport: 'websocket' }), s.gate.url);
    tabs.push(tab);
  }
  for (const tab of tabs) await tab.waitForFunction(() => T.state === 'open');
  const roles = await Promise.all(tabs.map((x) => x.evaluate(() => T.role)));
  assert.deepEqual(roles.sort(), ['follower', 'leader']);
  for (const tab of tabs) {
    const r = await tab.evaluate(() => T.send({ hello: 1 }, { channel: 'orders' }));
    assert.deepEqual(r, { ok: false, error: 'no application hooks', code: undefined });
    const b = await tab.evaluate(() => T.send(new Uint8Array([1, 2, 3])));
    assert.equal(b.error, 'no application hooks');
    const pr = await tab.evaluate(() => T.presence('orders'));
    assert.deepEqual(pr, { ok: false, error: 'not a presence channel', code: undefined });
  }
  assert.equal(await v1Connections(s.relay), 1);
});

test('herald.v1: the application\'s own message (herald_send_user, a reply without ref) reaches onControl in every tab', async (t) => {
  // The token's sub names the user (no hooks needed); the relay's ingest
  // op send, as herald_send_user() writes it, reaches her connection.
  const s = await stack(t, { secret: SECRET }, () =>
    sign({ alg: 'HS256', typ: 'JWT' }, { channels: ['private-*'], sub: 'ana', exp: now() + 3600 }, SECRET),
  );
  const tabs = [];
  for (let i = 0; i < 2; i++) {
    const tab = await openTab(s.browser, s.pages.origin, `/?tab=${i}`);
    await tab.evaluate((url) => {
      T.start(url, { transport: 'websocket', token: 'fetch' });
      T.sub('private-u');
    }, s.gate.url);
    tabs.push(tab);
  }
  for (const tab of tabs) await tab.waitForFunction(() => T.state === 'open');
  // The connection (the leader's) subscribed: the sentinel below reaches both tabs.
  const leader = (await Promise.all(tabs.map((x) => x.evaluate(() => T.role)))).indexOf('leader');
  await tabs[leader].waitForFunction(() => T.controls.some((c) => c.type === 'subscribed'));
  const r = await s.pub.raw({ op: 'send', user: 'ana', data: 'hello ana', ack: 7001 });
  assert.equal(r.ok, true);
  const other = await s.pub.raw({ op: 'send', user: 'bob', data: 'not for ana', ack: 7002 });
  assert.equal(other.ok, true);
  await pubOk(s.pub, 'ws', 'private-u', 'sentinel');
  for (const tab of tabs) {
    await waitData(tab, 'private-u', 'sentinel');
    await tab.waitForFunction(() => T.controls.some((c) => c.type === 'reply'));
    const replies = await tab.evaluate(() => T.controls.filter((c) => c.type === 'reply'));
    assert.deepEqual(replies, [{ type: 'reply', data: 'hello ana' }]);
  }
});

test('herald.v1: a refused subscribe is reported (onError) to the tab that asked, and other channels go on', async (t) => {
  const s = await stack(t);
  const tab = await single(s, ['open']);
  await tab.evaluate(() => T.sub('private-x'));
  await tab.waitForFunction(() => T.errors.length > 0);
  const err = await tab.evaluate(() => T.errors[0]);
  assert.equal(err.type, 'error');
  assert.equal(err.channel, 'private-x');
  assert.match(err.error, /private channels are not configured/);
  const m = await pubOk(s.pub, 'ws', 'open', 'still here');
  await waitData(tab, 'open', 'still here');
  assert.deepEqual(await got(tab, 'open'), [[m.id, 'still here']]);
});

test('herald.v1: a token function is called again before exp, and after a relay restart that refuses the old token', async (t) => {
  const channels = ['private-*'];
  let phase = 1;
  const s = await stack(t, { secret: SECRET }, () =>
    // Phase 1: tokens 31 s from exp (the client refreshes 30 s before);
    // phase 2: the relay has another secret, only new tokens pass.
    phase === 1
      ? sign({ alg: 'HS256', typ: 'JWT' }, { channels, exp: now() + 31 }, SECRET)
      : sign({ alg: 'HS256', typ: 'JWT' }, { channels, exp: now() + 3600 }, SECRET + '-rotated'),
  );
  const tab = await single(s, ['private-t'], { token: 'fetch' });
  const a = await pubOk(s.pub, 'ws', 'private-t', 'a');
  await waitData(tab, 'private-t', 'a');
  // Before its exp the token is fetched again and given to the relay on a subscribe.
  await tab.waitForFunction(() => T.tokenCalls >= 2);
  await tab.waitForFunction(() => T.controls.filter((c) => c.type === 'subscribed').length >= 2);
  assert.deepEqual(await tab.evaluate(() => T.errors), []);

  phase = 2;
  await s.restart({ secret: SECRET + '-rotated' });
  const b = await pubOk(s.pub, 'ws', 'private-t', 'b');
  s.gate.reopen();
  await waitData(tab, 'private-t', 'b');
  const c = await pubOk(s.pub, 'ws', 'private-t', 'c');
  await waitData(tab, 'private-t', 'c');
  assert.deepEqual(await got(tab, 'private-t'), [
    [a.id, 'a'],
    [b.id, 'b'],
    [c.id, 'c'],
  ]);
  assert.ok(s.tokenRequests >= 3);
});

test('the classic-script build defines window.Herald and works like the module', async (t) => {
  const s = await stack(t);
  const tab = await s.browser.newPage();
  await tab.goto(s.pages.origin + '/global.html');
  assert.equal(await tab.evaluate(() => window.HERALD_GLOBAL), true);
  await tab.evaluate((url) => {
    window.got = [];
    window.h = new Herald(url, { shared: false, onControl: (c) => c.type === 'subscribed' && (window.ready = true) });
    window.h.subscribe('g', (m) => window.got.push(m.data));
  }, s.gate.url);
  await tab.waitForFunction(() => window.ready);
  await pubOk(s.pub, 'ws', 'g', '{"x":1}', { json: true });
  await tab.waitForFunction(() => window.got.length === 1);
  assert.deepEqual(await tab.evaluate(() => window.got), [{ x: 1 }]);
  assert.equal(await tab.evaluate(() => window.h.status.transport), 'websocket');
});

test('herald.v1: channels in the URL resume from the oldest position; what a channel already had is dropped, once', async (t) => {
  const s = await stack(t);
  const tab = await openTab(s.browser, s.pages.origin);
  // Channels named in the URL, as an nginx hand-off URL names them.
  await tab.evaluate((url) => {
    T.start({ ws: url + '/ws?channel=p&channel=q', sse: null }, { shared: false, transport: 'websocket' });
    return T.sub('p') && T.sub('q');
  }, s.gate.url);
  await tab.waitForFunction(() => T.controls.filter((c) => c.type === 'subscribed').length === 2);
  const p = [];
  const q = [];
  q.push([(await pubOk(s.pub, 'ws', 'q', 'q0')).id, 'q0']);
  p.push([(await pubOk(s.pub, 'ws', 'p', 'p0')).id, 'p0']);
  p.push([(await pubOk(s.pub, 'ws', 'p', 'p1')).id, 'p1']);
  await waitData(tab, 'p', 'p1');
  await waitData(tab, 'q', 'q0');
  s.gate.close();
  await waitFor(() => s.gate.refused > 0, 'a reconnection attempt');
  q.push([(await pubOk(s.pub, 'ws', 'q', 'q1')).id, 'q1']);
  s.gate.reopen();
  // The relay replays p0 and p1 again (after q0, the oldest position): the
  // client passes neither a second time.
  const end = await pubOk(s.pub, 'ws', ['p', 'q'], 'end');
  p.push([end.id, 'end']);
  q.push([end.id, 'end']);
  await waitData(tab, 'p', 'end');
  await waitData(tab, 'q', 'end');
  assert.deepEqual(await got(tab, 'p'), p);
  assert.deepEqual(await got(tab, 'q'), q);
  // No subscribe envelope was needed: the URL's channels were subscribed at each upgrade.
  assert.deepEqual(await tab.evaluate(() => T.errors), []);
});

test('herald.v1: a tab whose token has expired comes back after a relay restart with a fresh token', async (t) => {
  const channels = ['private-*'];
  let phase = 1;
  // Phase 1: the token is already past its exp (the relay takes it within
  // its 30 s token_skew), as in a tab that slept; phase 2: tokens are fresh.
  const s = await stack(t, { secret: SECRET }, () =>
    sign({ alg: 'HS256', typ: 'JWT' }, { channels, exp: phase === 1 ? now() - 10 : now() + 3600 }, SECRET),
  );
  const tab = await single(s, ['private-e'], { token: 'fetch', tokenMargin: 0 });
  const a = await pubOk(s.pub, 'ws', 'private-e', 'a');
  await waitData(tab, 'private-e', 'a');
  // The relay comes back without the skew: the expired token no longer passes.
  // Token calls are counted from before the restart: the tab may fetch one
  // as soon as it sees the close, before the restart resolves (fresh-clone
  // run 40 counted after and missed that fetch).
  const calls = await tab.evaluate(() => T.tokenCalls);
  await s.restart({ token_skew: 0 });
  phase = 2;
  const b = await pubOk(s.pub, 'ws', 'private-e', 'b');
  s.gate.reopen();
  await waitData(tab, 'private-e', 'b');
  assert.ok((await tab.evaluate(() => T.tokenCalls)) > calls, 'a new token was fetched');
  assert.deepEqual(await got(tab, 'private-e'), [
    [a.id, 'a'],
    [b.id, 'b'],
  ]);
  assert.equal((await s.relay.metrics())['herald_resumes_total{result="gap"}'] ?? 0, 0);
});
