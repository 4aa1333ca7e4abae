// Small defects found in a reading of the relay, each with the behaviour it
// must have now: a re-subscribe at the channel limit is harmless, close codes
// 1012-1014 from a peer are legal (IANA, RFC 6455 11.7), every status the
// relay sends has its reason phrase.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn } from 'node:child_process';
import path from 'node:path';
import {
  Relay,
  RELAY_BIN,
  wsClient,
  rawWs,
  closePayload,
  httpGet,
  freePort,
  tmpdir,
  workersArgs,
  relayEnv,
} from './lib/harness.mjs';

test('a re-subscribe to a channel the connection has is harmless at the channel limit', async () => {
  const relay = await new Relay({ flags: { max_channels: 2 } }).start();
  const c = await wsClient(relay.wsUrl('/ws'));
  c.send({ type: 'subscribe', channel: 'a' });
  c.send({ type: 'subscribe', channel: 'b' });
  c.send({ type: 'subscribe', channel: 'a' });
  c.send({ type: 'subscribe', channel: 'c' });
  await c.waitCount(4);
  const replies = c.received.map((m) => JSON.parse(m.data));
  assert.deepEqual(
    replies.map((r) => [r.type, r.channel]),
    [
      ['subscribed', 'a'],
      ['subscribed', 'b'],
      ['subscribed', 'a'],
      ['error', 'c'],
    ],
  );
  c.ws.close();
  await c.closed;
  await relay.stopClean();
});

for (const code of [1012, 1013, 1014]) {
  test(`a peer's close code ${code} is echoed, not a protocol error`, async () => {
    const relay = await new Relay().start();
    const c = await rawWs(relay.port, '/ws');
    await c.send(0x8, closePayload(code, 'bye'));
    const close = await c.waitClose();
    assert.equal(close.code, code);
    assert.equal((await relay.metrics()).herald_ws_protocol_errors_total, 0);
    await relay.stopClean();
  });
}

function statusLine(port, request) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(request));
    let buf = '';
    s.on('data', (d) => (buf += d));
    s.on('error', reject);
    s.on('close', () => resolve(buf.split('\r\n')[0]));
  });
}

test('401 and 414 answers carry their reason phrases', async () => {
  const relay = await new Relay({ flags: { max_url_bytes: 64, secret: 's'.repeat(32) } }).start();
  assert.equal(
    await statusLine(relay.port, 'GET /sse?channel=private-x HTTP/1.1\r\nHost: x\r\n\r\n'),
    'HTTP/1.1 401 Unauthorized',
  );
  assert.equal(
    await statusLine(relay.port, `GET /sse?channel=${'a'.repeat(80)} HTTP/1.1\r\nHost: x\r\n\r\n`),
    'HTTP/1.1 414 URI Too Long',
  );
  await relay.stopClean();
});

test('the relay says at start where PHP must publish (a wrong herald.socket is the usual mistake)', async () => {
  const relay = await new Relay().start();
  await relay.stopClean();
  assert.match(relay.log(), new RegExp(`waiting for the first publisher: PHP's herald.socket must be ${relay.socket}`));
});

test('--listen with a port alone binds loopback only, and the start line says so', async () => {
  const port = await freePort();
  const args = ['--listen', String(port), '--socket', path.join(tmpdir(), 'h.sock')];
  const p = spawn(RELAY_BIN, [...args, ...workersArgs(args)], { stdio: ['ignore', 'ignore', 'pipe'], env: relayEnv() });
  let log = '';
  const closed = new Promise((r) => p.on('close', r));
  await new Promise((resolve, reject) => {
    p.stderr.on('data', (d) => {
      log += d;
      if (log.includes(`http://127.0.0.1:${port} `)) resolve();
    });
    closed.then(() => reject(new Error(`relay ended: ${log}`)));
  });
  const reach = (host) =>
    new Promise((resolve) => {
      const s = net.connect(port, host);
      s.on('connect', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
  assert.equal(await reach('127.0.0.1'), true);
  // 127.0.0.2 reaches a socket bound to every interface, not one bound to 127.0.0.1.
  assert.equal(await reach('127.0.0.2'), false);
  process.kill(p.pid, 'SIGTERM');
  assert.equal(await closed, 0);
});

test('metrics_listen: /metrics only on its own listener, which serves nothing else but /healthz', async () => {
  const mport = await freePort();
  const relay = await new Relay({ flags: { metrics_listen: `127.0.0.1:${mport}` } }).start();
  assert.equal((await httpGet(relay.port, '/metrics')).status, 404);
  const m = await httpGet(mport, '/metrics');
  assert.equal(m.status, 200);
  assert.match(m.body, /^herald_connections_total /m);
  assert.equal((await httpGet(mport, '/healthz')).status, 200);
  assert.equal((await httpGet(mport, '/sse?channel=a')).status, 404);
  await relay.stopClean();
});
