// nginx (packaging/nginx/site.conf + herald.conf) in front of PHP-FPM
// (packaging/php-fpm/app.conf) and the relay: a page served by PHP-FPM whose
// EventSource and herald.v1 WebSocket (the shipped client,
// packages/herald-client) receive what PHP requests publish, over HTTP/1.1
// and over HTTP/2 with a self-signed certificate; several channels on one
// stream; several tabs; the internal locations stay internal.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, launchBrowser, newPage, request, requestUntil, waitFor } from './lib/stack.mjs';

const waitGot = (page, name, n) =>
  page.waitForFunction(([k, m]) => (window.T.got[k] || []).length >= m, [name, n], { timeout: 30000 });

for (const http2 of [false, true]) {
  const label = http2 ? 'HTTP/2' : 'HTTP/1.1';

  test(`${label}: nginx → PHP-FPM page; its EventSource and herald.v1 WebSocket receive what PHP publishes`, async (t) => {
    const stack = await new Stack({ http2 }).start();
    const browser = await launchBrowser();
    t.after(async () => {
      await browser.close();
      await stack.stop();
    });
    const page = await newPage(browser, stack.url('/'));
    // The page came from PHP-FPM with the extension loaded, over the protocol wanted.
    assert.equal(await page.getAttribute('meta[name=sapi]', 'content'), 'fpm-fcgi');
    assert.equal(await page.getAttribute('meta[name=herald]', 'content'), 'loaded');
    assert.equal(
      await page.evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol),
      http2 ? 'h2' : 'http/1.1',
    );

    await page.evaluate(() => {
      T.sse('es', '/sse', { channels: ['news'], events: ['update'] });
      T.ws('ws', 'wss://' + location.host + '/ws', ['news']);
    });
    await page.waitForFunction(() => T.streams.es.opens >= 1 && T.streams.ws.subscribed.has('news'));

    // PHP requests (POSTs to publish.php through nginx and PHP-FPM) publish.
    await stack.publishOk({ t: 'sse', ch: 'news', data: 'first' });
    await stack.publishOk({ t: 'sse', ch: 'news', data: { n: 2 }, event: 'update' });
    await stack.publishOk({ t: 'ws', ch: 'news', data: 'over websocket' });
    await stack.publishOk({ t: 'ws', ch: 'news', data: { n: 4, text: 'ünïcødé ✓' } });
    await waitGot(page, 'es', 2);
    await waitGot(page, 'ws', 4);
    const es = await page.evaluate(() => T.got.es);
    assert.deepEqual(
      es.map((e) => [e.type, e.data]),
      [
        ['message', 'first'],
        ['update', '{"n":2}'],
      ],
    );
    assert.match(es[0].id, /^[0-9a-f]+-\d+$/, 'events carry the relay id through nginx');
    // herald.v1 subscribers receive every publish, sse_emit's with its event name.
    const ws = await page.evaluate(() => T.got.ws);
    assert.deepEqual(
      ws.map((m) => [m.data, m.event]),
      [
        ['first', null],
        ['{"n":2}', 'update'],
        ['over websocket', null],
        ['{"n":4,"text":"ünïcødé ✓"}', null],
      ],
    );
    assert.deepEqual(
      ws.slice(0, 2).map((m) => m.id),
      es.map((e) => e.id),
      'one id per message, whatever the transport',
    );
    // The subprotocol came through nginx both ways.
    assert.equal(await page.evaluate(() => T.streams.ws.client.status.transport), 'websocket');
    const m = await request(`http://127.0.0.1:${stack.relayPort}/metrics`);
    assert.match(m.body, /^herald_connections\{transport="herald\.v1"\} 1$/m);
    // The event stream itself went over the same protocol as the page.
    assert.equal(page.protocolOf('/sse?'), http2 ? 'h2' : 'http/1.1');
    assert.deepEqual(browser.pageErrors, []);
  });

  test(`${label}: the proxied stream is unbuffered, keeps the relay's headers, and /_herald is internal`, async () => {
    const s = await new Stack({ http2 }).start();
    try {
      // The first block (retry + id) arrives at once although the stream never
      // ends: nginx passes it on without buffering.
      const r = await requestUntil(s.url('/sse?channel=news'), (b) => /^retry: \d+\nid: \S+\n\n/.test(b));
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'text/event-stream');
      assert.equal(r.headers['cache-control'], 'no-cache');
      assert.equal(r.headers['content-encoding'], undefined);
      // The hand-off locations cannot be requested from outside.
      assert.equal((await request(s.url('/_herald/sse?channel=news'))).status, 404);
      assert.equal((await request(s.url('/_herald/ws?channel=news'))).status, 404);
      // A bad channel still reaches the browser as the relay's 400 (not the
      // outage stream, which is for 502/503/504 only).
      assert.equal((await request(s.url('/sse?channel=' + encodeURIComponent('bad name')))).status, 400);
      // Plain HTTP redirects to HTTPS.
      const plain = await request(`http://127.0.0.1:${s.nginx.plainPort}/`);
      assert.equal(plain.status, 301);
      assert.match(plain.headers.location, /^https:\/\//);
    } finally {
      await s.stop();
    }
  });
}

