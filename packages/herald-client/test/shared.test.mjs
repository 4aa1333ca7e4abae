// One connection per origin, shared by all its tabs (Web Locks elect the
// leader, BroadcastChannel carries the rest), in headless Chromium against
// a real relay. The pages come from an HTTP/1.1 origin (node's http on
// 127.0.0.1), the relay is on its own port behind a gate (a TCP proxy that
// counts connections and can keep clients away while the relay restarts).
//  - eight tabs: exactly one WebSocket at the relay, every tab receives every
//    message once, in order;
//  - the leader tab closes mid-stream: another tab leads, and every remaining
//    tab has every message once;
//  - the relay stops cleanly (SIGTERM, state file) and comes back: every tab
//    resumes exactly, also what was published before any could reconnect.
// HERALD_CLIENT_TRANSPORT=sse runs the same tests over the SSE transport.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Relay, Publisher, pubOk, tmpdir, waitFor, launchBrowser, pageServer, gate, openTab, got, v1Connections } from './lib.mjs';

const TRANSPORT = process.env.HERALD_CLIENT_TRANSPORT || 'websocket';
const T_PUB = TRANSPORT === 'sse' ? 'sse' : 'ws';

async function stack(t, flags = {}) {
  const s = {};
  t.after(async () => {
    if (s.browser) await s.browser.close();
    if (s.gate) await s.gate.stop();
    if (s.pages) await s.pages.stop();
    if (s.pub) s.pub.close();
    if (s.relay) await s.relay.stopClean();
  });
  s.pages = await pageServer();
  s.socket = path.join(tmpdir('herald-client-shared-'), 'relay.sock');
  s.flags = { cors_origin: s.pages.origin, ws_origins: s.pages.origin, drain_ms: 0, ...flags };
  s.relay = await new Relay({ socket: s.socket, flags: s.flags }).start();
  s.gate = await gate(s.relay.port);
  s.pub = await new Publisher(s.socket).connect();
  s.browser = await launchBrowser();
  return s;
}

// n tabs of one origin, each with a shared client subscribed to channels.
async function tabs(s, n, channels) {
  const list = [];
  for (let i = 0; i < n; i++) {
    const tab = await openTab(s.browser, s.pages.origin, `/?tab=${i}`);
    await tab.evaluate(
      ([url, transport, chs]) => {
        T.start(url, { shared: true, transport });
        for (const ch of chs) T.sub(ch);
        return true;
      },
      [s.gate.url, TRANSPORT, channels],
    );
    list.push(tab);
  }
  await settled(list);
  return list;
}

// Every tab open, exactly one leader.
async function settled(list) {
  for (const tab of list) await tab.waitForFunction(() => T.state === 'open' && (T.role === 'leader' || T.role === 'follower'));
  const roles = await Promise.all(list.map((tab) => tab.evaluate(() => T.role)));
  assert.equal(roles.filter((r) => r === 'leader').length, 1, `one leader: ${roles}`);
  return list[roles.indexOf('leader')];
}

// The relay holds the subscription of the shared connection.
async function subscribedAtRelay(s, n) {
  await waitFor(async () => (await s.relay.metrics()).herald_subscriptions === n, `${n} subscriptions at the relay`);
}

async function publishMany(s, channel, prefix, n) {
  const ids = [];
  for (let i = 0; i < n; i++) ids.push([(await pubOk(s.pub, T_PUB, channel, `${prefix}${i}`)).id, `${prefix}${i}`]);
  return ids;
}

async function waitSentinel(list, channel, data) {
  for (const tab of list) {
    await tab.waitForFunction(([ch, d]) => (T.got[ch] || []).some((m) => m.data === d), [channel, data], { timeout: 60000 });
  }
}

test(`eight tabs of one HTTP/1.1 origin share one connection (${TRANSPORT}); each tab gets every message once`, async (t) => {
  const s = await stack(t);
  const list = await tabs(s, 8, ['feed']);
  await subscribedAtRelay(s, 1);
  const sent = await publishMany(s, 'feed', 'm', 30);
  const end = await pubOk(s.pub, T_PUB, 'feed', 'sentinel');
  sent.push([end.id, 'sentinel']);
  await waitSentinel(list, 'feed', 'sentinel');
  for (const tab of list) assert.deepEqual(await got(tab, 'feed'), sent);
  const m = await s.relay.metrics();
  if (TRANSPORT === 'websocket') {
    assert.equal(await v1Connections(s.relay), 1, 'one herald.v1 connection at the relay');
    assert.equal(m['herald_connections{transport="ws"}'] ?? 0, 0);
  } else {
    assert.equal(m['herald_connections{transport="sse"}'], 1, 'one SSE stream at the relay');
  }
  assert.equal(s.gate.accepted, 1, 'one TCP connection to the relay from eight tabs');
  // The pages themselves came over HTTP/1.1.
  const proto = await list[7].evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol);
  assert.equal(proto, 'http/1.1');
});

