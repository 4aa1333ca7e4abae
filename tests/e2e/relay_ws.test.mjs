// WebSocket transport (RFC 6455, Contract 2): handshake validation, client
// masking, fragmentation with interleaved control frames, ping/pong, the
// close handshake and its error codes (1002, 1007, 1009), subscribe and
// unsubscribe with their replies, ignored client messages, and delivery of
// text and binary publishes. Frames are written by hand where a real client
// would refuse to send them; the npm ws client covers the normal paths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  Relay,
  Publisher,
  wsClient,
  rawWs,
  rawRequest,
  parseResponse,
  wsHandshake,
  closePayload,
  WS_ACCEPT,
  WS_KEY,
  RawClient,
  wsFrame,
  parseWsFrames,
  waitFor,
} from './lib/harness.mjs';

const OP = { cont: 0, text: 1, bin: 2, close: 8, ping: 9, pong: 10 };

async function handshake(relay, p, headers, opts) {
  let req;
  if (opts?.raw) req = opts.raw;
  else req = wsHandshake(p, headers);
  return parseResponse(await rawRequest(relay.port, req));
}

// Send bytes that break the protocol; expect a close frame with code, then
// the relay closing the TCP connection.
async function expectClose(relay, send, code, what) {
  const c = await rawWs(relay.port, '/ws?channel=x');
  assert.equal(c.response.status, 101);
  await send(c);
  const f = await c.waitClose();
  assert.equal(f.code, code, what);
  assert.equal(f.masked, false);
  assert.equal(c.frames().filter((x) => x.opcode === OP.close).length, 1, what);
  return f;
}

async function ignoredCount(relay) {
  return (await relay.metrics())['herald_ws_client_messages_ignored_total'];
}

