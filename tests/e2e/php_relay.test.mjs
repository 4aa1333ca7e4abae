// The PHP extension against the real relay: what sse_emit() and ws_publish()
// publish from a real php process arrives at real clients (eventsource, ws);
// ack mode, a relay that is down, and a relay restarted under a running PHP
// process. PHP runs as a long-lived worker driven line by line over stdin,
// so every step waits for an answer or a message, never for a fixed time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Relay, sse, wsClient, tmpdir } from './lib/harness.mjs';
import { PhpWorker } from './lib/php.mjs';

test('sse_emit() from PHP reaches a real EventSource: strings, JSON, events, several channels', async () => {
  const relay = await new Relay().start();
  const es = sse(relay.url('/sse?channel=news&channel=alerts'), { events: ['update'] });
  await es.opened;
  const php = new PhpWorker(relay.socket);

  const calls = [
    ['news', 'plain text'],
    ['alerts', { level: 'warn', text: 'Disk 91% full', path: '/var' }],
    ['news', 'line one\nline two'],
    ['news', 'named', 'update'],
    [['news', 'alerts'], 'to both channels, delivered once'],
    ['news', 'ünïcødé ✓ 🚀'],
  ];
  for (const args of calls) {
    const r = await php.call('sse_emit', args);
    assert.deepEqual([r.result, r.error], [true, null], JSON.stringify(args));
  }
  const got = await es.waitCount(calls.length);
  assert.deepEqual(
    got.map((e) => [e.type, e.data]),
    [
      ['message', 'plain text'],
      ['message', '{"level":"warn","text":"Disk 91% full","path":"/var"}'],
      ['message', 'line one\nline two'],
      ['update', 'named'],
      ['message', 'to both channels, delivered once'],
      ['message', 'ünïcødé ✓ 🚀'],
    ],
  );
  for (const e of got) assert.ok(e.id, 'every event has an id');

  es.close();
  assert.equal((await php.stop()).code, 0);
  await relay.stopClean();
});

test('ws_publish() from PHP reaches a real WebSocket client: text, JSON, binary, 1 MiB', async () => {
  const relay = await new Relay().start();
  const ws = await wsClient(relay.wsUrl('/ws?channel=room'));
  const php = new PhpWorker(relay.socket);

  const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const mib = Buffer.alloc(1 << 20);
  for (let i = 0; i < mib.length; i++) mib[i] = (i * 7919) & 0xff;

  assert.equal((await php.call('ws_publish', ['room', 'héllo'])).result, true);
  assert.equal((await php.call('ws_publish', ['room', { a: 1, b: [true, null] }])).result, true);
  assert.equal((await php.call('ws_publish', ['room', bytes, true], { binary: true })).result, true);
  // sse_emit() reaches SSE subscribers only: the next WS message is the marker.
  assert.equal((await php.call('sse_emit', ['room', 'not for WebSocket clients'])).result, true);
  assert.equal((await php.call('ws_publish', ['room', 'marker'])).result, true);
  const r = await php.call('ws_publish', ['room', mib, true], { binary: true, ini: { 'herald.timeout_ms': 5000 } });
  assert.deepEqual([r.result, r.error], [true, null]);

  const got = await ws.waitCount(5);
  assert.deepEqual(got[0], { data: 'héllo', isBinary: false });
  assert.deepEqual(got[1], { data: '{"a":1,"b":[true,null]}', isBinary: false });
  assert.equal(got[2].isBinary, true);
  assert.ok(Buffer.from(got[2].data).equals(bytes));
  assert.deepEqual(got[3], { data: 'marker', isBinary: false });
  assert.equal(got[4].isBinary, true);
  const sha = (b) => createHash('sha256').update(b).digest('hex');
  assert.equal(sha(Buffer.from(got[4].data)), sha(mib));

  ws.ws.close();
  await php.stop();
  await relay.stopClean();
});

test('herald.ack=1 with the real relay: true once acknowledged, and the message is delivered', async () => {
  const relay = await new Relay().start();
  const es = sse(relay.url('/sse?channel=acked'));
  await es.opened;
  const php = new PhpWorker(relay.socket, { 'herald.ack': 1, 'herald.timeout_ms': 2000 });
  for (let i = 0; i < 20; i++) {
    const r = await php.call(i % 2 ? 'sse_emit' : 'ws_publish', ['acked', `m${i}`]);
    assert.deepEqual([r.result, r.error], [true, null]);
  }
  const got = await es.waitCount(10);
  assert.deepEqual(got.map((e) => e.data), ['m1', 'm3', 'm5', 'm7', 'm9', 'm11', 'm13', 'm15', 'm17', 'm19']);
  es.close();
  await php.stop();
  await relay.stopClean();
});

test('relay down, then up, then restarted: false within the timeout, then the same PHP process reconnects', async () => {
  const dir = tmpdir('herald-php-restart-');
  const socket = path.join(dir, 'herald.sock');
  const php = new PhpWorker(socket, { 'herald.timeout_ms': 300 });

  // No relay: false at once (nothing listens), with the reason.
  let r = await php.call('sse_emit', ['live', 'lost']);
  assert.equal(r.result, false);
  assert.match(r.error, /cannot connect to .*herald\.sock/);
  assert.ok(r.ownMs < 300, `took ${r.ms} ms (${r.ownMs} ms not counting the wait for a CPU)`);

  const first = await new Relay({ socket }).start();
  let es = sse(first.url('/sse?channel=live'));
  await es.opened;
  r = await php.call('sse_emit', ['live', 'one']);
  assert.deepEqual([r.result, r.error], [true, null]);
  assert.equal((await es.waitCount(1))[0].data, 'one');
  es.close();
  await first.stop('SIGTERM');

  // Restarted on the same socket: the worker's connection is dead; the next
  // call notices (EPIPE), reconnects once and succeeds.
  const second = await new Relay({ socket }).start();
  es = sse(second.url('/sse?channel=live'));
  await es.opened;
  r = await php.call('sse_emit', ['live', 'two']);
  assert.deepEqual([r.result, r.error], [true, null]);
  assert.equal((await es.waitCount(1))[0].data, 'two');
  r = await php.call('ws_publish', ['live', 'three']);
  assert.equal(r.result, true);
  const m = await second.metrics();
  assert.equal(m.herald_ingest_connections, 1);
  assert.equal(m.herald_ingest_connections_total, 1);

  es.close();
  assert.equal((await php.stop()).code, 0);
  await second.stopClean();
  first.cleanup();
  fs.rmSync(dir, { recursive: true, force: true });
});
