// HTTP (Contract 2): /healthz, /metrics in the Prometheus text format,
// 4xx answers that close the connection (400 malformed, 404, 405, 431 for
// a head past max_header_bytes), 408 for a request head that does not
// complete within header_timeout while other clients are served, half-open
// clients, and 503 when the connection table is full.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Relay,
  Publisher,
  RawClient,
  rawSse,
  rawRequest,
  parseResponse,
  httpGet,
  wsClient,
  pubOk,
  waitFor,
} from './lib/harness.mjs';

const req = (line, headers = 'Host: 127.0.0.1\r\n') => `${line}\r\n${headers}\r\n`;

async function raw(relay, bytes, opts) {
  const text = await rawRequest(relay.port, bytes, opts);
  return parseResponse(text) || { status: null, text };
}

test('GET /healthz answers 200 ok; HEAD gets the head only', async () => {
  const relay = await new Relay().start();
  const r = await httpGet(relay.port, '/healthz');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'ok\n');
  assert.match(r.headers.get('content-type'), /^text\/plain/);
  const head = await raw(relay, req('HEAD /healthz HTTP/1.1'));
  assert.equal(head.status, 200);
  assert.equal(head.body, '', 'a HEAD response carries no content');
  // HTTP/1.0 clients too; the relay closes after every answer.
  const old = await raw(relay, req('GET /healthz HTTP/1.0', ''));
  assert.equal(old.status, 200);
  assert.equal(old.headers.connection, 'close');
  await relay.stopClean();
});

test('GET /metrics: Prometheus text format with the documented families', async () => {
  const relay = await new Relay().start();
  const r = await httpGet(relay.port, '/metrics');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  assert.ok(r.body.endsWith('\n'));
  const help = new Map();
  const type = new Map();
  const samples = [];
  const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const SAMPLE = new RegExp(
    `^(${NAME})(\\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\\\\n]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\\\\n]*")*\\})? (-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?)$`,
  );
  for (const line of r.body.slice(0, -1).split('\n')) {
    let m;
    if ((m = new RegExp(`^# HELP (${NAME}) (.+)$`).exec(line))) {
      assert.ok(!help.has(m[1]), `one HELP for ${m[1]}`);
      help.set(m[1], m[2]);
    } else if (
      (m = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line))
    ) {
      assert.ok(!type.has(m[1]), `one TYPE for ${m[1]}`);
      assert.ok(!samples.some((s) => s.name === m[1]), `TYPE before samples of ${m[1]}`);
      type.set(m[1], m[2]);
    } else {
      m = SAMPLE.exec(line);
      assert.ok(m, `sample line: ${JSON.stringify(line)}`);
      samples.push({ name: m[1], labels: m[2] || '', value: Number(m[4]) });
    }
  }
  for (const s of samples) {
    assert.ok(type.has(s.name), `${s.name} has a TYPE`);
    assert.ok(help.has(s.name), `${s.name} has a HELP`);
    if (type.get(s.name) === 'counter') assert.match(s.name, /_total$/);
  }
  const names = new Set(samples.map((s) => s.name + s.labels));
  for (const want of [
    'herald_connections{transport="sse"}',
    'herald_connections{transport="ws"}',
    'herald_messages_published_total{transport="sse"}',
    'herald_messages_published_total{transport="ws"}',
    'herald_messages_delivered_total{transport="sse"}',
    'herald_messages_delivered_total{transport="ws"}',
    'herald_bytes_out_total',
    'herald_slow_consumer_disconnects_total',
    'herald_ingest_rejects_total{reason="invalid"}',
    'herald_ingest_rejects_total{reason="malformed"}',
    'herald_history_messages',
    'herald_ws_client_messages_ignored_total',
  ]) {
    assert.ok(names.has(want), `metric ${want}`);
  }
  await relay.stopClean();
});

