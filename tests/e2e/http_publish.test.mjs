// The HTTP publish API (POST /publish, PROTOCOL.md 3) against the real relay
// with real clients: node's fetch (undici) and http, and raw sockets for what
// they hide (Expect: 100-continue refused early, slow and cut bodies,
// pipelining, keep-alive). Subscribers are a real EventSource-like raw SSE
// reader and the npm ws client. Every refusal is checked by status, JSON
// error and its counter. The Redis broker's part is http_publish_redis.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import {
  Relay,
  Publisher,
  RawClient,
  rawSse,
  wsClient,
  httpGet,
  parseResponse,
  waitFor,
  SANITIZER_RE,
} from './lib/harness.mjs';
import { SECRET, sign, now, token } from './lib/token.mjs';
import { runPhp } from './lib/php.mjs';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, tmpdir } from './lib/harness.mjs';

const FLAGS = { secret: SECRET, publish_api: 1 };

// A token with these claims (exp added), signed with the relay's secret.
export function claims(c, { ttl = 300, secret = SECRET } = {}) {
  return sign({ alg: 'HS256', typ: 'JWT' }, { exp: now() + ttl, ...c }, secret);
}

const PUB = claims({ publish: ['news', 'chat.*', 'A', 'B'] });

// POST /publish with fetch; the JSON answer (or the text when it is not JSON).
export async function publish(port, body, { tok = PUB, headers = {}, method = 'POST' } = {}) {
  const h = { 'Content-Type': 'application/json', ...headers };
  if (tok) h.Authorization = `Bearer ${tok}`;
  const res = await fetch(`http://127.0.0.1:${port}/publish`, {
    method,
    headers: h,
    body: method === 'GET' ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON: tests look at text */
  }
  return { status: res.status, headers: res.headers, json, text };
}

// herald_connections_total, read on a connection of its own.
async function connectionsTotal(port) {
  const res = await new Promise((resolve, reject) =>
    http.get({ port, host: '127.0.0.1', path: '/metrics', agent: false }, resolve).on('error', reject),
  );
  let text = '';
  for await (const chunk of res) text += chunk;
  return Number(/^herald_connections_total (\d+)$/m.exec(text)[1]);
}

// The refusal counter for reason.
async function refused(relay, reason) {
  return (await relay.metrics())[`herald_publish_api_refused_total{reason="${reason}"}`];
}

// One raw request's bytes (head, and body when given).
function rawRequest({ body = '', headers = {}, tok = PUB, length = Buffer.byteLength(body) } = {}) {
  let h = 'POST /publish HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n';
  if (tok) h += `Authorization: Bearer ${tok}\r\n`;
  if (length !== null) h += `Content-Length: ${length}\r\n`;
  for (const [k, v] of Object.entries(headers)) h += `${k}: ${v}\r\n`;
  return h + '\r\n' + body;
}

// The responses in a raw client's bytes so far (each head with its body).
function responses(text) {
  const out = [];
  let rest = text;
  for (;;) {
    const r = parseResponse(rest);
    if (!r) break;
    const len = Number(r.headers['content-length'] || 0);
    if (Buffer.byteLength(r.body) < len) break;
    const body = Buffer.from(r.body).subarray(0, len).toString();
    let json = null;
    try {
      json = JSON.parse(body);
    } catch {
      /* a text body (408) */
    }
    out.push({ ...r, body, json });
    rest = Buffer.from(r.body).subarray(len).toString();
  }
  return out;
}

test('publish API: off by default (404), and a relay without a secret refuses to start with it', async () => {
  const relay = await new Relay({ flags: { secret: SECRET } }).start();
  const r = await publish(relay.port, { channel: 'news', data: 'x' });
  assert.equal(r.status, 404);
  await relay.stopClean();
  const bad = new Relay({ flags: { publish_api: 1 } });
  await assert.rejects(bad.start(), /publish_api = 1 needs the token secret/);
  bad.cleanup();
});

test('publish API: one message reaches SSE and raw WebSocket subscribers with the id it answered', async () => {
  const relay = await new Relay({ flags: FLAGS }).start();
  const s = await rawSse(relay.port, '/sse?channel=news');
  const w = await wsClient(relay.wsUrl('/ws?channel=news'));
  // Every transport by default (like herald_publish()), a string as it is.
  let r = await publish(relay.port, { channel: 'news', data: 'hello\nworld', event: 'upd', retry: 1500 });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/json');
  assert.equal(r.headers.get('connection'), 'keep-alive');
  assert.match(r.headers.get('keep-alive'), /^timeout=30$/);
  assert.equal(r.json.ok, true);
  assert.equal(r.json.ids.length, 1);
  const [e1] = await s.waitEvents(1);
  assert.deepEqual([e1.id, e1.event, e1.retry, e1.data], [r.json.ids[0], 'upd', '1500', 'hello\nworld']);
  assert.deepEqual((await w.waitCount(1))[0], { data: 'hello\nworld', isBinary: false });
  // JSON data that is not a string travels as its compact JSON text.
  r = await publish(relay.port, { channel: ['news', 'chat.x'], data: { n: 1.5, s: 'é', a: [true, null] } });
  assert.equal(r.status, 200);
  const text = '{"n":1.5,"s":"é","a":[true,null]}';
  assert.equal((await s.waitEvents(2))[1].data, text);
  assert.equal((await w.waitCount(2))[1].data, text);
  // transport "sse" reaches SSE only, "ws" WebSocket only: a marker sent to
  // both afterwards is the next thing each sees.
  await publish(relay.port, { channel: 'news', data: 'sse only', transport: 'sse' });
  await publish(relay.port, { channel: 'news', data: 'ws only', transport: 'ws' });
  await publish(relay.port, { channel: 'news', data: 'marker', transport: 'all' });
  assert.deepEqual((await s.waitEvents(4)).slice(2).map((e) => e.data), ['sse only', 'marker']);
  assert.deepEqual((await w.waitCount(4)).slice(2).map((m) => m.data), ['ws only', 'marker']);
  // The SSE history keeps what SSE subscribers receive: a resume replays it.
  const again = await rawSse(relay.port, '/sse?channel=news', { 'Last-Event-ID': e1.id });
  assert.deepEqual((await again.waitEvents(3)).map((e) => e.data), [text, 'sse only', 'marker']);
  const m = await relay.metrics();
  assert.equal(m.herald_publish_api_requests_total, 5);
  assert.equal(m.herald_publish_api_messages_total, 5);
  assert.equal(m.herald_publish_api_pending, 0);
  s.destroy();
  again.destroy();
  w.ws.close();
  await w.closed;
  await relay.stopClean();
});

test('publish API: a batch is published in order, each message once, with increasing ids', async () => {
  const relay = await new Relay({ flags: FLAGS }).start();
  const s = await rawSse(relay.port, '/sse?channel=A&channel=B');
  const messages = [
    { channel: 'A', data: '1' },
    { channel: ['A', 'B'], data: '2' },
    { channel: 'B', data: { three: 3 }, event: 'e' },
    { channel: 'chat.room', data: 'elsewhere' },
    { channel: 'A', data: '5' },
  ];
  const r = await publish(relay.port, { messages });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.ids.length, 5);
  const seqs = r.json.ids.map((id) => Number(id.split('-')[1]));
  assert.deepEqual(seqs, [seqs[0], seqs[0] + 1, seqs[0] + 2, seqs[0] + 3, seqs[0] + 4]);
  const evs = await s.waitEvents(4);
  assert.deepEqual(
    evs.map((e) => [e.id, e.data]),
    [
      [r.json.ids[0], '1'],
      [r.json.ids[1], '2'],
      [r.json.ids[2], '{"three":3}'],
      [r.json.ids[4], '5'],
    ],
  );
  // All or nothing: one bad message refuses the body, nothing is published.
  const bad = await publish(relay.port, {
    messages: [{ channel: 'A', data: 'not sent' }, { channel: 'A', data: 'x', retry: 0 }],
  });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error, 'messages[1]: "retry" must be an integer of ms, 1 to 86400000');
  const forbidden = await publish(relay.port, {
    messages: [{ channel: 'A', data: 'not sent' }, { channel: ['B', 'private-x'], data: 'x' }],
  });
  assert.equal(forbidden.status, 403);
  assert.equal(forbidden.json.error, "messages[1]: token does not allow publishing to channel 'private-x'");
  const mark = await publish(relay.port, { channel: 'A', data: 'marker' });
  assert.equal((await s.waitEvents(5))[4].id, mark.json.ids[0]);
  assert.equal(s.events().length, 5);
  s.destroy();
  await relay.stopClean();
});