test('several channels on one EventSource (HTTP/1.1): each message once, publishes to several channels once', async (t) => {
  const stack = await new Stack({ http2: false }).start();
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await stack.stop();
  });
  const page = await newPage(browser, stack.url('/'));
  await page.evaluate(() => {
    T.sse('multi', '/sse', { channels: ['cpu', 'mem', 'disk'] });
    T.sse('cpu', '/sse', { channels: ['cpu'] });
  });
  await page.waitForFunction(() => T.streams.multi.opens >= 1 && T.streams.cpu.opens >= 1);
  await stack.publishOk({ t: 'sse', ch: 'cpu', data: 'c1' });
  await stack.publishOk({ t: 'sse', ch: 'mem', data: 'm1' });
  await stack.publishOk({ t: 'sse', ch: ['cpu', 'mem', 'disk'], data: 'all' });
  await stack.publishOk({ t: 'sse', ch: 'other', data: 'not subscribed' });
  await stack.publishOk({ t: 'sse', ch: 'disk', data: 'd1' });
  await waitGot(page, 'multi', 4);
  await waitGot(page, 'cpu', 2);
  assert.deepEqual(await page.evaluate(() => T.data('multi')), ['c1', 'm1', 'all', 'd1']);
  assert.deepEqual(await page.evaluate(() => T.data('cpu')), ['c1', 'all']);
  // Two EventSources on one page over HTTP/1.1: two of the six connections.
  assert.equal(page.protocolOf('/sse?'), 'http/1.1');
});

test('HTTP/2: eight tabs, each with an EventSource on two channels and a herald.v1 WebSocket, all receive their channels', async (t) => {
  const stack = await new Stack({ http2: true }).start();
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await stack.stop();
  });
  // Tab i listens to "all" and "tab.i" over SSE, "group.(i%2)" over WebSocket:
  // 16 long-lived streams from one browser, past HTTP/1.1's six per host.
  const tabs = [];
  for (let i = 0; i < 8; i++) {
    const page = await newPage(browser, stack.url('/'));
    await page.evaluate((n) => {
      T.sse('es', '/sse', { channels: ['all', 'tab.' + n] });
      T.ws('ws', 'wss://' + location.host + '/ws', ['group.' + (n % 2)]);
    }, i);
    tabs.push(page);
  }
  for (const p of tabs) {
    await p.waitForFunction(() => T.streams.es.opens >= 1 && T.streams.ws.subscribed.size === 1, null, {
      timeout: 30000,
    });
  }
  await stack.publishOk({ t: 'sse', ch: 'all', data: 'to everyone' });
  for (let i = 0; i < 8; i++) await stack.publishOk({ t: 'sse', ch: `tab.${i}`, data: `to tab ${i}` });
  await stack.publishOk({ t: 'ws', ch: 'group.0', data: 'even' });
  await stack.publishOk({ t: 'ws', ch: 'group.1', data: 'odd' });
  for (let i = 0; i < 8; i++) {
    await waitGot(tabs[i], 'es', 2);
    await waitGot(tabs[i], 'ws', 1);
    assert.deepEqual(await tabs[i].evaluate(() => T.data('es')), ['to everyone', `to tab ${i}`]);
    assert.deepEqual(await tabs[i].evaluate(() => T.data('ws')), [i % 2 ? 'odd' : 'even']);
    assert.equal(tabs[i].protocolOf('/sse?'), 'h2');
  }
  // Every stream is open at the same time (the relay counts them).
  const m = await request(`http://127.0.0.1:${stack.relayPort}/metrics`);
  assert.match(m.body, /^herald_connections\{transport="sse"\} 8$/m);
  assert.match(m.body, /^herald_connections\{transport="herald\.v1"\} 8$/m);
  assert.deepEqual(browser.pageErrors, []);
});
