// `make demo`'s script as a newcomer runs it (scripts/demo.sh: the relay,
// php -S and the publisher, on free ports here), loaded in Chromium: the
// charts and cards change with published metrics, a test alert raised over
// HTTP reaches the alert feed of every tab, a notification sent from one tab
// reaches the other, all through the browser client (packages/herald-client)
// on one herald.v1 WebSocket that the tabs share. Eight tabs over HTTP/1.1
// all work (eight EventSources would not: the browser gives an origin six
// HTTP/1.1 connections). Ctrl-C (SIGTERM) stops everything. A screenshot goes to build/test-logs/demo.png (and to
// $DEMO_SCREENSHOT when set: docs/demo.png is made that way).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { once } from 'node:events';
import { ROOT, freePort, newPage } from './lib/stack.mjs';
import { runDemo, startDemo, portFree, relayConnections, relayOpen } from './lib/demo.mjs';

test('make demo: the dashboard shows live metrics, alerts and notifications; Ctrl-C stops everything', async (t) => {
  const { demo, browser, url, port, relayPort, socket } = await startDemo(t);

  const tab1 = await newPage(browser, url);
  const tab2 = await newPage(browser, url);
  for (const tab of [tab1, tab2]) await tab.waitForFunction(relayOpen, null, { timeout: 30000 });
  // One tab holds the connection, the other shares it.
  const roles = await Promise.all([tab1, tab2].map((tab) => tab.getAttribute('#relay-status', 'data-role')));
  assert.deepEqual(roles.sort(), ['follower', 'leader']);

  // Metrics: the cards fill in and the charts grow, then change again.
  await tab1.waitForFunction(() => Number(document.getElementById('chart-usage').dataset.points) >= 3, null, {
    timeout: 30000,
  });
  assert.match(await tab1.textContent('#cpu-value'), /^\d+\.\d %$/);
  assert.match(await tab1.textContent('#mem-sub'), /of \d/);
  assert.match(await tab1.textContent('#checks'), /relay [\d.]+ ms/);
  const points = Number(await tab1.getAttribute('#chart-usage', 'data-points'));
  await tab1.waitForFunction(
    (n) => Number(document.getElementById('chart-net').dataset.points) > n,
    points,
    { timeout: 30000 },
  );

  // An alert raised by a PHP request reaches the feed of both tabs.
  await tab2.click('#raise-alert');
  for (const tab of [tab1, tab2]) {
    await tab.waitForFunction(() => document.querySelector('#alerts li[data-rule="manual"]'), null, {
      timeout: 30000,
    });
    assert.match(await tab.textContent('#alerts li[data-rule="manual"]'), /Test alert raised from the dashboard/);
    assert.equal(await tab.isHidden('#alerts-empty'), true);
  }

  // A notification sent from tab 1 arrives in tab 2 (published by PHP).
  await tab1.fill('#notify-from', 'Ada');
  await tab1.fill('#notify-text', 'Deploy of v2.3 finished ✓');
  await tab1.click('#notify-form button[type=submit]');
  await tab2.waitForFunction(() => document.querySelectorAll('#notifications li').length >= 1, null, {
    timeout: 30000,
  });
  assert.equal(await tab2.textContent('#notifications li b'), 'Ada');
  assert.equal(await tab2.textContent('#notifications li .msg'), 'Deploy of v2.3 finished ✓');
  await tab1.waitForFunction(() => document.getElementById('notify-text').value === '');
  // The pages' live traffic goes straight to the relay, on one herald.v1
  // WebSocket for both tabs, and no EventSource.
  assert.equal(await relayConnections(relayPort, 'herald.v1'), 1);
  assert.equal(await relayConnections(relayPort, 'sse'), 0);
  assert.ok(!tab1.responses.concat(tab2.responses).some((r) => r.url.includes('/sse?')));
  assert.deepEqual(browser.pageErrors, []);

  // The screenshot (DEMO_SHOT_POINTS: wait for fuller charts first).
  const want = Number(process.env.DEMO_SHOT_POINTS || 0);
  if (want) {
    await tab1.waitForFunction((n) => Number(document.getElementById('chart-usage').dataset.points) >= n, want, {
      timeout: 180000,
    });
  }
  const shot = path.join(ROOT, 'build/test-logs/demo.png');
  fs.mkdirSync(path.dirname(shot), { recursive: true });
  await tab1.screenshot({ path: shot, fullPage: true });
  if (process.env.DEMO_SCREENSHOT) fs.copyFileSync(shot, path.resolve(ROOT, process.env.DEMO_SCREENSHOT));

  // Ctrl-C: the terminal sends SIGINT to the whole foreground process group.
  // Every child stops, ports and socket are released, the script exits 0.
  process.kill(-demo.proc.pid, 'SIGINT');
  const r = await demo.exit;
  await demo.closed;
  assert.deepEqual(r, { code: 0, signal: null }, demo.err);
  assert.match(demo.out, /stopping/);
  assert.ok(await portFree(relayPort), 'relay stopped');
  assert.ok(await portFree(port), 'php -S stopped');
  assert.equal(fs.existsSync(socket), false, 'the relay removed its socket');
});

