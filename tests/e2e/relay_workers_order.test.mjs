// Workers (issue 18) and the order across publishers (PROTOCOL.md 1.5): a
// publish whose call returned before another started is never delivered
// after it, also when one is a PHP socket publish (read by the first loop)
// and the other an HTTP publish that the kernel gave to the other loop.
// Each test opens subscribers on both loops (herald_loop_connections) and
// 16 keep-alive HTTP publishers, alternates PHP publishes and HTTP
// publishes on those connections, each
// starting after the previous returned, and checks that subscribers on
// both loops see exactly that order. In the first rounds the relay is
// stopped (SIGSTOP) while PHP's publish returns and the HTTP request is
// written, so that both loops read them in the same instant: the case an
// HTTP publish on the second loop used to win about half the time. The
// last rounds run free. These run with workers = 2 whatever
// HERALD_WORKERS says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Relay, RawClient, rawSse, parseResponse, waitFor } from './lib/harness.mjs';
import { PhpWorker } from './lib/php.mjs';
import { SECRET, sign, now } from './lib/token.mjs';
import { HUB, mercureFlags, pubJwt, rawSubscribe, query } from './lib/mercure.mjs';

const PAUSED = 16; // rounds with the relay stopped while both publishes go in
const FREE = 16; // rounds without

// The whole response to the request written after byte `from` of c.
function responseAfter(c, from) {
  const p = parseResponse(c.buf.subarray(from).toString('utf8'));
  if (!p) return null;
  return Buffer.byteLength(p.body) >= Number(p.headers['content-length'] ?? 0) ? p : null;
}

// A request on keep-alive connection c; resolves with its response.
async function request(c, text, what) {
  const from = c.buf.length;
  await c.write(text);
  return c.until(() => responseAfter(c, from), what);
}

// Streams on loop 1 (herald_loop_connections counts SSE and WebSocket
// streams, not plain HTTP connections).
async function onLoop1(relay) {
  return (await relay.metrics())['herald_loop_connections{loop="1"}'] ?? 0;
}

// Open streams with open() until each loop holds `want`; [loop 0's, loop 1's].
async function onBothLoops(relay, open, want, max = 64) {
  const by = [[], []];
  let before = await onLoop1(relay);
  for (let i = 0; i < max && (by[0].length < want || by[1].length < want); i++) {
    const c = await open();
    const after = await onLoop1(relay);
    by[after - before].push(c);
    before = after;
  }
  if (by[0].length < want || by[1].length < want) throw new Error(`the kernel put ${max} streams on one loop`);
  return by;
}