test('publish API: tokens: none, forged, expired, not yet valid, subscribe-only, other channels', async () => {
  const relay = await new Relay({ flags: FLAGS }).start();
  const s = await rawSse(relay.port, '/sse?channel=news');
  const body = { channel: 'news', data: 'must not arrive' };
  let r = await publish(relay.port, body, { tok: null });
  assert.equal(r.status, 401);
  assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="herald"');
  assert.equal(r.headers.get('connection'), 'close');
  assert.match(r.json.error, /^token required/);
  r = await publish(relay.port, body, { tok: null, headers: { Authorization: `Basic ${PUB}` } });
  assert.equal(r.status, 401);
  r = await publish(relay.port, body, { tok: claims({ publish: ['news'] }, { secret: 'another-secret-0123456789' }) });
  assert.equal(r.status, 401);
  assert.equal(r.json.error, 'invalid token signature');
  assert.match(r.headers.get('www-authenticate'), /error="invalid_token"/);
  r = await publish(relay.port, body, { tok: claims({ publish: ['news'] }, { ttl: -3600 }) });
  assert.deepEqual([r.status, r.json.error], [401, 'token expired']);
  r = await publish(relay.port, body, { tok: claims({ publish: ['news'], nbf: now() + 3600 }) });
  assert.deepEqual([r.status, r.json.error], [401, 'token not yet valid']);
  r = await publish(relay.port, body, { tok: 'not.a.token' });
  assert.deepEqual([r.status, r.json.error], [401, 'malformed token']);
  // A subscription token (channels claim only) publishes nothing.
  r = await publish(relay.port, body, { tok: token(['news', '*']) });
  assert.equal(r.status, 403);
  assert.equal(r.json.error, 'token does not allow publishing (no "publish" claim)');
  // A publish token names what it allows: exact names and prefix*.
  r = await publish(relay.port, { channel: 'newsroom', data: 'x' }, { tok: claims({ publish: ['news', 'chat.*'] }) });
  assert.deepEqual([r.status, r.json.error], [403, "token does not allow publishing to channel 'newsroom'"]);
  assert.equal(r.headers.get('connection'), 'keep-alive'); // a token holder keeps the connection
  r = await publish(relay.port, { channel: ['chat.1', 'chat.2'], data: 'ok' }, { tok: claims({ publish: ['chat.*'] }) });
  assert.equal(r.status, 200);
  r = await publish(relay.port, { channel: 'news', data: 'first' }, { tok: claims({ publish: ['*'] }) });
  assert.equal(r.status, 200);
  assert.equal((await s.waitEvents(1))[0].data, 'first'); // nothing refused came through
  const m = await relay.metrics();
  assert.equal(m['herald_publish_api_refused_total{reason="no_token"}'], 2);
  assert.equal(m['herald_publish_api_refused_total{reason="invalid_token"}'], 4);
  assert.equal(m['herald_publish_api_refused_total{reason="forbidden"}'], 2);
  s.destroy();
  await relay.stopClean();
});

