// permessage-deflate with Chromium (docs/PROTOCOL.md 2.4): a page's
// WebSocket negotiates it with the relay (ws.extensions names what the
// relay answered), subscribes with a message Chromium compresses, and
// receives a large JSON message (compressed) and a small one (plain)
// exactly; a herald.v1 socket in the same page too. Every wait is for
// something the page or the relay's metrics show.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { launchBrowser, freePort } from './lib/stack.mjs';
import { Relay, Publisher, waitFor } from '../lib/harness.mjs';

const T = { timeout: 60000 };

function metricsJson(n) {
  const hosts = {};
  for (let i = 0; i < 12; i++) hosts[`web-${i}`] = { cpu: (i * 7.3 + n) % 100, mem: 1024 + i * 37, rps: 200 + i * n };
  return JSON.stringify({ type: 'metrics', seq: n, hosts });
}

async function startPage() {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end('<!doctype html><meta charset="utf-8"><title>deflate</title>');
  });
  const port = await freePort();
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((r) => server.close(r)) };
}

test('Chromium negotiates permessage-deflate, sends compressed, receives large and small messages exactly', T, async (t) => {
  const relay = await new Relay().start();
  const pub = await new Publisher(relay.socket).connect();
  const site = await startPage();
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await site.close();
  });
  const page = await browser.newPage();
  await page.goto(site.url);
  const ext = await page.evaluate(async (port) => {
    const open = (proto) =>
      new Promise((resolve, reject) => {
        const ws = proto ? new WebSocket(`ws://127.0.0.1:${port}/ws`, proto) : new WebSocket(`ws://127.0.0.1:${port}/ws`);
        const got = [];
        ws.onmessage = (e) => got.push(e.data);
        ws.onopen = () => resolve({ ws, got });
        ws.onerror = () => reject(new Error('WebSocket failed'));
      });
    window.raw = await open();
    window.herald = await open('herald.v1');
    window.raw.ws.send(JSON.stringify({ type: 'subscribe', channel: 'dash' }));
    window.herald.ws.send(JSON.stringify({ type: 'subscribe', channel: 'dash' }));
    return [window.raw.ws.extensions, window.herald.ws.extensions, window.herald.ws.protocol];
  }, relay.port);
  assert.equal(ext[0], 'permessage-deflate; server_no_context_takeover');
  assert.equal(ext[1], 'permessage-deflate; server_no_context_takeover');
  assert.equal(ext[2], 'herald.v1');
  const replies = () => page.evaluate(() => [window.raw.got.length, window.herald.got.length]);
  await waitFor(async () => {
    const [a, b] = await replies();
    return a >= 1 && b >= 1;
  }, 'subscribed in the page');

  const big = metricsJson(1);
  const small = '{"small":1}';
  const r1 = await pub.pubAck('ws', 'dash', big, { json: true });
  const r2 = await pub.pubAck('ws', 'dash', small, { json: true });
  await waitFor(async () => {
    const [a, b] = await replies();
    return a >= 3 && b >= 3;
  }, 'the messages in the page');
  const [raw, herald] = await page.evaluate(() => [window.raw.got, window.herald.got]);
  assert.deepEqual(raw, ['{"type":"subscribed","channel":"dash"}', big, small]);
  assert.equal(JSON.parse(herald[0]).type, 'subscribed');
  assert.deepEqual(JSON.parse(herald[1]), { type: 'message', channel: 'dash', id: r1.id, data: JSON.parse(big) });
  assert.deepEqual(JSON.parse(herald[2]), { type: 'message', channel: 'dash', id: r2.id, data: { small: 1 } });

  const m = await relay.metrics();
  assert.equal(m['herald_ws_deflate_total{result="negotiated"}'], 2);
  // Each transport's encoding compressed once (the small one not at all).
  assert.ok(m['herald_ws_deflate_bytes_total{dir="out",kind="compressed"}'] < m['herald_ws_deflate_bytes_total{dir="out",kind="raw"}'] / 2);
  // Chromium compressed its subscribe messages; they inflated.
  assert.equal(
    m['herald_ws_deflate_bytes_total{dir="in",kind="raw"}'],
    JSON.stringify({ type: 'subscribe', channel: 'dash' }).length * 2,
  );
  await pub.close();
  await relay.stopClean();
});
