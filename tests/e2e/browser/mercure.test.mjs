// Chromium's own EventSource on the Mercure front: a page of the app's
// origin (listed in mercure_cors_origins) subscribes with withCredentials,
// so the mercureAuthorization cookie set for the relay's host goes with
// it (same site, another port: a credentialed CORS request). With the
// cookie the page receives a private update; a browser without it does
// not (proven by a public sentinel published after). Every wait is for
// something a page shows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { launchBrowser, freePort } from './lib/stack.mjs';
import { Relay } from '../lib/harness.mjs';
import { mercureFlags, subJwt, publishOk, HUB } from '../lib/mercure.mjs';

const T = { timeout: 30000 };
const TOPIC = 'https://example.com/users/7/inbox';

async function startApp() {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end('<!doctype html><meta charset="utf-8"><title>mercure</title>');
  });
  const port = await freePort();
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${port}/`, origin: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(r)) };
}

// A page that subscribes to the topics with withCredentials; every event's
// data goes to window.got, errors to window.errors.
async function subscriberPage(browser, app, hubUrl) {
  const page = await browser.newPage();
  await page.goto(app.url);
  await page.evaluate((url) => {
    window.got = [];
    window.errors = 0;
    const es = new EventSource(url, { withCredentials: true });
    es.onopen = () => (window.opened = true);
    es.onmessage = (e) => window.got.push([e.data, e.lastEventId]);
    es.onerror = () => window.errors++;
    window.es = es;
  }, hubUrl);
  await page.waitForFunction(() => window.opened === true, null, T);
  return page;
}

test("Chromium's EventSource with withCredentials: the mercureAuthorization cookie lets a page receive a private update; without it, only the public one", async (t) => {
  const app = await startApp();
  const relay = await new Relay({ flags: mercureFlags({ mercure_cors_origins: app.origin }) }).start();
  const withCookie = await launchBrowser();
  const without = await launchBrowser();
  t.after(async () => {
    await withCookie.close();
    await without.close();
    await app.close();
  });
  // The cookie is the relay host's (127.0.0.1: also the app's, ports aside).
  await withCookie.addCookies([{ name: 'mercureAuthorization', value: subJwt([TOPIC]), url: relay.url('/') }]);
  const hubUrl = relay.url(`${HUB}?topic=${encodeURIComponent(TOPIC)}`);
  const a = await subscriberPage(withCookie, app, hubUrl);
  const b = await subscriberPage(without, app, hubUrl);

  const secretId = await publishOk(relay, { topic: TOPIC, data: 'secret', private: 'on' });
  await publishOk(relay, { topic: TOPIC, data: 'public' });
  const done = (page) => page.waitForFunction(() => window.got.some(([d]) => d === 'public'), null, T);
  await done(a);
  await done(b);
  const gotA = await a.evaluate(() => window.got);
  const gotB = await b.evaluate(() => window.got);
  assert.deepEqual(gotA.map(([d]) => d), ['secret', 'public'], 'with the cookie');
  assert.equal(gotA[0][1], secretId);
  assert.deepEqual(gotB.map(([d]) => d), ['public'], 'without the cookie');
  assert.deepEqual(await a.evaluate(() => window.errors), 0);
  assert.deepEqual([...withCookie.pageErrors, ...without.pageErrors], []);
  await a.evaluate(() => window.es.close());
  await b.evaluate(() => window.es.close());
  await relay.stopClean();
});
