// Limits added for hostile clients (SECURITY.md): URL length (414),
// connections per client address (429), inbound WebSocket messages per
// second (close 1008, pings included), and an ingest socket writable by
// every local user (refused unless allow_world_writable = 1). Each is
// counted in herald_limit_hits_total, and the relay keeps serving others.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { once } from 'node:events';
import {
  Relay,
  Publisher,
  rawRequest,
  rawSse,
  rawWs,
  parseResponse,
  httpRequestText,
  wsFrame,
  pubOk,
  runRelayOnce,
  tmpdir,
  waitFor,
} from './lib/harness.mjs';

const hits = async (relay, limit) =>
  (await relay.metrics())[`herald_limit_hits_total{limit="${limit}"}`];

// GET from another loopback address, so the request itself is not one more
// connection from 127.0.0.1 (which the per-address limit would refuse).
async function getFrom(relay, p, localAddress = '127.0.0.3') {
  const sock = net.connect({ port: relay.port, host: '127.0.0.1', localAddress });
  await once(sock, 'connect');
  const chunks = [];
  sock.on('data', (d) => chunks.push(d));
  sock.write(httpRequestText(p));
  await once(sock, 'close');
  return parseResponse(Buffer.concat(chunks).toString());
}

async function metricsFrom(relay) {
  const out = {};
  for (const line of (await getFrom(relay, '/metrics')).body.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return out;
}

test('max_url_bytes: a longer request target is answered 414', async () => {
  const relay = await new Relay({ flags: { max_url_bytes: 256 } }).start();
  const base = '/sse?channel=';
  const ok = await rawSse(relay.port, base + 'a'.repeat(200));
  assert.equal(ok.response().status, 200);
  ok.destroy();
  const long = base + 'x'.repeat(257 - base.length);
  assert.equal(long.length, 257);
  const r = parseResponse(await rawRequest(relay.port, httpRequestText(long)));
  assert.equal(r.status, 414);
  assert.equal(await hits(relay, 'url_bytes'), 1);
  await relay.stopClean();
});

test('max_connections_per_ip: past it 429; a freed slot is usable again', async () => {
  const relay = await new Relay({ flags: { max_connections_per_ip: 3 } }).start();
  const held = [];
  for (let i = 0; i < 3; i++) held.push(await rawSse(relay.port, `/sse?channel=ip${i}`));
  for (const c of held) assert.equal(c.response().status, 200);
  const r = parseResponse(await rawRequest(relay.port, httpRequestText('/sse?channel=more')));
  assert.equal(r.status, 429);
  assert.equal(r.headers['retry-after'], '5');
  assert.equal((await metricsFrom(relay))['herald_limit_hits_total{limit="connections_per_ip"}'], 1);
  // A refused client that keeps its socket open and keeps sending is not
  // kept around (no lingering close for a 429): its writes end in a reset.
  const stubborn = net.connect({ port: relay.port, host: '127.0.0.1', allowHalfOpen: true });
  await once(stubborn, 'connect');
  let failed = false;
  stubborn.on('error', () => (failed = true));
  stubborn.on('close', () => (failed = true));
  stubborn.resume(); // read (and drop) the 429, so that 'end' comes
  stubborn.write(httpRequestText('/sse?channel=stubborn'));
  await once(stubborn, 'end');
  await waitFor(() => {
    if (!failed) stubborn.write('more bytes\r\n');
    return failed;
  }, 'the relay to drop the refused connection');
  stubborn.destroy();
  // Another address is not affected (127.0.0.2 is loopback too on Linux).
  const other = net.connect({ port: relay.port, host: '127.0.0.1', localAddress: '127.0.0.2' });
  await once(other, 'connect');
  const chunks = [];
  other.on('data', (d) => chunks.push(d));
  other.write(httpRequestText('/sse?channel=other'));
  await waitFor(() => Buffer.concat(chunks).toString().includes('\r\n\r\n'), 'other response');
  assert.match(Buffer.concat(chunks).toString(), /^HTTP\/1\.1 200 /);
  other.destroy();
  // Free one slot: once the relay has seen it go, a new stream is let in.
  held.pop().destroy();
  await waitFor(
    async () => (await metricsFrom(relay))['herald_connections{transport="sse"}'] === 2,
    'the closed stream to be gone',
  );
  const again = await rawSse(relay.port, '/sse?channel=again');
  assert.equal(again.response().status, 200);
  again.destroy();
  held.forEach((c) => c.destroy());
  await relay.stopClean();
});

test('ws_max_messages_per_sec: a ping flood is closed with 1008; others keep their stream', async () => {
  const relay = await new Relay({ flags: { ws_max_messages_per_sec: 20 } }).start();
  const calm = await rawWs(relay.port, '/ws?channel=calm');
  const flood = await rawWs(relay.port, '/ws?channel=calm');
  // 200 pings in one write: far past 20 in any one-second window.
  const pings = [];
  for (let i = 0; i < 200; i++) pings.push(wsFrame(9, Buffer.from(`p${i}`)));
  await flood.write(Buffer.concat(pings));
  const close = await flood.waitClose();
  assert.equal(close.code, 1008);
  assert.equal(close.reason, 'message rate exceeded');
  const pongs = flood.frames().filter((f) => f.opcode === 10).length;
  assert.equal(pongs, 20, 'answered up to the limit, then closed');
  assert.equal(await hits(relay, 'ws_messages_per_sec'), 1);
  const pub = await new Publisher(relay.socket).connect();
  await pubOk(pub, 'ws', 'calm', 'still here');
  const f = await calm.waitFrame((x) => x.opcode === 1, 'a message for the calm client');
  assert.equal(f.payload.toString(), 'still here');
  calm.destroy();
  await pub.close();
  await relay.stopClean();
});

test('ws_max_messages_per_sec: a text flood is closed too, under the limit nothing is', async () => {
  const relay = await new Relay({ flags: { ws_max_messages_per_sec: 5 } }).start();
  const ok = await rawWs(relay.port, '/ws?channel=a');
  for (let i = 0; i < 5; i++) await ok.sendJson({ type: 'subscribe', channel: `c${i}` });
  await ok.until(() => ok.frames().filter((f) => f.opcode === 1).length === 5, '5 replies');
  const bad = await rawWs(relay.port, '/ws?channel=a');
  const msgs = [];
  for (let i = 0; i < 6; i++) msgs.push(wsFrame(1, Buffer.from('{"type":"hello"}')));
  await bad.write(Buffer.concat(msgs));
  assert.equal((await bad.waitClose()).code, 1008);
  assert.equal(ok.isClosed, false);
  ok.destroy();
  await relay.stopClean();
});

test('socket_mode writable by others is refused unless allow_world_writable = 1', async () => {
  const dir = tmpdir();
  const sock = path.join(dir, 'h.sock');
  const r = await runRelayOnce(['--socket', sock, '--socket_mode', '0666', '--listen', '127.0.0.1:0']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /socket_mode 0666 lets any local user publish/);
  fs.rmSync(dir, { recursive: true, force: true });
  const relay = await new Relay({ flags: { socket_mode: '0666', allow_world_writable: 1 } }).start();
  assert.equal(fs.statSync(relay.socket).mode & 0o777, 0o666);
  await relay.stopClean();
});
