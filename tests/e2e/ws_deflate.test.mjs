// permessage-deflate (RFC 7692, docs/PROTOCOL.md 2.4) on a real relay: the
// answer to offers (windows, several offers, bad parameters declined),
// large messages compressed once and shared by clients of the same window,
// small ones sent plain, client messages inflated (with the client's
// context kept), and the close codes: RSV1 without negotiation or on a
// continuation/control frame 1002, corrupt data 1007, a decompression bomb
// 1009. Raw clients read RSV1 and inflate with node's zlib at the agreed
// window; npm ws (perMessageDeflate) covers both directions end to end;
// herald.v1 and the Pusher front ride on the same code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import WebSocket from 'ws';
import { Relay, Publisher, rawWs, wsClient, waitFor } from './lib/harness.mjs';
import { heraldClient } from './lib/herald.mjs';
import { KEY, startPusherRelay, pusherClient, subscribed, record } from './lib/pusher.mjs';

const OP = { cont: 0, text: 1, bin: 2, close: 8, ping: 9 };
const RSV1 = 4; // parseWsFrames' rsv: RSV1 << 2 | RSV2 << 1 | RSV3
const TRAILER = Buffer.from([0, 0, 0xff, 0xff]);

// A dashboard's metrics object, about 1.5 KB of JSON.
function metricsJson(n = 1) {
  const hosts = {};
  for (let i = 0; i < 12; i++)
    hosts[`web-${String(i).padStart(2, '0')}`] = { cpu: (i * 7.3 + n) % 100, mem: 1024 + i * 37, rps: 200 + i * n, errors: i % 3, p99_ms: 12.5 + i };
  return JSON.stringify({ type: 'metrics', seq: n, at: '2026-12-03T01:00:00Z', hosts });
}