test(`the leader tab closes mid-stream (${TRANSPORT}): another tab leads, nothing is lost or doubled`, async (t) => {
  const s = await stack(t);
  let list = await tabs(s, 4, ['feed']);
  await subscribedAtRelay(s, 1);
  const leader = await settled(list);
  const sent = await publishMany(s, 'feed', 'a', 10);
  await leader.waitForFunction(() => T.got.feed.length >= 10);
  // Publishing goes on while the leader tab closes; the gate then refuses
  // new connections until more is published, so the next leader can only
  // get those by resuming from the last ids the tabs share.
  const stream = publishMany(s, 'feed', 'b', 40);
  s.gate.hold();
  const accepted = s.gate.accepted;
  await leader.close();
  list = list.filter((x) => x !== leader);
  sent.push(...(await stream));
  await waitFor(() => s.gate.refused > 0, 'the next leader tries to connect');
  sent.push(...(await publishMany(s, 'feed', 'c', 10)));
  s.gate.reopen();
  await waitFor(() => s.gate.accepted > accepted, 'the next leader connects');
  const newLeader = await settled(list);
  assert.notEqual(newLeader, leader);
  const end = await pubOk(s.pub, T_PUB, 'feed', 'sentinel');
  sent.push([end.id, 'sentinel']);
  await waitSentinel(list, 'feed', 'sentinel');
  for (const tab of list) {
    assert.deepEqual(await tab.evaluate(() => T.dupes('feed')), []);
    assert.deepEqual(await got(tab, 'feed'), sent);
    assert.deepEqual(await tab.evaluate(() => T.gaps), []);
  }
  if (TRANSPORT === 'websocket') await waitFor(async () => (await v1Connections(s.relay)) === 1, 'one connection again');
});

test(`the relay stops cleanly and comes back (${TRANSPORT}): every tab resumes every channel exactly`, async (t) => {
  const s = await stack(t);
  const list = await tabs(s, 4, ['x', 'y']);
  await subscribedAtRelay(s, 2);
  const sx = await publishMany(s, 'x', 'x', 3);
  const sy = await publishMany(s, 'y', 'y', 3);
  await waitSentinel(list, 'y', 'y2');
  await waitSentinel(list, 'x', 'x2');

  s.gate.close();
  s.pub.close();
  await s.relay.stopClean();
  for (const tab of list) await tab.waitForFunction(() => T.state !== 'open');
  s.relay = await new Relay({ socket: s.socket, flags: s.flags }).start();
  s.gate.target = s.relay.port;
  s.pub = await new Publisher(s.socket).connect();
  // Published while no tab can reach the relay: only a resume brings these.
  sx.push(...(await publishMany(s, 'x', 'away-x', 3)));
  sy.push(...(await publishMany(s, 'y', 'away-y', 2)));
  s.gate.reopen();
  await settled(list);
  const end = await pubOk(s.pub, T_PUB, ['x', 'y'], 'sentinel');
  sx.push([end.id, 'sentinel']);
  sy.push([end.id, 'sentinel']);
  await waitSentinel(list, 'x', 'sentinel');
  await waitSentinel(list, 'y', 'sentinel');
  for (const tab of list) {
    assert.deepEqual(await got(tab, 'x'), sx);
    assert.deepEqual(await got(tab, 'y'), sy);
    assert.deepEqual(await tab.evaluate(() => T.gaps), []);
  }
  const m = await s.relay.metrics();
  if (TRANSPORT === 'websocket') assert.equal(await v1Connections(s.relay), 1);
  assert.equal(m['herald_resumes_total{result="gap"}'] ?? 0, 0);
});

test(`without Web Locks each tab has its own connection (${TRANSPORT}), and still gets every message once`, async (t) => {
  const s = await stack(t);
  // A browser without navigator.locks (before any script of the page runs).
  await s.browser.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined, configurable: true });
  });
  const list = [];
  for (let i = 0; i < 2; i++) {
    const tab = await openTab(s.browser, s.pages.origin, `/?tab=${i}`);
    await tab.evaluate(([url, transport]) => T.start(url, { shared: true, transport }) && T.sub('feed'), [s.gate.url, TRANSPORT]);
    list.push(tab);
  }
  for (const tab of list) await tab.waitForFunction(() => T.state === 'open' && T.role === 'single');
  await subscribedAtRelay(s, 2);
  const sent = await publishMany(s, 'feed', 'm', 5);
  await waitSentinel(list, 'feed', 'm4');
  for (const tab of list) assert.deepEqual(await got(tab, 'feed'), sent);
  assert.equal(s.gate.accepted, 2, 'one connection per tab');
});