test('WS handshake: 101 with the RFC accept key; tokens are case-insensitive lists', async () => {
  const relay = await new Relay().start();
  const expected = createHash('sha1')
    .update(WS_KEY + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
    .digest('base64');
  assert.equal(expected, WS_ACCEPT);
  const c = await rawWs(relay.port, '/ws?channel=a');
  assert.equal(c.response.status, 101);
  assert.equal(c.response.headers['sec-websocket-accept'], expected);
  assert.equal(c.response.headers.upgrade.toLowerCase(), 'websocket');
  assert.equal(c.response.headers.connection.toLowerCase(), 'upgrade');
  // Firefox sends "Connection: keep-alive, Upgrade".
  const ff = await rawWs(relay.port, '/ws', {
    Connection: 'keep-alive, Upgrade',
    Upgrade: 'WebSocket',
  });
  assert.equal(ff.response.status, 101);
  // No channel in the query is fine: subscribe later.
  const none = await rawWs(relay.port, '/ws');
  assert.equal(none.response.status, 101);
  await waitFor(
    async () => (await relay.metrics())['herald_connections{transport="ws"}'] === 3,
    '3 ws',
  );
  for (const x of [c, ff, none]) x.destroy();
  await relay.stopClean();
});

test('WS handshake: 400 for a bad request, 426 with Sec-WebSocket-Version: 13 for a wrong version', async () => {
  const relay = await new Relay().start();
  const bad = [
    [{ Upgrade: 'h2c' }, 'wrong Upgrade'],
    [{ Connection: 'keep-alive' }, 'no Connection: Upgrade'],
    [{ 'Sec-WebSocket-Key': 'short' }, 'bad key'],
    [{ 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ=' }, '23-byte key'],
    [{ 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25j!!==' }, 'non-base64 key'],
  ];
  for (const [h, what] of bad) {
    const r = await handshake(relay, '/ws?channel=a', h);
    assert.equal(r.status, 400, what);
  }
  const noKey = wsHandshake('/ws').replace(/Sec-WebSocket-Key: .*\r\n/, '');
  assert.equal((await handshake(relay, null, null, { raw: noKey })).status, 400, 'no key');
  const noUpgrade = wsHandshake('/ws').replace(/Upgrade: websocket\r\n/, '');
  assert.equal((await handshake(relay, null, null, { raw: noUpgrade })).status, 400, 'no Upgrade');
  const http10 = wsHandshake('/ws').replace('HTTP/1.1', 'HTTP/1.0');
  assert.equal((await handshake(relay, null, null, { raw: http10 })).status, 400, 'HTTP/1.0');
  assert.equal((await handshake(relay, '/ws?channel=bad%20name')).status, 400, 'bad channel');
  for (const v of ['8', '12', '14', '13, 8']) {
    const r = await handshake(relay, '/ws', { 'Sec-WebSocket-Version': v });
    assert.equal(r.status, 426, `version ${v}`);
    assert.equal(r.headers['sec-websocket-version'], '13');
  }
  const post = wsHandshake('/ws').replace('GET', 'POST');
  assert.equal((await handshake(relay, null, null, { raw: post })).status, 405);
  await relay.stopClean();
});

test('WS: bytes sent right behind the handshake are read as frames', async () => {
  const relay = await new Relay().start();
  const c = await RawClient.connect(relay.port);
  await c.write(Buffer.concat([Buffer.from(wsHandshake('/ws')), wsFrame(OP.ping, 'early')]));
  const pong = await c.until(() => {
    const i = c.buf.indexOf('\r\n\r\n');
    return i > 0 && parseWsFrames(c.buf.subarray(i + 4)).find((f) => f.opcode === OP.pong);
  }, 'pong');
  assert.equal(pong.payload.toString(), 'early');
  c.destroy();
  await relay.stopClean();
});

test('WS: an unmasked client frame closes with 1002', async () => {
  const relay = await new Relay().start();
  await expectClose(
    relay,
    (c) => c.sendText('{"type":"subscribe","channel":"a"}', { mask: false }),
    1002,
  );
  await expectClose(relay, (c) => c.send(OP.ping, 'x', { mask: false }), 1002, 'unmasked ping');
  await relay.stopClean();
});

test('WS: ping gets a pong with the same payload', async () => {
  const relay = await new Relay().start();
  const c = await rawWs(relay.port);
  const payloads = [
    Buffer.alloc(0),
    Buffer.from('hello'),
    Buffer.from([0, 255, 1, 254]),
    Buffer.alloc(125, 0xab),
  ];
  for (const [i, p] of payloads.entries()) {
    await c.send(OP.ping, p);
    const f = await c.waitFrame((x) => x.opcode === OP.pong, `pong ${i}`, i);
    assert.deepEqual(f.payload, p);
    assert.equal(f.fin, true);
  }
  assert.equal(c.frames().length, payloads.length);
  // Unsolicited pongs are fine and answered with nothing.
  await c.send(OP.pong, 'unsolicited');
  await c.send(OP.ping, 'after');
  const f = await c.waitFrame(
    (x) => x.opcode === OP.pong && x.payload.toString() === 'after',
    'pong',
  );
  assert.ok(f);
  assert.equal(c.frames().length, payloads.length + 1);
  c.destroy();
  await relay.stopClean();
});

test('WS: fragmented messages are reassembled, with control frames between fragments', async () => {
  const relay = await new Relay().start();
  const c = await rawWs(relay.port);
  const msg = Buffer.from(JSON.stringify({ type: 'subscribe', channel: 'frag' }));
  await c.send(OP.text, msg.subarray(0, 5), { fin: false });
  await c.send(OP.ping, 'between');
  await c.send(OP.cont, msg.subarray(5, 12), { fin: false });
  await c.send(OP.pong, 'also between');
  await c.send(OP.cont, Buffer.alloc(0), { fin: false }); // empty fragments are legal
  await c.send(OP.cont, msg.subarray(12), { fin: true });
  const reply = await c.waitFrame((f) => f.opcode === OP.text, 'subscribed reply');
  assert.deepEqual(JSON.parse(reply.text), { type: 'subscribed', channel: 'frag' });
  const frames = c.frames();
  assert.equal(frames[0].opcode, OP.pong, 'the pong is answered at once, mid-message');
  assert.equal(frames[0].payload.toString(), 'between');
  // The subscription works: a publish arrives.
  const pub = await new Publisher(relay.socket).connect();
  await pub.pub('ws', 'frag', 'hello fragments');
  const m = await c.waitFrame(
    (f) => f.opcode === OP.text && f.text === 'hello fragments',
    'publish',
  );
  assert.equal(m.fin, true);
  // A fragmented binary message is a client message like any other: ignored.
  const before = await ignoredCount(relay);
  await c.send(OP.bin, Buffer.from([1, 2]), { fin: false });
  await c.send(OP.cont, Buffer.from([3]), { fin: true });
  await waitFor(async () => (await ignoredCount(relay)) === before + 1, 'binary message counted');
  c.destroy();
  await pub.close();
  await relay.stopClean();
});

test('WS: client frames with 16-bit, 64-bit and non-minimal lengths are read', async () => {
  const relay = await new Relay().start();
  const c = await rawWs(relay.port);
  const before = await ignoredCount(relay);
  await c.sendText('a'.repeat(126)); // 16-bit length
  await c.send(OP.bin, Buffer.alloc(65535, 1)); // largest 16-bit length
  await c.send(OP.bin, Buffer.alloc(65536, 2)); // 64-bit length, exactly ws_max_message
  await c.sendText('tiny', { ext16: true }); // 126 announcing 4 bytes
  await c.sendText('tiny', { ext64: true }); // 127 announcing 4 bytes
  await waitFor(async () => (await ignoredCount(relay)) === before + 5, 'five messages read');
  // Subscribe sent with a non-minimal length still works.
  await c.send(OP.text, JSON.stringify({ type: 'subscribe', channel: 'len' }), { ext64: true });
  const r = await c.waitFrame((f) => f.opcode === OP.text, 'subscribed');
  assert.deepEqual(JSON.parse(r.text), { type: 'subscribed', channel: 'len' });
  assert.ok(!c.frames().some((f) => f.opcode === OP.close));
  c.destroy();
  await relay.stopClean();
});

test('WS: a close in the middle of a fragmented message is answered', async () => {
  const relay = await new Relay().start();
  await expectClose(
    relay,
    async (c) => {
      await c.sendText('part', { fin: false });
      await c.send(OP.close, closePayload(1000, 'enough'));
    },
    1000,
    'close between fragments',
  );
  await relay.stopClean();
});

test('WS close handshake: valid codes are echoed, then the relay closes TCP', async () => {
  const relay = await new Relay().start();
  for (const code of [
    1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
  ]) {
    const f = await expectClose(
      relay,
      (c) => c.send(OP.close, closePayload(code, 'bye ✓')),
      code,
      `code ${code}`,
    );
    assert.ok(f.payload.length <= 125);
  }
  // An empty close is answered with an empty close.
  const c = await rawWs(relay.port);
  await c.send(OP.close);
  const f = await c.waitClose();
  assert.equal(f.payload.length, 0);
  // The npm ws client sees its own code come back.
  const ws = await wsClient(relay.wsUrl('/ws?channel=x'));
  ws.ws.close(4321, 'app done');
  assert.equal((await ws.closed).code, 4321);
  await waitFor(
    async () => (await relay.metrics())['herald_connections{transport="ws"}'] === 0,
    'ws gone',
  );
  await relay.stopClean();
});

test('WS close: invalid codes and a 1-byte payload get 1002; a bad reason gets 1007', async () => {
  const relay = await new Relay().start();
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
    await expectClose(relay, (c) => c.send(OP.close, closePayload(code)), 1002, `code ${code}`);
  }
  await expectClose(relay, (c) => c.send(OP.close, Buffer.from([3])), 1002, '1-byte close');
  await expectClose(
    relay,
    (c) =>
      c.send(
        OP.close,
        closePayload(1000, Buffer.from([0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xff])),
      ),
    1007,
    'reason not UTF-8',
  );
  await expectClose(
    relay,
    (c) => c.send(OP.close, closePayload(1000, Buffer.from([0xed, 0xa0, 0x80]))),
    1007,
    'surrogate',
  );
  await relay.stopClean();
});

test('WS: reserved bits, reserved opcodes and bad lengths get 1002', async () => {
  const relay = await new Relay().start();
  for (const rsv of [1, 2, 4, 7]) {
    await expectClose(relay, (c) => c.sendText('x', { rsv }), 1002, `rsv ${rsv} on text`);
  }
  await expectClose(relay, (c) => c.send(OP.ping, 'x', { rsv: 4 }), 1002, 'rsv on ping');
  for (const op of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    await expectClose(relay, (c) => c.send(op, 'x'), 1002, `opcode ${op}`);
  }
  await expectClose(relay, (c) => c.send(OP.ping, Buffer.alloc(126)), 1002, 'ping of 126 bytes');
  await expectClose(
    relay,
    (c) => c.send(OP.close, closePayload(1000, 'x'.repeat(124))),
    1002,
    'close of 126',
  );
  await expectClose(relay, (c) => c.send(OP.ping, 'x', { fin: false }), 1002, 'fragmented ping');
  await expectClose(
    relay,
    (c) => c.send(OP.cont, 'x'),
    1002,
    'continuation with nothing to continue',
  );
  await expectClose(
    relay,
    async (c) => {
      await c.sendText('a', { fin: false });
      await c.sendText('b');
    },
    1002,
    'new message inside a fragmented one',
  );
  // A 64-bit length with the top bit set.
  await expectClose(
    relay,
    (c) => c.write(Buffer.from([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4])),
    1002,
    '64-bit length, MSB set',
  );
  const m = await relay.metrics();
  assert.ok(m['herald_ws_protocol_errors_total'] >= 19);
  await relay.stopClean();
});

test('WS: invalid UTF-8 in a text message gets 1007, also split across fragments', async () => {
  const relay = await new Relay().start();
  await expectClose(
    relay,
    (c) => c.send(OP.text, Buffer.from([0x68, 0xc3, 0x28])),
    1007,
    'bad continuation',
  );
  await expectClose(relay, (c) => c.send(OP.text, Buffer.from([0xc0, 0xaf])), 1007, 'overlong');
  await expectClose(
    relay,
    (c) => c.send(OP.text, Buffer.from([0xf4, 0x90, 0x80, 0x80])),
    1007,
    'above U+10FFFF',
  );
  await expectClose(
    relay,
    (c) => c.send(OP.text, Buffer.from([0x61, 0xe2, 0x82])),
    1007,
    'truncated at the end',
  );
  // Split: the first fragment ends inside a sequence, the next breaks it.
  await expectClose(
    relay,
    async (c) => {
      await c.send(OP.text, Buffer.from([0x61, 0xe2, 0x82]), { fin: false });
      await c.send(OP.cont, Buffer.from([0x28, 0x61]), { fin: true });
    },
    1007,
    'split sequence broken in the next fragment',
  );
  // Truncated in the last fragment (an empty final fragment).
  await expectClose(
    relay,
    async (c) => {
      await c.send(OP.text, Buffer.from([0x61, 0xf0, 0x9f]), { fin: false });
      await c.send(OP.cont, Buffer.alloc(0), { fin: true });
    },
    1007,
    'message ends inside a sequence',
  );
  // Fail fast: a bad first fragment closes before the message is finished.
  await expectClose(
    relay,
    (c) => c.send(OP.text, Buffer.from([0x61, 0xff]), { fin: false }),
    1007,
    'bad first fragment',
  );
  await relay.stopClean();
});

test('WS: valid UTF-8 split across fragments is accepted', async () => {
  const relay = await new Relay().start();
  const c = await rawWs(relay.port);
  const before = await ignoredCount(relay);
  const text = Buffer.from('€ 𝄞 ✓ done');
  // One byte per fragment: every multi-byte character is split.
  await c.send(OP.text, text.subarray(0, 1), { fin: false });
  for (let i = 1; i < text.length - 1; i++)
    await c.send(OP.cont, text.subarray(i, i + 1), { fin: false });
  await c.send(OP.cont, text.subarray(text.length - 1), { fin: true });
  await waitFor(
    async () => (await ignoredCount(relay)) === before + 1,
    'message counted as ignored',
  );
  await c.send(OP.ping, 'still open');
  const pong = await c.waitFrame((f) => f.opcode === OP.pong, 'pong');
  assert.equal(pong.payload.toString(), 'still open');
  assert.ok(!c.frames().some((f) => f.opcode === OP.close));
  c.destroy();
  await relay.stopClean();
});

test('WS: messages past ws_max_message get 1009; exactly the limit is fine', async () => {
  const relay = await new Relay({ flags: { ws_max_message: 1000 } }).start();
  const c = await rawWs(relay.port);
  const before = await ignoredCount(relay);
  await c.sendText('a'.repeat(1000));
  await c.send(OP.text, 'b'.repeat(400), { fin: false });
  await c.send(OP.cont, 'b'.repeat(600), { fin: true });
  await waitFor(async () => (await ignoredCount(relay)) === before + 2, 'both counted');
  assert.ok(!c.frames().some((f) => f.opcode === OP.close));
  c.destroy();
  await expectClose(relay, (c2) => c2.sendText('a'.repeat(1001)), 1009, 'one frame too big');
  await expectClose(relay, (c2) => c2.send(OP.bin, Buffer.alloc(70000)), 1009, 'binary too big');
  await expectClose(
    relay,
    async (c2) => {
      await c2.send(OP.text, 'a'.repeat(600), { fin: false });
      await c2.send(OP.cont, 'a'.repeat(401), { fin: true });
    },
    1009,
    'fragments add up past the limit',
  );
  // Refused on the announced length, before the payload is sent.
  await expectClose(
    relay,
    (c2) => c2.write(Buffer.from([0x81, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4])),
    1009,
    'announced 4 GiB',
  );
  await relay.stopClean();
});

test('WS subscribe/unsubscribe: replies, delivery follows the subscriptions', async () => {
  const relay = await new Relay().start();
  const ws = await wsClient(relay.wsUrl('/ws'));
  const pub = await new Publisher(relay.socket).connect();
  let n = 0;
  const next = async () => {
    const m = (await ws.waitCount(++n))[n - 1];
    return m.isBinary ? m : JSON.parse(m.data);
  };
  ws.send({ type: 'subscribe', channel: 'A' });
  assert.deepEqual(await next(), { type: 'subscribed', channel: 'A' });
  ws.send({ type: 'subscribe', channel: 'B' });
  assert.deepEqual(await next(), { type: 'subscribed', channel: 'B' });
  ws.send({ type: 'subscribe', channel: 'A' }); // again: still once
  assert.deepEqual(await next(), { type: 'subscribed', channel: 'A' });
  await pub.pub('ws', 'A', '"to A"');
  await pub.pub('ws', ['A', 'B'], '"to A and B"');
  assert.equal(await next(), 'to A');
  assert.equal(await next(), 'to A and B');
  ws.send({ type: 'unsubscribe', channel: 'A' });
  assert.deepEqual(await next(), { type: 'unsubscribed', channel: 'A' });
  ws.send({ type: 'unsubscribe', channel: 'never' });
  assert.deepEqual(await next(), { type: 'unsubscribed', channel: 'never' });
  await pub.pub('ws', 'A', '"A after unsubscribe"');
  await pub.pub('ws', 'B', '"B marker"');
  assert.equal(await next(), 'B marker');
  assert.equal(ws.received.length, n, 'nothing from A after unsubscribing');
  ws.ws.close();
  await ws.closed;
  await pub.close();
  await relay.stopClean();
});

test('WS subscribe errors: {"type":"error"} replies, the connection stays open', async () => {
  const relay = await new Relay({ flags: { max_channels: 2 } }).start();
  const ws = await wsClient(relay.wsUrl('/ws?channel=q1'));
  let n = 0;
  const next = async () => JSON.parse((await ws.waitCount(++n))[n - 1].data);
  ws.send({ type: 'subscribe', channel: 'bad name' });
  let r = await next();
  assert.deepEqual([r.type, r.channel], ['error', 'bad name']);
  assert.equal(typeof r.error, 'string');
  assert.ok(r.error.length > 0);
  ws.send({ type: 'subscribe', channel: 'x'.repeat(201) });
  r = await next();
  assert.deepEqual([r.type, r.channel], ['error', 'x'.repeat(201)]);
  ws.send({ type: 'subscribe' });
  r = await next();
  assert.equal(r.type, 'error');
  assert.equal(typeof r.error, 'string');
  ws.send({ type: 'unsubscribe', channel: 42 });
  r = await next();
  assert.equal(r.type, 'error');
  ws.send({ type: 'subscribe', channel: 'q2' });
  assert.deepEqual(await next(), { type: 'subscribed', channel: 'q2' });
  ws.send({ type: 'subscribe', channel: 'q3' });
  r = await next();
  assert.deepEqual([r.type, r.channel], ['error', 'q3']);
  assert.match(r.error, /too many/);
  const pub = await new Publisher(relay.socket).connect();
  await pub.pub('ws', ['q3', 'q2'], 'still open');
  assert.equal((await ws.waitCount(++n))[n - 1].data, 'still open');
  assert.equal(ws.ws.readyState, 1);
  ws.ws.close();
  await ws.closed;
  await pub.close();
  await relay.stopClean();
});

test('WS: other client messages are counted as ignored, never a reason to close', async () => {
  const relay = await new Relay().start();
  const ws = await wsClient(relay.wsUrl('/ws?channel=ig'));
  const before = await ignoredCount(relay);
  const messages = [
    'hello',
    '',
    '{}',
    '[1,2,3]',
    '{"type":"chat","text":"hi"}',
    '{"type":"subscribe"', // not JSON
    '{"type":"subscribe","channel":"a","type":"x"}', // duplicate key
    '{"type":7}',
    'null',
  ];
  for (const m of messages) ws.ws.send(m);
  ws.ws.send(Buffer.from([0xde, 0xad, 0xbe, 0xef]), { binary: true });
  await waitFor(
    async () => (await ignoredCount(relay)) === before + messages.length + 1,
    'every message counted',
  );
  assert.equal(ws.received.length, 0, 'no reply to ignored messages');
  const pub = await new Publisher(relay.socket).connect();
  await pub.pub('ws', 'ig', 'delivered after');
  assert.equal((await ws.waitCount(1))[0].data, 'delivered after');
  assert.equal(ws.ws.readyState, 1);
  ws.ws.close(1000);
  assert.equal((await ws.closed).code, 1000);
  await pub.close();
  await relay.stopClean();
});

test('WS delivery: str data as text frames, msgpack bin as binary frames, verbatim', async () => {
  const relay = await new Relay().start();
  const ws = await wsClient(relay.wsUrl('/ws?channel=d'));
  const raw = await rawWs(relay.port, '/ws?channel=d');
  const pub = await new Publisher(relay.socket).connect();
  const bin = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80, 0x0a, 0x0d]);
  const big = Buffer.alloc(70000, 7); // 64-bit length form
  const mid = 'é'.repeat(200); // 16-bit length form
  await pub.pub('ws', 'd', 'plain text ✓');
  await pub.pub('ws', 'd', new Uint8Array(bin));
  await pub.pub('ws', 'd', mid);
  await pub.pub('ws', 'd', new Uint8Array(big));
  await pub.pub('ws', 'd', '');
  const got = await ws.waitCount(5);
  assert.deepEqual(got[0], { data: 'plain text ✓', isBinary: false });
  assert.equal(got[1].isBinary, true);
  assert.deepEqual(Buffer.from(got[1].data), bin);
  assert.deepEqual(got[2], { data: mid, isBinary: false });
  assert.equal(got[3].isBinary, true);
  assert.deepEqual(Buffer.from(got[3].data), big);
  assert.deepEqual(got[4], { data: '', isBinary: false });
  const frames = await raw.until(() => raw.frames().length >= 5 && raw.frames(), 'raw frames');
  assert.deepEqual(
    frames.map((f) => [f.opcode, f.fin, f.rsv, f.masked]),
    [
      [1, true, 0, false],
      [2, true, 0, false],
      [1, true, 0, false],
      [2, true, 0, false],
      [1, true, 0, false],
    ],
  );
  assert.deepEqual(frames[1].payload, bin);
  ws.ws.close();
  await ws.closed;
  raw.destroy();
  await pub.close();
  await relay.stopClean();
});

test('WS heartbeat: an idle WebSocket gets pings from the relay and stays open', async () => {
  // ping_interval 2: the relay drops a WebSocket silent for 3 intervals, so
  // this leaves a loaded machine 6 s to get the client's pongs back.
  const relay = await new Relay({ flags: { ping_interval: 2 } }).start();
  const ws = await wsClient(relay.wsUrl('/ws?channel=hb'));
  let pings = 0;
  ws.ws.on('ping', () => pings++);
  await waitFor(() => pings >= 2, 'two pings');
  const pub = await new Publisher(relay.socket).connect();
  await pub.pub('ws', 'hb', 'after pings');
  assert.equal((await ws.waitCount(1))[0].data, 'after pings');
  assert.equal(ws.ws.readyState, 1);
  ws.ws.close();
  await ws.closed;
  await pub.close();
  await relay.stopClean();
});