test('/metrics values follow what happens: connections, published, delivered, bytes, history', async () => {
  const relay = await new Relay().start();
  const m0 = await relay.metrics();
  assert.equal(m0['herald_connections{transport="sse"}'], 0);
  assert.equal(m0['herald_history_messages'], 0);
  const s1 = await rawSse(relay.port, '/sse?channel=m');
  const s2 = await rawSse(relay.port, '/sse?channel=m&channel=n');
  const w1 = await wsClient(relay.wsUrl('/ws?channel=m'));
  const m1 = await relay.metrics();
  const before = s1.buf.length + s2.buf.length; // heads and first blocks, counted in m1
  assert.equal(m1['herald_connections{transport="sse"}'], 2);
  assert.equal(m1['herald_connections{transport="ws"}'], 1);
  assert.equal(m1['herald_subscriptions'], 4);
  const pub = await new Publisher(relay.socket).connect();
  for (let i = 0; i < 3; i++) await pubOk(pub, 'sse', 'm', `s${i}`);
  await pubOk(pub, 'sse', 'nobody', 'kept in history anyway');
  await pubOk(pub, 'ws', 'm', 'w');
  await s1.waitEvents(3);
  await s2.waitEvents(3);
  await w1.waitCount(1);
  const m2 = await relay.metrics();
  assert.equal(m2['herald_messages_published_total{transport="sse"}'], 4);
  assert.equal(m2['herald_messages_published_total{transport="ws"}'], 1);
  assert.equal(m2['herald_messages_published_total{transport="all"}'], 0);
  assert.equal(m2['herald_messages_delivered_total{transport="sse"}'], 6);
  assert.equal(m2['herald_messages_delivered_total{transport="ws"}'], 1);
  assert.equal(m2['herald_history_messages'], 5, 'every message has history, a WebSocket one too');
  // Every byte the two streams received since m1 was counted (and more:
  // the WebSocket frame and the /metrics answer itself).
  const streamed = s1.buf.length + s2.buf.length - before;
  assert.ok(streamed > 0);
  assert.ok(m2['herald_bytes_out_total'] - m1['herald_bytes_out_total'] >= streamed + 3);
  s1.destroy();
  s2.destroy();
  w1.ws.close();
  await w1.closed;
  await waitFor(async () => {
    const m = await relay.metrics();
    return (
      m['herald_connections{transport="sse"}'] === 0 &&
      m['herald_connections{transport="ws"}'] === 0
    );
  }, 'connections to drop to 0');
  assert.equal((await relay.metrics())['herald_subscriptions'], 0);
  await pub.close();
  await relay.stopClean();
});

test('404 for unknown paths, 405 for other methods, both closed after the answer', async () => {
  const relay = await new Relay().start();
  for (const p of ['/', '/nope', '/sse/extra', '/SSE?channel=a', '/healthz/', '/metrics.txt']) {
    const r = await raw(relay, req(`GET ${p} HTTP/1.1`));
    assert.equal(r.status, 404, p);
    assert.equal(r.headers.connection, 'close');
    assert.equal(Number(r.headers['content-length']), Buffer.byteLength(r.body));
  }
  for (const [m, p] of [
    ['POST', '/sse?channel=a'],
    ['PUT', '/ws'],
    ['DELETE', '/metrics'],
    ['POST', '/healthz'],
    ['OPTIONS', '/sse?channel=a'],
  ]) {
    const r = await raw(relay, req(`${m} ${p} HTTP/1.1`, 'Host: x\r\nContent-Length: 0\r\n'));
    assert.equal(r.status, 405, `${m} ${p}`);
    assert.match(r.headers.allow, /GET/);
  }
  const m = await relay.metrics();
  assert.ok(m['herald_http_errors_total'] >= 11);
  await relay.stopClean();
});

test('malformed requests get 400 and are closed', async () => {
  const relay = await new Relay().start();
  const bad = [
    'GARBAGE\r\n\r\n',
    'GET\r\n\r\n',
    'GET /healthz\r\n\r\n',
    'GET /healthz HTTP/2.0\r\n\r\n',
    'GET healthz HTTP/1.1\r\n\r\n',
    'GET  /healthz HTTP/1.1\r\n\r\n',
    'GET http://127.0.0.1/healthz HTTP/1.1\r\n\r\n',
    'GET /healthz HTTP/1.1\r\nNo colon here\r\n\r\n',
    'GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n',
    'GET /healthz HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n',
    'GET /healthz HTTP/1.1\rHost: x\r\n\r\n',
    'GET /hea\x00lthz HTTP/1.1\r\n\r\n',
    'GET /healthz HTTP/1.1\r\nX: a\x01b\r\n\r\n',
    '\r\nGET /healthz HTTP/1.1\r\n\r\n',
    '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03', // a TLS ClientHello
  ];
  for (const b of bad) {
    const r = await raw(relay, Buffer.from(b, 'latin1'));
    assert.equal(r.status, 400, JSON.stringify(b));
    assert.equal(r.headers.connection, 'close');
  }
  // A bare LF line ending is accepted (RFC 9112 2.2).
  const lf = await raw(relay, 'GET /healthz HTTP/1.1\nHost: x\n\n');
  assert.equal(lf.status, 200);
  await relay.stopClean();
});

