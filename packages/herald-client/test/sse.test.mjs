// The SSE side of the client against a real relay: the fallback when the
// relay refuses the WebSocket (ws_origins without the page's origin), or
// when it was away at page load (and the return to herald.v1 after), and
// transport: 'sse' resuming every channel from its own last id after a
// clean relay restart (state file), with nothing lost or doubled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Relay, Publisher, pubOk, tmpdir, launchBrowser, pageServer, gate, openTab, got, waitData } from './lib.mjs';

async function stack(t, flags = {}) {
  const s = {};
  // First, so that it runs before the harness's own after() (which kills a
  // relay still running when its test ends).
  t.after(async () => {
    if (s.browser) await s.browser.close();
    if (s.gate) await s.gate.stop();
    if (s.pages) await s.pages.stop();
    if (s.pub) s.pub.close();
    if (s.relay) await s.relay.stopClean();
  });
  s.pages = await pageServer();
  s.socket = path.join(tmpdir('herald-client-sse-'), 'relay.sock');
  s.flags = { cors_origin: s.pages.origin, drain_ms: 0, ...flags };
  s.relay = await new Relay({ socket: s.socket, flags: s.flags }).start();
  s.gate = await gate(s.relay.port);
  s.pub = await new Publisher(s.socket).connect();
  s.browser = await launchBrowser();
  return s;
}

test('auto: a relay that refuses the WebSocket (ws_origins) is reached over SSE, named events included', async (t) => {
  const s = await stack(t, { ws_origins: 'http://elsewhere.example' });
  const tab = await openTab(s.browser, s.pages.origin);
  await tab.evaluate((url) => T.start(url, { shared: false, events: ['note'] }) && T.sub('news'), s.gate.url);
  await tab.waitForFunction(() => T.transport === 'sse' && T.state === 'open');
  // The WebSocket was tried first, and refused by the relay.
  assert.ok((await s.relay.metrics())['herald_auth_refused_total{reason="origin"}'] >= 1);
  const a = await pubOk(s.pub, 'sse', 'news', 'plain');
  const b = await pubOk(s.pub, 'sse', 'news', '{"n":2}', { event: 'note' });
  const c = await pubOk(s.pub, 'sse', 'news', 'last');
  await waitData(tab, 'news', 'last');
  assert.deepEqual(await tab.evaluate(() => T.got.news.map((m) => [m.channel, m.id, m.data, m.event, m.binary])), [
    ['news', a.id, 'plain', null, false],
    ['news', b.id, '{"n":2}', 'note', false],
    ['news', c.id, 'last', null, false],
  ]);
  const st = await tab.evaluate(() => T.statuses.map((x) => x.state));
  assert.ok(st.includes('fallback'), JSON.stringify(st));
  // send() needs herald.v1: over SSE it says so.
  const r = await tab.evaluate(() => T.send({ x: 1 }));
  assert.equal(r.ok, false);
  assert.match(r.error, /herald\.v1 WebSocket transport/);
});

test("transport 'sse': after a clean relay restart every channel resumes from its own last id, exactly", async (t) => {
  const s = await stack(t);
  const tab = await openTab(s.browser, s.pages.origin);
  await tab.evaluate((url) => T.start(url, { shared: false, transport: 'sse' }) && T.sub('a') && T.sub('b'), s.gate.url);
  await tab.waitForFunction(() => T.state === 'open');
  // Each stream is open once its first block arrived; a message proves it.
  const before = [];
  before.push(await pubOk(s.pub, 'sse', 'a', 'a1'));
  before.push(await pubOk(s.pub, 'sse', 'b', 'b1'));
  await waitData(tab, 'a', 'a1');
  await waitData(tab, 'b', 'b1');

  // The relay goes away (clean stop: the state file) and comes back; what is
  // published before any client can reach it must come by resume.
  s.gate.close();
  s.pub.close();
  await s.relay.stopClean();
  s.relay = await new Relay({ socket: s.socket, flags: s.flags }).start();
  s.gate.target = s.relay.port;
  s.pub = await new Publisher(s.socket).connect();
  const a2 = await pubOk(s.pub, 'sse', 'a', 'a2');
  const b2 = await pubOk(s.pub, 'sse', 'b', 'b2');
  const ab = await pubOk(s.pub, 'sse', ['a', 'b'], 'both');
  assert.equal(a2.id.split('-')[0], before[0].id.split('-')[0], 'same id space after a clean restart');
  s.gate.reopen();
  await waitData(tab, 'a', 'both');
  await waitData(tab, 'b', 'both');
  const last = await pubOk(s.pub, 'sse', ['a', 'b'], 'sentinel');
  await waitData(tab, 'a', 'sentinel');
  await waitData(tab, 'b', 'sentinel');
  assert.deepEqual(await got(tab, 'a'), [
    [before[0].id, 'a1'],
    [a2.id, 'a2'],
    [ab.id, 'both'],
    [last.id, 'sentinel'],
  ]);
  assert.deepEqual(await got(tab, 'b'), [
    [before[1].id, 'b1'],
    [b2.id, 'b2'],
    [ab.id, 'both'],
    [last.id, 'sentinel'],
  ]);
  assert.deepEqual(await tab.evaluate(() => T.gaps), []);
  assert.equal((await s.relay.metrics())['herald_resumes_total{result="exact"}'], 2);
});

test('auto: a relay away at page load means SSE first, then herald.v1 once a WebSocket opens', async (t) => {
  const s = await stack(t); // ws_origins: any
  s.gate.close(); // the relay is away
  const tab = await openTab(s.browser, s.pages.origin);
  await tab.evaluate(
    (url) => T.start(url, { shared: false, backoffBase: 100, wsProbeInterval: 200 }) && T.sub('news'),
    s.gate.url,
  );
  await tab.waitForFunction(() => T.statuses.some((x) => x.state === 'fallback'));
  s.gate.reopen();
  await tab.waitForFunction(() => T.transport === 'websocket' && T.state === 'open', null, { timeout: 60000 });
  await tab.waitForFunction(() => T.controls.some((c) => c.type === 'subscribed' && c.channel === 'news'));
  const a = await pubOk(s.pub, 'ws', 'news', 'ws_publish reaches herald.v1 only');
  await waitData(tab, 'news', 'ws_publish reaches herald.v1 only');
  assert.deepEqual(await got(tab, 'news'), [[a.id, 'ws_publish reaches herald.v1 only']]);
  assert.equal(s.gate.accepted >= 2, true, 'an EventSource, then the WebSocket');
});