test('publish API: a publish-only token does not subscribe, to SSE or WebSocket', async () => {
  const relay = await new Relay({ flags: FLAGS }).start();
  const tok = claims({ publish: ['private-a'] });
  let r = await httpGet(relay.port, `/sse?channel=private-a&token=${tok}`);
  assert.equal(r.status, 403);
  assert.match(r.body, /token does not allow channel private-a/);
  r = await httpGet(relay.port, '/sse?channel=private-a', { Authorization: `Bearer ${tok}` });
  assert.equal(r.status, 403);
  // And a token with both claims does both.
  const both = claims({ channels: ['private-a'], publish: ['private-a'] });
  const s = await rawSse(relay.port, `/sse?channel=private-a&token=${both}`);
  assert.equal((await publish(relay.port, { channel: 'private-a', data: 'mine' }, { tok: both })).status, 200);
  assert.equal((await s.waitEvents(1))[0].data, 'mine');
  s.destroy();
  await relay.stopClean();
});

test('publish API: the curl example of docs/OPERATIONS.md section 9 works as written', async () => {
  // The block that mints a token with openssl and publishes with curl, run
  // by bash with only the relay's URL and the secret file's path replaced.
  const doc = fs.readFileSync(path.join(ROOT, 'docs/OPERATIONS.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## 9. Publishing from other hosts'));
  const block = /```sh\n([\s\S]*?)```/g;
  let script = null;
  for (let m; (m = block.exec(section)); ) if (m[1].includes('b64url()')) script = m[1];
  assert.ok(script, 'the curl block in docs/OPERATIONS.md section 9');
  assert.match(script, /HERALD_URL=https:\/\/relay\.example\.com\n/);
  assert.match(script, /SECRET_FILE=\/etc\/herald\/secret\n/);
  const dir = tmpdir();
  const secretFile = path.join(dir, 'secret');
  fs.writeFileSync(secretFile, 'a-secret-like-base64-of-32-bytes+/=\n', { mode: 0o600 });
  const r2 = await new Relay({ flags: { secret_file: secretFile, publish_api: 1 } }).start();
  const s = await rawSse(r2.port, '/sse?channel=orders.42');
  const run = script
    .replace('HERALD_URL=https://relay.example.com', `HERALD_URL=http://127.0.0.1:${r2.port}`)
    .replace('SECRET_FILE=/etc/herald/secret', `SECRET_FILE=${secretFile}`);
  const out = await new Promise((resolve, reject) =>
    execFile('bash', ['-euo', 'pipefail', '-c', run], (err, stdout, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve(stdout))),
  );
  const answer = JSON.parse(out);
  assert.equal(answer.ok, true);
  const [e] = await s.waitEvents(1);
  assert.deepEqual([e.id, e.event, e.data], [answer.ids[0], 'order', '{"status":"shipped"}']);
  s.destroy();
  await r2.stopClean();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('publish API: a token herald_token() minted with a publish claim publishes, and subscribes to nothing', async () => {
  const relay = await new Relay({ flags: FLAGS }).start();
  const mint = async (arg) => {
    const r = await runPhp(`echo herald_token(${arg}, 60);`, { 'herald.secret': SECRET }).done;
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  const pubTok = await mint("['publish' => ['private-feed', 'jobs.*']]");
  const s = await rawSse(relay.port, `/sse?channel=private-feed&token=${token(['private-feed'])}`);
  let r = await publish(relay.port, { messages: [{ channel: 'private-feed', data: 'from PHP\'s token' }, { channel: 'jobs.1', data: 'x' }] }, { tok: pubTok });
  assert.equal(r.status, 200, r.text);
  assert.equal((await s.waitEvents(1))[0].id, r.json.ids[0]);
  r = await publish(relay.port, { channel: 'private-other', data: 'x' }, { tok: pubTok });
  assert.equal(r.status, 403);
  // It does not open the private channel it may publish to...
  assert.equal((await httpGet(relay.port, `/sse?channel=private-feed&token=${pubTok}`)).status, 403);
  // ...and a subscription token from herald_token() does not publish.
  const subTok = await mint("['private-feed']");
  r = await publish(relay.port, { channel: 'private-feed', data: 'x' }, { tok: subTok });
  assert.equal(r.status, 403);
  assert.equal(r.json.error, 'token does not allow publishing (no "publish" claim)');
  s.destroy();
  await relay.stopClean();
});

test('publish API: method, media type, framing, size and JSON refusals, each counted', async () => {
  const relay = await new Relay({ flags: { ...FLAGS, publish_max_bytes: 4096, publish_max_messages: 3 } }).start();
  const cases = [
    [() => publish(relay.port, null, { method: 'GET' }), 405, 'method', /use POST/],
    [() => publish(relay.port, '{}', { method: 'PUT' }), 405, 'method', /use POST/],
    [() => publish(relay.port, '{"channel":"A","data":1}', { headers: { 'Content-Type': 'text/plain' } }), 415, 'media_type', /application\/json/],
    [() => publish(relay.port, '{"channel":"A","data":1}', { headers: { 'Content-Type': 'application/json; charset=latin1' } }), 415, 'media_type', /UTF-8/],
    [() => publish(relay.port, '{"channel":"A",', {}), 400, 'invalid', /^malformed JSON at byte 15: /],
    [() => publish(relay.port, '{"channel":"a b","data":1}', {}), 400, 'invalid', /^invalid channel name 'a b'/],
    [() => publish(relay.port, '{"channel":"A"}', {}), 400, 'invalid', /^"data" is required$/],
    [() => publish(relay.port, { channel: 'A', data: 1, event: 'a\nb' }), 400, 'invalid', /invalid "event"/],
    [() => publish(relay.port, { messages: [1, 2, 3, 4].map((i) => ({ channel: 'A', data: i })) }), 413, 'too_many_messages', /^more than 3 messages in one request \(publish_max_messages\)$/],
    [() => publish(relay.port, { channel: 'A', data: 'x'.repeat(5000) }), 413, 'too_large', /^body larger than publish_max_bytes \(4096\)$/],
  ];
  for (const [run, status, reason, re] of cases) {
    const before = (await refused(relay, reason)) || 0;
    const r = await run();
    assert.equal(r.status, status, `${reason}: ${r.text}`);
    assert.equal(r.json.ok, false);
    assert.match(r.json.error, re);
    if (status === 405) assert.equal(r.headers.get('allow'), 'POST');
    if (status === 415) assert.equal(r.headers.get('accept-post'), 'application/json');
    assert.equal(await refused(relay, reason), before + 1, reason);
  }
  // Framing, on raw sockets: chunked and length-less bodies (411), both
  // framings at once (400), an expectation the relay does not serve (417).
  const raw = [
    [rawRequest({ length: null, headers: { 'Transfer-Encoding': 'chunked' } }) + '5\r\nhello\r\n0\r\n\r\n', 411, 'length_required'],
    [rawRequest({ length: null }), 411, 'length_required'],
    [rawRequest({ length: 5, headers: { 'Transfer-Encoding': 'chunked' } }) + 'hello', 400, 'framing'],
    [rawRequest({ length: 5, headers: { 'Content-Length': '5' } }) + 'hello', 400, 'framing'],
    [rawRequest({ length: 5, headers: { Expect: 'the-moon' } }) + 'hello', 417, 'expectation'],
  ];
  for (const [bytes, status, reason] of raw) {
    const c = await RawClient.connect(relay.port);
    await c.write(bytes);
    await c.closed; // every refusal before the body closes the connection
    const [res] = responses(c.text());
    assert.equal(res.status, status, reason);
    assert.equal(res.headers.connection, 'close');
    assert.equal(res.json.ok, false);
  }
  const m = await relay.metrics();
  assert.equal(m['herald_publish_api_refused_total{reason="length_required"}'], 2);
  assert.equal(m['herald_publish_api_refused_total{reason="framing"}'], 2);
  assert.equal(m['herald_publish_api_refused_total{reason="expectation"}'], 1);
  assert.equal(m.herald_publish_api_messages_total, 0);
  await relay.stopClean();
});

test('publish API: Expect: 100-continue gets 100 only with a good token, and then the body is read', async () => {
  const relay = await new Relay({ flags: FLAGS }).start();
  const s = await rawSse(relay.port, '/sse?channel=news');
  // node's http client waits for the 100 before it sends the body.
  const body = JSON.stringify({ channel: 'news', data: 'after continue' });
  const req = http.request({
    port: relay.port,
    host: '127.0.0.1',
    method: 'POST',
    path: '/publish',
    headers: {
      Authorization: `Bearer ${PUB}`,
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(body),
      Expect: '100-continue',
    },
  });
  let continued = false;
  req.on('continue', () => {
    continued = true;
    req.end(body);
  });
  const [res] = await once(req, 'response');
  let text = '';
  for await (const chunk of res) text += chunk;
  assert.equal(continued, true);
  assert.equal(res.statusCode, 200, text);
  const id = JSON.parse(text).ids[0];
  assert.equal((await s.waitEvents(1))[0].id, id);
  // Without a valid token: 401 at once, no 100, and the connection closes
  // without waiting for the body.
  const c = await RawClient.connect(relay.port);
  await c.write(rawRequest({ tok: claims({ channels: ['news'] }), length: 10, headers: { Expect: '100-continue' } }));
  await c.closed;
  assert.doesNotMatch(c.text(), /100 Continue/);
  assert.equal(responses(c.text())[0].status, 403);
  // Too large: 413 at once, no 100.
  const big = await RawClient.connect(relay.port);
  await big.write(rawRequest({ length: 2 << 20, headers: { Expect: '100-continue' } }));
  await big.closed;
  assert.doesNotMatch(big.text(), /100 Continue/);
  assert.equal(responses(big.text())[0].status, 413);
  s.destroy();
  await relay.stopClean();
});

test('publish API: a body that trickles in is read whole; one that stops is answered 408', async () => {
  const relay = await new Relay({ flags: FLAGS }).start();
  const s = await rawSse(relay.port, '/sse?channel=news');
  const body = JSON.stringify({ channel: 'news', data: 'x'.repeat(3000) + 'é' });
  const bytes = Buffer.from(rawRequest({ body }));
  const c = await RawClient.connect(relay.port);
  // Byte by byte through the head and the first bytes of the body, then in
  // chunks that split the UTF-8 'é'; each write waits for the previous one.
  let off = 0;
  const headEnd = bytes.indexOf('\r\n\r\n') + 4;
  while (off < headEnd + 20) await c.write(bytes.subarray(off, ++off));
  while (off < bytes.length) {
    const n = Math.min(997, bytes.length - off);
    await c.write(bytes.subarray(off, off + n));
    off += n;
  }
  await c.until(() => responses(c.text()).length === 1, 'the answer');
  const [res] = responses(c.text());
  assert.equal(res.status, 200);
  assert.equal((await s.waitEvents(1))[0].id, res.json.ids[0]);
  assert.equal(s.events()[0].data.length, 3001);
  // Half a body, then nothing: 408 once body_timeout passed, counted.
  const quick = await new Relay({ flags: { ...FLAGS, body_timeout: 1 } }).start();
  const slow = await RawClient.connect(quick.port);
  await slow.write(rawRequest({ body }).slice(0, headEnd + 100));
  await slow.closed;
  const [late] = responses(slow.text());
  assert.equal(late.status, 408);
  assert.equal(late.body, 'request body timeout\n');
  assert.equal((await quick.metrics())['herald_limit_hits_total{limit="body_timeout"}'], 1);
  await quick.stopClean();
  // A client that leaves mid-body publishes nothing (and leaks nothing:
  // the ASan run checks at stop).
  const gone = await RawClient.connect(relay.port);
  await gone.write(rawRequest({ body: JSON.stringify({ channel: 'news', data: 'half' }) }).slice(0, headEnd + 10));
  gone.destroy();
  // (The first client's connection is idle now: not pending.)
  await waitFor(async () => (await relay.metrics()).herald_connections_pending === 0, 'the cut connection closed');
  const mark = await publish(relay.port, { channel: 'news', data: 'marker' });
  assert.equal((await s.waitEvents(2))[1].id, mark.json.ids[0]);
  assert.equal(s.events().length, 2);
  s.destroy();
  await relay.stopClean();
});

test('publish API: keep-alive: one connection carries many requests; idle ones close quietly', async () => {
  const relay = await new Relay({ flags: FLAGS }).start();
  const s = await rawSse(relay.port, '/sse?channel=news');
  // node's http with a keep-alive agent of one socket: 10 publishes, one
  // connection. The scrapes go on connections of their own.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let before = await connectionsTotal(relay.port);
  const ids = [];
  for (let i = 0; i < 10; i++) {
    const body = JSON.stringify({ channel: 'news', data: String(i) });
    const req = http.request({
      agent,
      port: relay.port,
      host: '127.0.0.1',
      method: 'POST',
      path: '/publish',
      headers: { Authorization: `Bearer ${PUB}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
    });
    req.end(body);
    const [res] = await once(req, 'response');
    let text = '';
    for await (const chunk of res) text += chunk;
    assert.equal(res.statusCode, 200);
    ids.push(JSON.parse(text).ids[0]);
  }
  let after = await connectionsTotal(relay.port);
  assert.equal(after - before, 2); // one for the publishes, one for this scrape
  agent.destroy();
  // fetch (undici) too; it opens a second connection for its second request
  // (it does so with node's own server as well) and then keeps to it.
  before = await connectionsTotal(relay.port);
  for (let i = 10; i < 20; i++) ids.push((await publish(relay.port, { channel: 'news', data: String(i) })).json.ids[0]);
  after = await connectionsTotal(relay.port);
  assert.ok(after - before <= 3, `${after - before - 1} connections for 10 fetches`);
  assert.deepEqual((await s.waitEvents(20)).map((e) => e.id), ids);
  // On a raw socket: a request, its answer, then the next request (and an
  // error on the way keeps the connection: the token was good).
  const c = await RawClient.connect(relay.port);
  await c.write(rawRequest({ body: '{"channel":"news","data":"one"}' }));
  await c.until(() => responses(c.text()).length === 1, 'answer 1');
  // Idle between two requests: open, holding nothing, and not a pending request.
  assert.equal((await relay.metrics()).herald_connections_pending, 0);
  await c.write(rawRequest({ body: '{"channel":"news","data":' }));
  await c.until(() => responses(c.text()).length === 2, 'answer 2');
  await c.write(rawRequest({ body: '{"channel":"news","data":"three"}' }));
  await c.until(() => responses(c.text()).length === 3, 'answer 3');
  assert.deepEqual(responses(c.text()).map((r) => r.status), [200, 400, 200]);
  assert.equal(c.isClosed, false);
  // "Connection: close" from the client is honoured.
  await c.write(rawRequest({ body: '{"channel":"news","data":"four"}', headers: { Connection: 'close' } }));
  await c.closed;
  assert.deepEqual(responses(c.text()).map((r) => [r.status, r.headers.connection]).at(-1), [200, 'close']);
  assert.deepEqual((await s.waitEvents(23)).slice(20).map((e) => e.data), ['one', 'three', 'four']);
  s.destroy();
  await relay.stopClean();

  // An idle connection is closed when keepalive_timeout ends, without a 408.
  const short = await new Relay({ flags: { ...FLAGS, keepalive_timeout: 1 } }).start();
  const k = await RawClient.connect(short.port);
  await k.write(rawRequest({ body: '{"channel":"news","data":"x"}' }));
  await k.closed;
  const rs = responses(k.text());
  assert.equal(rs.length, 1);
  assert.equal(rs[0].headers['keep-alive'], 'timeout=1');
  assert.equal(k.text().length, k.text().indexOf('\r\n\r\n') + 4 + Number(rs[0].headers['content-length']));
  // keepalive_timeout = 0: one request per connection.
  await short.stopClean();
  const none = await new Relay({ flags: { ...FLAGS, keepalive_timeout: 0 } }).start();
  const r = await publish(none.port, { channel: 'news', data: 'x' });
  assert.equal(r.headers.get('connection'), 'close');
  await none.stopClean();
});

test('publish API: pipelined requests: the first is answered with Connection: close, the rest is not read', async () => {
  const relay = await new Relay({ flags: FLAGS }).start();
  const s = await rawSse(relay.port, '/sse?channel=news');
  const c = await RawClient.connect(relay.port);
  await c.write(
    rawRequest({ body: '{"channel":"news","data":"first"}' }) + rawRequest({ body: '{"channel":"news","data":"second"}' }),
  );
  await c.closed;
  const rs = responses(c.text());
  assert.equal(rs.length, 1);
  assert.deepEqual([rs[0].status, rs[0].headers.connection], [200, 'close']);
  const mark = await publish(relay.port, { channel: 'news', data: 'marker' });
  assert.deepEqual((await s.waitEvents(2)).map((e) => e.data), ['first', 'marker']);
  assert.equal(s.events()[1].id, mark.json.ids[0]);
  s.destroy();
  await relay.stopClean();
});

test('publish API: order across publishers: a socket publish that returned first is delivered first', async () => {
  // The relay is stopped while a PHP-like publisher writes frame B to the
  // ingest socket and then an HTTP publisher sends A: both are read in one
  // poll. B (read, released in the check phase) must come before A (was:
  // A published at once from the read callback, before B).
  // With workers (HERALD_WORKERS) the HTTP client may be on another loop
  // than the one reading the socket: A waits for that loop to release B.
  const relay = await new Relay({ flags: FLAGS }).start();
  const s = await rawSse(relay.port, '/sse?channel=news');
  const pub = await new Publisher(relay.socket).connect();
  const c = await RawClient.connect(relay.port);
  for (let round = 0; round < 3; round++) {
    await relay.pause();
    try {
      await pub.pub('sse', 'news', `B${round}`);
      await c.write(rawRequest({ body: JSON.stringify({ channel: 'news', data: `A${round}` }) }));
    } finally {
      process.kill(relay.proc.pid, 'SIGCONT');
    }
    await c.until(() => responses(c.text()).length === round + 1, `answer ${round}`);
  }
  assert.deepEqual(
    (await s.waitEvents(6)).map((e) => e.data),
    ['B0', 'A0', 'B1', 'A1', 'B2', 'A2'],
  );
  c.destroy();
  await pub.close();
  s.destroy();
  await relay.stopClean();
});

test('publish API: a shutdown never answers 200 for a message it did not publish', async () => {
  const relay = await new Relay({ flags: FLAGS }).start();
  const s = await rawSse(relay.port, '/sse?channel=news');
  const c = await RawClient.connect(relay.port);
  await relay.pause();
  try {
    await c.write(rawRequest({ body: '{"channel":"news","data":"last"}' }));
    process.kill(relay.proc.pid, 'SIGTERM');
  } finally {
    process.kill(relay.proc.pid, 'SIGCONT');
  }
  await c.closed;
  // Either the request was read before the stop (200, published) or the
  // connection was ended unanswered (nothing published): never a 200 for a
  // message that was not published.
  const rs = responses(c.text());
  const got = await s.until(() => s.isClosed, 'the stream ended').then(() => s.events());
  if (rs.length) {
    assert.equal(rs[0].status, 200);
    assert.deepEqual(got.map((e) => e.id), rs[0].json.ids);
  } else {
    assert.equal(got.length, 0);
  }
  const r = await relay.exitPromise;
  assert.equal(r.code, 0, relay.log());
  assert.doesNotMatch(relay.log(), SANITIZER_RE);
  relay.cleanup();
});