test('a request head past max_header_bytes gets 431 and is closed', async () => {
  const relay = await new Relay({ flags: { max_header_bytes: 1024 } }).start();
  const big = await raw(
    relay,
    req('GET /healthz HTTP/1.1', `Host: x\r\nX-Big: ${'a'.repeat(2000)}\r\n`),
  );
  assert.equal(big.status, 431);
  assert.equal(big.headers.connection, 'close');
  // Sent in pieces, still sending after the answer (a client does not read
  // while it writes): the 431 must reach it, not a reset (lingering close).
  for (let k = 0; k < 10; k++) {
    const c = await RawClient.connect(relay.port);
    await c.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    for (let i = 0; i < 40 && !c.isClosed; i++) {
      await c.write(`X-Part-${i}: ${'b'.repeat(60)}\r\n`).catch(() => {});
    }
    await c.closed;
    assert.equal(parseResponse(c.text())?.status, 431, `try ${k}: ${JSON.stringify(c.text())}`);
  }
  const longTarget = await raw(relay, req(`GET /sse?channel=${'a'.repeat(1100)} HTTP/1.1`));
  assert.equal(longTarget.status, 431);
  const many = await raw(
    relay,
    req('GET /healthz HTTP/1.1', Array.from({ length: 200 }, (_, i) => `H${i}: v\r\n`).join('')),
  );
  assert.ok([431, 400].includes(many.status), `too many headers: ${many.status}`);
  assert.equal((await httpGet(relay.port, '/healthz')).status, 200);
  await relay.stopClean();
});

test('slow and silent clients get 408 after header_timeout and never block others', async () => {
  const relay = await new Relay({ flags: { header_timeout: 2 } }).start();
  const slow = [];
  for (let i = 0; i < 5; i++) {
    const c = await RawClient.connect(relay.port);
    await c.write('GET /sse?channel=slow HTTP/1.1\r\nHost: x\r\n'); // never finished
    slow.push(c);
  }
  slow.push(await RawClient.connect(relay.port)); // says nothing at all
  // While they hang, others are served at once.
  const sub = await rawSse(relay.port, '/sse?channel=fast');
  const pub = await new Publisher(relay.socket).connect();
  await pubOk(pub, 'sse', 'fast', 'served');
  assert.equal((await sub.waitEvents(1))[0].data, 'served');
  assert.equal((await httpGet(relay.port, '/healthz')).status, 200);
  for (const c of slow) {
    await c.closed;
    const r = parseResponse(c.text());
    assert.equal(r.status, 408);
    assert.equal(r.headers.connection, 'close');
  }
  assert.equal((await relay.metrics())['herald_connections_pending'], 0);
  // The SSE stream, idle longer than header_timeout by now, is still open.
  await pubOk(pub, 'sse', 'fast', 'still served');
  assert.equal((await sub.waitEvents(2))[1].data, 'still served');
  sub.destroy();
  await pub.close();
  await relay.stopClean();
});

test('half-open clients: an answer still goes out; a half request is dropped', async () => {
  const relay = await new Relay().start();
  // The request, then FIN at once (like nc -N): the answer must still come.
  for (let i = 0; i < 5; i++) {
    const r = await raw(relay, req('GET /healthz HTTP/1.1'), { end: true });
    assert.equal(r.status, 200, `try ${i}`);
    assert.equal(r.body, 'ok\n');
  }
  const m = await raw(relay, req('GET /metrics HTTP/1.1'), { end: true });
  assert.equal(m.status, 200);
  assert.match(m.body, /herald_connections_total/);
  // Half a request and FIN: closed without an answer, nothing left behind.
  const text = await rawRequest(relay.port, 'GET /sse?chan', { end: true });
  assert.equal(text, '');
  await waitFor(
    async () => (await relay.metrics())['herald_connections_pending'] === 0,
    'no pending',
  );
  await relay.stopClean();
});

test('a full connection table answers 503 with Retry-After, and recovers', async () => {
  const relay = await new Relay({ flags: { max_connections: 2 } }).start();
  const a = await rawSse(relay.port, '/sse?channel=full');
  const b = await rawSse(relay.port, '/sse?channel=full');
  for (const p of ['/healthz', '/sse?channel=full', '/metrics']) {
    const r = await raw(relay, req(`GET ${p} HTTP/1.1`));
    assert.equal(r.status, 503, p);
    assert.ok(Number(r.headers['retry-after']) > 0);
    assert.equal(r.headers.connection, 'close');
  }
  // Those already in keep receiving.
  const pub = await new Publisher(relay.socket).connect();
  await pubOk(pub, 'sse', 'full', 'still here');
  assert.equal((await a.waitEvents(1))[0].data, 'still here');
  assert.equal((await b.waitEvents(1))[0].data, 'still here');
  a.destroy();
  await waitFor(
    async () => (await raw(relay, req('GET /healthz HTTP/1.1'))).status === 200,
    'a free slot',
  );
  b.destroy();
  await waitFor(async () => {
    const m = await relay.metrics().catch(() => ({}));
    return m['herald_connections{transport="sse"}'] === 0 && m;
  }, 'both streams gone');
  assert.ok((await relay.metrics())['herald_connections_rejected_total'] >= 3);
  await pub.close();
  await relay.stopClean();
});
