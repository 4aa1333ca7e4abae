// What the client's tests share: a real relay (tests/e2e/lib/harness.mjs,
// HERALD_RELAY picks the binary, as in the e2e suite), a page server on its
// own HTTP/1.1 origin (node's http, 127.0.0.1) serving the package's files
// and a test page, a gate (a TCP proxy the test can close, so clients are
// kept away while a relay restarts), and headless Chromium through
// playwright-core (tests/e2e/browser/lib/stack.mjs). Nothing here sleeps:
// tests wait for states (page.waitForFunction) and sentinel messages.
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Relay, Publisher, pubOk, tmpdir, waitFor, freePort } from '../../../tests/e2e/lib/harness.mjs';
import { launchBrowser } from '../../../tests/e2e/browser/lib/stack.mjs';

export { Relay, Publisher, pubOk, tmpdir, waitFor, freePort, launchBrowser };

export const PKG = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>herald-client test</title><link rel="icon" href="data:,"></head>
<body><pre id="log"></pre>
<script type="module" src="/page.mjs"></script>
</body></html>`;

const PAGE_GLOBAL = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>herald-client test (classic script)</title><link rel="icon" href="data:,"></head>
<body><pre id="log"></pre>
<script src="/herald-client.global.js"></script>
<script>window.HERALD_GLOBAL = typeof Herald === 'function' && typeof Herald.backoffDelay === 'function';</script>
</body></html>`;

const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.html': 'text/html' };

// The pages' origin: an HTTP/1.1 server on 127.0.0.1. extra(req, res)
// may answer a request first (returns true when it did).
export async function pageServer(extra = () => false) {
  const srv = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (extra(req, res, url)) return;
    let body;
    let type = 'text/html';
    if (url.pathname === '/') body = PAGE;
    else if (url.pathname === '/global.html') body = PAGE_GLOBAL;
    else if (url.pathname === '/page.mjs') {
      body = fs.readFileSync(path.join(PKG, 'test/page.mjs'));
      type = TYPES['.mjs'];
    } else if (/^\/herald-client(\.global)?\.js$/.test(url.pathname)) {
      body = fs.readFileSync(path.join(PKG, url.pathname.slice(1)));
      type = TYPES['.js'];
    } else {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-store' });
    res.end(body);
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  srv.origin = `http://127.0.0.1:${srv.address().port}`;
  const sockets = new Set();
  srv.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  srv.stop = async () => {
    for (const s of sockets) s.destroy();
    srv.close();
    await once(srv, 'close');
  };
  return srv;
}

// A TCP proxy in front of the relay that counts connections and can be
// closed: closed, it resets every connection at once (a relay that is away),
// so a test decides when clients may come back; held, it refuses new
// connections and keeps the open ones.
export async function gate(targetPort) {
  const g = { open: true, accepted: 0, refused: 0, live: new Set(), target: targetPort };
  g.server = net.createServer((c) => {
    if (!g.open) {
      g.refused++;
      c.destroy();
      return;
    }
    g.accepted++;
    const up = net.connect(g.target, '127.0.0.1');
    g.live.add(c);
    const end = () => {
      g.live.delete(c);
      c.destroy();
      up.destroy();
    };
    c.on('error', end);
    up.on('error', end);
    c.on('close', end);
    up.on('close', end);
    c.pipe(up);
    up.pipe(c);
  });
  g.server.listen(0, '127.0.0.1');
  await once(g.server, 'listening');
  g.port = g.server.address().port;
  g.url = `http://127.0.0.1:${g.port}`;
  g.close = () => {
    g.open = false;
    for (const c of g.live) c.destroy();
  };
  // Closed to new connections only: the open ones go on.
  g.hold = () => (g.open = false);
  g.reopen = () => (g.open = true);
  g.stop = async () => {
    g.close();
    g.server.close();
    await once(g.server, 'close');
  };
  return g;
}

// A Chromium tab on the page server, the client module loaded.
export async function openTab(browser, origin, pathAndQuery = '/') {
  const page = await browser.newPage();
  page.on('console', (m) => {
    if (process.env.HERALD_CLIENT_DEBUG) console.log('[page]', m.text());
  });
  await page.goto(origin + pathAndQuery);
  await page.waitForFunction(() => window.T && window.T.ready);
  return page;
}

// The relay's current count of herald.v1 connections (/metrics).
export async function v1Connections(relay) {
  const m = await relay.metrics();
  return m['herald_connections{transport="herald.v1"}'] ?? 0;
}

// Every tab's messages on a channel, as [id, data] pairs.
export function got(page, channel) {
  return page.evaluate((ch) => (window.T.got[ch] || []).map((m) => [m.id, m.data]), channel);
}

export function waitGot(page, channel, pred, arg) {
  return page.waitForFunction(
    ([ch, src, a]) => {
      const list = window.T.got[ch] || [];
      // eslint-disable-next-line no-new-func
      return new Function('list', 'arg', src)(list, a);
    },
    [channel, pred, arg],
    { timeout: 60000 },
  );
}

// Waits until a page has received the message whose data is `data` on channel.
export function waitData(page, channel, data) {
  return page.waitForFunction(
    ([ch, d]) => (window.T.got[ch] || []).some((m) => JSON.stringify(m.data) === JSON.stringify(d)),
    [channel, data],
    { timeout: 60000 },
  );
}