test('make demo: eight dashboard tabs over HTTP/1.1 all load and go live on one shared connection', async (t) => {
  const { demo, browser, url, relayPort } = await startDemo(t);
  const tabs = [];
  for (let i = 0; i < 8; i++) tabs.push(await newPage(browser, url));
  for (const tab of tabs) {
    await tab.waitForFunction(relayOpen, null, { timeout: 30000 });
    await tab.waitForFunction(() => Number(document.getElementById('chart-usage').dataset.points) >= 1, null, {
      timeout: 30000,
    });
  }
  const roles = await Promise.all(tabs.map((tab) => tab.getAttribute('#relay-status', 'data-role')));
  assert.equal(roles.filter((r) => r === 'leader').length, 1, String(roles));
  assert.equal(roles.filter((r) => r === 'follower').length, 7, String(roles));
  // The pages came over HTTP/1.1 (php -S), where eight EventSources could not all open.
  assert.equal(tabs[7].protocolOf(url), 'http/1.1');
  // An alert raised in the last tab reaches all eight, once each.
  await tabs[7].click('#raise-alert');
  for (const tab of tabs) {
    await tab.waitForFunction(() => document.querySelector('#alerts li[data-rule="manual"]'), null, { timeout: 30000 });
  }
  // A notification from the first tab: its arrival everywhere also proves
  // that the alert was not delivered twice meanwhile.
  await tabs[0].fill('#notify-text', 'eight tabs');
  await tabs[0].click('#notify-form button[type=submit]');
  for (const tab of tabs) {
    await tab.waitForFunction(() => document.querySelectorAll('#notifications li').length >= 1, null, { timeout: 30000 });
    assert.equal(await tab.locator('#alerts li[data-rule="manual"]').count(), 1);
    assert.equal(await tab.textContent('#notifications li .msg'), 'eight tabs');
    assert.equal(await tab.locator('#notifications li').count(), 1);
  }
  assert.equal(await relayConnections(relayPort, 'herald.v1'), 1, 'one WebSocket for eight tabs');
  assert.equal(await relayConnections(relayPort, 'sse'), 0);
  assert.deepEqual(browser.pageErrors, []);
  process.kill(-demo.proc.pid, 'SIGINT');
  assert.deepEqual(await demo.exit, { code: 0, signal: null }, demo.err);
});

test('make demo refuses clearly when a port is taken, and starts nothing', async () => {
  const busy = net.createServer().listen(0, '127.0.0.1');
  await once(busy, 'listening');
  const taken = busy.address().port;
  const relayPort = await freePort();
  try {
    const demo = runDemo({ DEMO_RELAY_PORT: String(relayPort), DEMO_PORT: String(taken), DEMO_SOCKET: '/nonexistent/x.sock' });
    const r = await demo.exit;
    await demo.closed;
    assert.equal(r.code, 1);
    assert.match(demo.err, new RegExp(`port 127\\.0\\.0\\.1:${taken} is already in use`));
    assert.match(demo.err, /DEMO_PORT=/);
    assert.ok(await portFree(relayPort), 'no relay was left running');
  } finally {
    busy.close();
  }
});