function inflate(payload, windowBits = 15) {
  return zlib.inflateRawSync(Buffer.concat([payload, TRAILER]), {
    windowBits,
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
}

// A client message as a client compresses it: the trailer removed.
function deflate(buf) {
  const out = zlib.deflateRawSync(buf, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  assert.deepEqual(out.subarray(out.length - 4), TRAILER);
  return out.subarray(0, out.length - 4);
}

async function setup(flags = {}) {
  const relay = await new Relay({ flags }).start();
  const pub = await new Publisher(relay.socket).connect();
  const stop = async () => {
    await pub.close();
    await relay.stopClean();
  };
  return { relay, pub, stop };
}

// An npm ws client that also keeps the 101's Sec-WebSocket-Extensions.
async function wsAnswered(url, opts) {
  let answer;
  const ws = new WebSocket(url, { ...opts });
  ws.on('upgrade', (res) => (answer = res.headers['sec-websocket-extensions']));
  ws.on('error', () => {});
  await new Promise((r) => ws.on('open', r));
  ws.close();
  await new Promise((r) => ws.on('close', r));
  return answer;
}

const dataFrames = (c) => c.frames().filter((f) => f.opcode === OP.text || f.opcode === OP.bin);

test('raw client: the answer, a large message compressed (RSV1), a small one plain, a sentinel last', async () => {
  const { relay, pub, stop } = await setup();
  const c = await rawWs(relay.port, '/ws?channel=d', {
    'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits',
  });
  assert.equal(c.response.status, 101);
  assert.equal(c.response.headers['sec-websocket-extensions'], 'permessage-deflate; server_no_context_takeover');
  const big = metricsJson(1);
  await pub.pubAck('ws', 'd', big);
  await pub.pubAck('ws', 'd', '{"small":true}');
  await pub.pubAck('ws', 'd', metricsJson(2));
  const frames = await c.until(() => (dataFrames(c).length >= 3 ? dataFrames(c) : null), '3 messages');
  assert.equal(frames[0].rsv, RSV1);
  assert.ok(frames[0].payload.length < big.length / 3, `compressed ${frames[0].payload.length} of ${big.length}`);
  assert.equal(inflate(frames[0].payload).toString(), big);
  assert.equal(frames[1].rsv, 0);
  assert.equal(frames[1].text, '{"small":true}');
  // No context taken over: each message inflates on its own.
  assert.equal(frames[2].rsv, RSV1);
  assert.equal(inflate(frames[2].payload).toString(), metricsJson(2));
  const m = await relay.metrics();
  assert.equal(m['herald_ws_deflate_total{result="negotiated"}'], 1);
  assert.equal(m['herald_ws_deflate_bytes_total{dir="out",kind="raw"}'], big.length + metricsJson(2).length);
  assert.ok(m['herald_ws_deflate_bytes_total{dir="out",kind="compressed"}'] < big.length);
  c.destroy();
  await stop();
});

test('npm ws with perMessageDeflate: both directions, the client context kept across messages', async () => {
  const { relay, pub, stop } = await setup();
  // threshold 0: the client compresses even its short subscribe messages,
  // and by default keeps its context, so the second refers to the first.
  const c = await wsClient(relay.wsUrl('/ws'), { perMessageDeflate: { threshold: 0 } });
  assert.match(c.ws.extensions, /^permessage-deflate/);
  c.send({ type: 'subscribe', channel: 'both-a' });
  c.send({ type: 'subscribe', channel: 'both-b' });
  await c.waitCount(2);
  assert.deepEqual(c.received.map((r) => JSON.parse(r.data)), [
    { type: 'subscribed', channel: 'both-a' },
    { type: 'subscribed', channel: 'both-b' },
  ]);
  const big = metricsJson(3);
  await pub.pubAck('ws', 'both-a', big);
  await pub.pubAck('ws', 'both-b', Buffer.alloc(4000, 7), { binary: true });
  await c.waitCount(4);
  assert.equal(c.received[2].data, big);
  assert.ok(c.received[3].isBinary);
  assert.deepEqual(Buffer.from(c.received[3].data), Buffer.alloc(4000, 7));
  const m = await relay.metrics();
  assert.ok(m['herald_ws_deflate_bytes_total{dir="in",kind="compressed"}'] > 0);
  assert.equal(
    m['herald_ws_deflate_bytes_total{dir="in",kind="raw"}'],
    JSON.stringify({ type: 'subscribe', channel: 'both-a' }).length * 2,
  );
  c.ws.close();
  await stop();
});

test('clients of different windows and one without deflate receive the same message; one compression per window', async () => {
  // One loop: with workers, each loop compresses once per window.
  const { relay, pub, stop } = await setup({ workers: 1 });
  const w9 = await wsClient(relay.wsUrl('/ws?channel=win'), { perMessageDeflate: { serverMaxWindowBits: 9 } });
  const w15 = await wsClient(relay.wsUrl('/ws?channel=win'), { perMessageDeflate: { serverMaxWindowBits: 15 } });
  const w15b = await wsClient(relay.wsUrl('/ws?channel=win'));
  const plain = await wsClient(relay.wsUrl('/ws?channel=win'), { perMessageDeflate: false });
  assert.equal(
    await wsAnswered(relay.wsUrl('/ws'), { perMessageDeflate: { serverMaxWindowBits: 9 } }),
    'permessage-deflate; server_no_context_takeover; server_max_window_bits=9',
  );
  assert.equal(w9.ws._extensions['permessage-deflate'].params.server_max_window_bits, 9);
  assert.equal(w15.ws._extensions['permessage-deflate'].params.server_max_window_bits, 15);
  assert.equal(plain.ws.extensions, '');
  const raw9 = await rawWs(relay.port, '/ws?channel=win', {
    'Sec-WebSocket-Extensions': 'permessage-deflate; server_max_window_bits=9',
  });
  assert.equal(
    raw9.response.headers['sec-websocket-extensions'],
    'permessage-deflate; server_no_context_takeover; server_max_window_bits=9',
  );
  const big = metricsJson(4);
  await pub.pubAck('ws', 'win', big);
  for (const c of [w9, w15, w15b, plain]) {
    await c.waitCount(1);
    assert.equal(c.received[0].data, big);
  }
  const [f] = await raw9.until(() => (dataFrames(raw9).length ? dataFrames(raw9) : null), 'the message');
  assert.equal(f.rsv, RSV1);
  // A client that allowed a 512-byte window can inflate it with one.
  assert.equal(inflate(f.payload, 9).toString(), big);
  // Compressed once for window 9 (two clients), once for 15 (two clients;
  // 15 named and not named compress alike).
  const m = await relay.metrics();
  assert.equal(m['herald_ws_deflate_bytes_total{dir="out",kind="raw"}'], big.length * 2);
  assert.equal(m['herald_messages_delivered_total{transport="ws"}'], 5);
  for (const c of [w9, w15, w15b, plain]) c.ws.close();
  raw9.destroy();
  await stop();
});

test('offers: a bad parameter is declined and the connection opens uncompressed; the next acceptable offer is taken; ws_deflate=0', async () => {
  const { relay, pub, stop } = await setup();
  const bad = await rawWs(relay.port, '/ws?channel=o', {
    'Sec-WebSocket-Extensions': 'permessage-deflate; server_max_window_bits=8',
  });
  assert.equal(bad.response.status, 101);
  assert.equal(bad.response.headers['sec-websocket-extensions'], undefined);
  const dup = await rawWs(relay.port, '/ws?channel=o', {
    'Sec-WebSocket-Extensions': 'permessage-deflate; client_no_context_takeover; client_no_context_takeover',
  });
  assert.equal(dup.response.headers['sec-websocket-extensions'], undefined);
  const next = await rawWs(relay.port, '/ws?channel=o', {
    'Sec-WebSocket-Extensions': 'permessage-deflate; foo=1, permessage-deflate; client_max_window_bits=10',
  });
  assert.equal(
    next.response.headers['sec-websocket-extensions'],
    'permessage-deflate; server_no_context_takeover; client_max_window_bits=10',
  );
  const big = metricsJson(5);
  await pub.pubAck('ws', 'o', big);
  for (const c of [bad, dup]) {
    const [f] = await c.until(() => (dataFrames(c).length ? dataFrames(c) : null), 'the message');
    assert.equal(f.rsv, 0);
    assert.equal(f.text, big);
  }
  const [f] = await next.until(() => (dataFrames(next).length ? dataFrames(next) : null), 'the message');
  assert.equal(inflate(f.payload).toString(), big);
  const m = await relay.metrics();
  assert.equal(m['herald_ws_deflate_total{result="declined"}'], 2);
  assert.equal(m['herald_ws_deflate_total{result="negotiated"}'], 1);
  for (const c of [bad, dup, next]) c.destroy();
  await stop();

  // ws_deflate_client_context = 0: every client is told to drop its context.
  const nc = await setup({ ws_deflate_client_context: 0 });
  assert.equal(
    await wsAnswered(nc.relay.wsUrl('/ws'), {}),
    'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
  );
  const w = await wsClient(nc.relay.wsUrl('/ws'), { perMessageDeflate: { threshold: 0 } });
  w.send({ type: 'subscribe', channel: 'n1' });
  w.send({ type: 'subscribe', channel: 'n2' });
  await w.waitCount(2);
  assert.equal(w.received[1].data, '{"type":"subscribed","channel":"n2"}');
  w.ws.close();
  await nc.stop();

  const off = await setup({ ws_deflate: 0 });
  const c = await wsClient(off.relay.wsUrl('/ws?channel=x'));
  assert.equal(c.ws.extensions, '');
  await off.pub.pubAck('ws', 'x', big);
  await c.waitCount(1);
  assert.equal(c.received[0].data, big);
  c.ws.close();
  await off.stop();
});

async function expectClose(relay, headers, send, code) {
  const c = await rawWs(relay.port, '/ws?channel=x', headers);
  assert.equal(c.response.status, 101);
  await send(c);
  const f = await c.waitClose();
  assert.equal(f.code, code);
  return f;
}

const OFFER = { 'Sec-WebSocket-Extensions': 'permessage-deflate' };

test('client errors: RSV1 unnegotiated or misplaced 1002, corrupt 1007, a decompression bomb 1009, bad UTF-8 inside 1007; counted', async () => {
  const { relay, stop } = await setup();
  const sub = Buffer.from(JSON.stringify({ type: 'subscribe', channel: 'y' }));
  // RSV1 without negotiation.
  await expectClose(relay, {}, (c) => c.send(OP.text, deflate(sub), { rsv: RSV1 }), 1002);
  // RSV1 on a continuation frame, and on a ping.
  await expectClose(
    relay,
    OFFER,
    async (c) => {
      await c.send(OP.text, sub.subarray(0, 5), { fin: false });
      await c.send(OP.cont, sub.subarray(5), { rsv: RSV1 });
    },
    1002,
  );
  await expectClose(relay, OFFER, (c) => c.send(OP.ping, Buffer.from('p'), { rsv: RSV1 }), 1002);
  // Not a deflate stream.
  const corrupt = await expectClose(relay, OFFER, (c) => c.send(OP.text, Buffer.from([0xff, 0xff, 0xff, 0xff, 1]), { rsv: RSV1 }), 1007);
  assert.equal(corrupt.reason, 'invalid compressed data');
  // 4 MB of spaces in about 4 KB: inflated past ws_max_message (64 KiB).
  const bomb = deflate(Buffer.alloc(4 << 20, 0x20));
  assert.ok(bomb.length < 10000);
  const big = await expectClose(relay, OFFER, (c) => c.send(OP.text, bomb, { rsv: RSV1 }), 1009);
  assert.equal(big.reason, 'message too big');
  // Inflates to bytes that are not UTF-8, in a text message.
  await expectClose(relay, OFFER, (c) => c.send(OP.text, deflate(Buffer.from([0xc3, 0x28])), { rsv: RSV1 }), 1007);
  // A fragmented compressed message (RSV1 on the first frame only) is fine.
  const ok = await rawWs(relay.port, '/ws', OFFER);
  const z = deflate(sub);
  await ok.send(OP.text, z.subarray(0, 3), { fin: false, rsv: RSV1 });
  await ok.send(OP.cont, z.subarray(3));
  const [ans] = await ok.until(() => (dataFrames(ok).length ? dataFrames(ok) : null), 'the answer');
  assert.equal(ans.text, '{"type":"subscribed","channel":"y"}');
  ok.destroy();
  const m = await relay.metrics();
  assert.equal(m['herald_ws_deflate_total{result="bad_rsv"}'], 3);
  assert.equal(m['herald_ws_deflate_total{result="corrupt"}'], 1);
  assert.equal(m['herald_ws_deflate_total{result="too_big"}'], 1);
  assert.equal(m['herald_ws_protocol_errors_total'], 6);
  await stop();
});

test('herald.v1: envelopes compressed for a deflate client, and a raw reader sees RSV1', async () => {
  const { relay, pub, stop } = await setup();
  const h = await heraldClient(relay.wsUrl('/ws?channel=hv'));
  assert.match(h.ws.extensions, /^permessage-deflate/);
  const raw = await rawWs(relay.port, '/ws?channel=hv', { ...OFFER, 'Sec-WebSocket-Protocol': 'herald.v1' });
  assert.equal(raw.response.headers['sec-websocket-protocol'], 'herald.v1');
  const big = metricsJson(6);
  const { id } = await pub.pubAck('all', 'hv', big, { json: true });
  const [, got] = await h.take(2);
  assert.deepEqual(got.json, { type: 'message', channel: 'hv', id, data: JSON.parse(big) });
  const f = await raw.waitFrame((x) => x.rsv === RSV1, 'a compressed envelope');
  assert.deepEqual(JSON.parse(inflate(f.payload).toString()), got.json);
  h.ws.close();
  raw.destroy();
  await stop();
});

test('Pusher front: an npm ws client negotiates and receives a large event; pusher-js (no deflate in Node) still works', async () => {
  const relay = await startPusherRelay();
  const pub = await new Publisher(relay.socket).connect();
  const c = await wsClient(relay.wsUrl(`/app/${KEY}?protocol=7&client=js&version=8.6.0`));
  assert.match(c.ws.extensions, /^permessage-deflate/);
  await c.waitCount(1);
  c.send({ event: 'pusher:subscribe', data: { channel: 'dash' } });
  await waitFor(() => c.received.some((r) => JSON.parse(r.data).event === 'pusher_internal:subscription_succeeded'), 'subscribed');
  const p = await pusherClient(relay);
  const { ch } = await subscribed(p, 'dash');
  const rec = record(ch);
  const big = metricsJson(7);
  await pub.pubAck('all', 'dash', big, { event: 'metrics', json: true });
  const e = await waitFor(() => c.received.map((r) => JSON.parse(r.data)).find((o) => o.event === 'metrics'), 'event');
  assert.deepEqual(JSON.parse(e.data), JSON.parse(big));
  const viaPusherJs = await rec.until((x) => x.event === 'metrics', 'pusher-js event');
  assert.deepEqual(viaPusherJs.data, JSON.parse(big));
  const m = await relay.metrics();
  assert.equal(m['herald_ws_deflate_total{result="negotiated"}'], 1);
  assert.ok(m['herald_ws_deflate_bytes_total{dir="out",kind="compressed"}'] > 0);
  p.disconnect();
  c.ws.close();
  await pub.close();
  await relay.stopClean();
});

test('a message exactly at ws_deflate_min_bytes is compressed, one byte shorter is not', async () => {
  const { relay, pub, stop } = await setup({ ws_deflate_min_bytes: 300 });
  const c = await rawWs(relay.port, '/ws?channel=t', OFFER);
  await pub.pubAck('ws', 't', 'a'.repeat(300));
  await pub.pubAck('ws', 't', 'b'.repeat(299));
  const fr = await c.until(() => (dataFrames(c).length >= 2 ? dataFrames(c) : null), '2 messages');
  assert.equal(fr[0].rsv, RSV1);
  assert.equal(inflate(fr[0].payload).toString(), 'a'.repeat(300));
  assert.equal(fr[1].rsv, 0);
  assert.equal(fr[1].text, 'b'.repeat(299));
  c.destroy();
  // An npm ws client sees the same texts either way.
  const w = await wsClient(relay.wsUrl('/ws?channel=t'), { perMessageDeflate: true });
  assert.ok(w.ws instanceof WebSocket);
  await pub.pubAck('ws', 't', 'c'.repeat(1000));
  await w.waitCount(1);
  assert.equal(w.received[0].data, 'c'.repeat(1000));
  w.ws.close();
  await stop();
});