// Which loop each keep-alive connection is on, found once it has served
// its publishes: each becomes an SSE stream in turn (herald_loop_connections).
async function loopsOf(relay, conns) {
  const loops = [];
  let before = await onLoop1(relay);
  for (const c of conns) {
    const from = c.buf.length;
    await c.write('GET /sse?channel=which HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.until(() => parseResponse(c.buf.subarray(from).toString('utf8'))?.status === 200, 'the stream');
    const after = await onLoop1(relay);
    loops.push(after - before);
    before = after;
  }
  return loops;
}

const CONNS = 16; // keep-alive publishers: all on one loop 2 times in 65536

// K keep-alive connections, each answered once by warm(c) (so the relay
// took it, on the loop the kernel chose).
async function keepAlive(relay, warm) {
  const conns = [];
  for (let i = 0; i < CONNS; i++) {
    const c = await RawClient.connect(relay.port);
    assert.equal((await warm(c)).status, 200);
    conns.push(c);
  }
  return conns;
}

// Rounds k = 0..: PHP's publish of s<k> returns, then the HTTP publish of
// h<k> (httpPublish(c, data), on keep-alive connection k % CONNS) starts
// and returns. Returns the order every subscriber must see, and which
// connection each paused round used.
async function alternate(relay, php, phpPublish, conns, httpPublish) {
  const order = [];
  for (let k = 0; k < PAUSED + FREE; k++) {
    const c = conns[k % conns.length];
    const paused = k < PAUSED;
    if (paused) await relay.pause();
    let answer;
    try {
      const r = await php.call(...phpPublish(`s${k}`));
      assert.equal(r.error, null);
      answer = httpPublish(c, `h${k}`);
    } finally {
      if (paused) process.kill(relay.proc.pid, 'SIGCONT');
    }
    assert.equal((await answer).status, 200);
    order.push(`s${k}`, `h${k}`);
  }
  return order;
}

// POST /publish of one message on keep-alive connection c, its answer awaited.
function postPublish(c, auth, channel, data) {
  const body = JSON.stringify({ channel, data });
  return request(
    c,
    `POST /publish HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    `answer to ${data}`,
  );
}

// Both loops served HTTP publishes of the paused rounds (so the test did
// what it says): found afterwards, since only streams are counted per loop.
async function bothLoopsServed(relay, conns) {
  const loops = await loopsOf(relay, conns.slice(0, Math.min(PAUSED, conns.length)));
  assert.ok(loops.includes(0) && loops.includes(1), `HTTP publishes on loops ${loops}`);
}

test('workers = 2: PHP socket publishes and POST /publish on both loops, alternating, arrive in the order they returned', async () => {
  const relay = await new Relay({ flags: { workers: 2, publish_api: 1, secret: SECRET } }).start();
  const auth = `Bearer ${sign({ alg: 'HS256', typ: 'JWT' }, { publish: ['ord', 'warm'], exp: now() + 3600 })}`;
  const post = (c, channel, data) => postPublish(c, auth, channel, data);
  const subs = (await onBothLoops(relay, () => rawSse(relay.port, '/sse?channel=ord'), 1)).flat();
  const conns = await keepAlive(relay, (c) => post(c, 'warm', 'up'));
  const php = new PhpWorker(relay.socket);
  // Connected (and its hello answered) before the relay is ever stopped.
  assert.equal((await php.call('herald_publish', ['warm', 'up'])).result, true);
  const order = await alternate(
    relay,
    php,
    (data) => ['herald_publish', ['ord', data]],
    conns,
    (c, data) => post(c, 'ord', data),
  );
  for (const s of subs) assert.deepEqual((await s.waitEvents(order.length)).map((e) => e.data), order);
  await bothLoopsServed(relay, conns);
  for (const c of [...conns, ...subs]) c.destroy();
  await php.stop();
  await relay.stopClean();
});

test('workers = 2: PHP Mercure publishes and Mercure POSTs on both loops, alternating, arrive in the order they returned', async () => {
  const relay = await new Relay({ flags: mercureFlags({ workers: 2 }) }).start();
  const T = 'https://example.com/order/1';
  const jwt = pubJwt(['*']);
  const post = (c, topic, data) => {
    const body = query([
      ['topic', topic],
      ['data', data],
    ]);
    return request(
      c,
      `POST ${HUB} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${jwt}\r\n` +
        `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      `answer to ${data}`,
    );
  };
  const subs = (await onBothLoops(relay, () => rawSubscribe(relay, query([['topic', T]])), 1)).flat();
  const conns = await keepAlive(relay, (c) => post(c, 'https://example.com/warm', 'up'));
  const php = new PhpWorker(relay.socket);
  assert.equal((await php.call('herald_publish', ['warm', 'up'])).result, true);
  const order = await alternate(
    relay,
    php,
    (data) => ['herald_mercure_publish', [T, data]],
    conns,
    (c, data) => post(c, T, data),
  );
  const last = order[order.length - 1];
  for (const s of subs) {
    await s.untilData(last);
    assert.deepEqual(
      s.blocks().filter((b) => b.data !== undefined).map((b) => b.data),
      order,
    );
  }
  await bothLoopsServed(relay, conns);
  for (const c of [...conns, ...subs]) c.destroy();
  await php.stop();
  await relay.stopClean();
});

test('workers = 2: once the first loop stopped (its drain had no client), a publish on the second loop still draining is answered and delivered at once', async () => {
  // drain_ms is long: the second loop, which holds the one subscriber,
  // drains for a minute; the first, with no stream, stops at the signal,
  // its ingest with it. A request on the second loop must not wait for the
  // first loop's releases any more (nor until its own drain ends).
  const relay = await new Relay({ flags: { workers: 2, publish_api: 1, secret: SECRET, drain_ms: 60000 } }).start();
  const auth = `Bearer ${sign({ alg: 'HS256', typ: 'JWT' }, { publish: ['late', 'warm'], exp: now() + 3600 })}`;
  const post = (c, channel, data) => postPublish(c, auth, channel, data);
  const conns = await keepAlive(relay, (c) => post(c, 'warm', 'up'));
  const [first, second] = await onBothLoops(relay, () => rawSse(relay.port, '/sse?channel=late'), 1);
  for (const s of first) s.destroy();
  await waitFor(async () => ((await relay.metrics())['herald_loop_connections{loop="0"}'] ?? 0) === 0, 'no stream on loop 0');
  process.kill(relay.proc.pid, 'SIGTERM');
  await waitFor(() => /drain: ended \(no client to close\)/.test(relay.log()) && !fs.existsSync(relay.socket), 'loop 0 stopped');
  // The first loop closed its keep-alive connections; the second answers.
  const answered = [];
  for (const [i, c] of conns.entries()) {
    // Refused only by a connection the first loop closed, not by a wait.
    const r = await post(c, 'late', `late ${i}`).catch((e) => {
      if (c.isEnded || c.isClosed || c.error) return null;
      throw e;
    });
    if (r) {
      assert.equal(r.status, 200, r.body);
      answered.push(`late ${i}`);
    }
  }
  assert.ok(answered.length > 0, 'no keep-alive connection on the second loop');
  for (const s of second) assert.deepEqual((await s.waitEvents(answered.length)).map((e) => e.data), answered);
  for (const c of [...conns, ...second]) c.destroy();
  await relay.stopClean(); // a second signal ends the drain
});
