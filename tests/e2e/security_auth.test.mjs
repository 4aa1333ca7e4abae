// Private channels (SECURITY.md): a channel matching private_prefixes needs
// an HS256 token from herald_token() naming it. Every refusal path the
// issue lists: no token, alg none, a tampered payload, a wrong secret, an
// expired or not-yet-valid token, a channel outside the claims, and no
// secret configured; the three places a token may come from; WebSocket
// upgrade refusals and later subscribes (error reply, then close 1008).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  Relay,
  Publisher,
  rawSse,
  rawRequest,
  rawWs,
  parseResponse,
  httpRequestText,
  wsHandshake,
  wsClient,
  pubOk,
  runRelayOnce,
  tmpdir,
  waitFor,
} from './lib/harness.mjs';
import { SECRET, token, algNone, tampered, sign, now } from './lib/token.mjs';

const secured = (flags = {}) => new Relay({ flags: { secret: SECRET, ...flags } }).start();

async function get(relay, p, headers = {}) {
  return parseResponse(await rawRequest(relay.port, httpRequestText(p, headers)));
}

async function refused(relay, p, status, body, headers = {}) {
  const r = await get(relay, p, headers);
  assert.equal(r.status, status, `${p}: ${r.body}`);
  assert.match(r.body, body);
  if (status === 401) assert.match(r.headers['www-authenticate'], /^Bearer realm="herald"/);
  return r;
}

test('auth: public channels need no token; private ones answer 401 without one', async () => {
  const relay = await secured();
  const pub = await rawSse(relay.port, '/sse?channel=news');
  assert.equal(pub.response().status, 200);
  pub.destroy();
  await refused(relay, '/sse?channel=private-a', 401, /token required/);
  await refused(relay, '/sse?channel=news&channel=private-a', 401, /token required/);
  const m = await relay.metrics();
  assert.equal(m['herald_auth_refused_total{reason="no_token"}'], 2);
  await relay.stopClean();
});

test('auth: a valid token from ?token=, Authorization: Bearer or the cookie subscribes', async () => {
  const relay = await secured();
  const t = token(['private-a', 'private-team-*']);
  const clients = [
    await rawSse(relay.port, `/sse?channel=private-a&channel=private-team-7&token=${t}`),
    await rawSse(relay.port, '/sse?channel=private-a&channel=private-team-7', {
      Authorization: `Bearer ${t}`,
    }),
    await rawSse(relay.port, '/sse?channel=private-a&channel=private-team-7', {
      Cookie: `session=abc; herald_token=${t}; theme=dark`,
    }),
  ];
  for (const c of clients) assert.equal(c.response().status, 200);
  const pub = await new Publisher(relay.socket).connect();
  await pubOk(pub, 'sse', 'private-team-7', 'hello team');
  await pubOk(pub, 'sse', 'private-a', 'hello a');
  for (const c of clients) {
    const evs = await c.waitEvents(2);
    assert.deepEqual(
      evs.map((e) => e.data),
      ['hello team', 'hello a'],
    );
    c.destroy();
  }
  await pub.close();
  await relay.stopClean();
});

test('auth: forged and stale tokens answer 401; a channel outside the claims 403', async () => {
  const relay = await secured();
  const ch = '/sse?channel=private-a';
  await refused(relay, `${ch}&token=${algNone(['private-a'])}`, 401, /algorithm not accepted/);
  await refused(relay, `${ch}&token=${tampered(['private-b'], ['private-a'])}`, 401, /signature/);
  await refused(
    relay,
    `${ch}&token=${token(['private-a'], { secret: 'another-secret-of-some-length' })}`,
    401,
    /signature/,
  );
  // exp beyond the 30 s default skew.
  await refused(relay, `${ch}&token=${token(['private-a'], { ttl: -120 })}`, 401, /expired/);
  await refused(
    relay,
    `${ch}&token=${token(['private-a'], { nbf: now() + 600 })}`,
    401,
    /not yet valid/,
  );
  await refused(relay, `${ch}&token=not.a.token`, 401, /malformed/);
  await refused(relay, ch, 401, /malformed/, { Authorization: `Bearer ${'A'.repeat(5000)}` });
  await refused(
    relay,
    `${ch}&token=${sign({ alg: 'HS256' }, { channels: ['private-a'] })}`,
    401,
    /claims/,
  );
  await refused(relay, ch, 401, /algorithm/, { Authorization: `Bearer ${algNone(['*'])}` });
  // Valid, but not for this channel.
  await refused(relay, `${ch}&token=${token(['private-b', 'private-a-*'])}`, 403, /private-a/);
  await refused(
    relay,
    `/sse?channel=private-b&channel=private-c&token=${token(['private-b'])}`,
    403,
    /private-c/,
  );
  // Within the skew an expired token still passes (clocks differ a little).
  const ok = await rawSse(relay.port, `${ch}&token=${token(['private-a'], { ttl: -5 })}`);
  assert.equal(ok.response().status, 200);
  ok.destroy();
  const m = await relay.metrics();
  assert.equal(m['herald_auth_refused_total{reason="invalid_token"}'], 9);
  assert.equal(m['herald_auth_refused_total{reason="forbidden"}'], 2);
  await relay.stopClean();
});

test('auth: without a secret the relay starts and refuses every private channel (403)', async () => {
  const relay = await new Relay().start();
  // Said once at start, before anyone asks (stderr may trail /healthz a little).
  await waitFor(() => /no secret set: private channels \(private-\) are refused/.test(relay.log()),
    'the no-secret log line');
  await refused(relay, `/sse?channel=private-a&token=${token(['private-a'])}`, 403, /no secret/);
  const pub = await rawSse(relay.port, '/sse?channel=public-a');
  assert.equal(pub.response().status, 200);
  pub.destroy();
  assert.equal((await relay.metrics())['herald_auth_refused_total{reason="no_secret"}'], 1);
  await relay.stopClean();
});

test('auth: private_prefixes sets which channels are private; empty makes none', async () => {
  let relay = await secured({ private_prefixes: 'user-, team-*' });
  await refused(relay, '/sse?channel=user-1', 401, /token required/);
  await refused(relay, '/sse?channel=team-x', 401, /token required/);
  const open = await rawSse(relay.port, '/sse?channel=private-a');
  assert.equal(open.response().status, 200);
  open.destroy();
  await relay.stopClean();
  relay = await new Relay({ flags: { private_prefixes: '' } }).start();
  const all = await rawSse(relay.port, '/sse?channel=private-a');
  assert.equal(all.response().status, 200);
  all.destroy();
  await relay.stopClean();
});

test('auth: the secret comes from secret_file or HERALD_SECRET; a short one is refused', async () => {
  const dir = tmpdir();
  const file = path.join(dir, 'secret');
  fs.writeFileSync(file, 'file-secret-0123456789\n');
  let relay = await new Relay({ flags: { secret_file: file } }).start();
  const t = token(['private-a'], { secret: 'file-secret-0123456789' });
  const c = await rawSse(relay.port, `/sse?channel=private-a&token=${t}`);
  assert.equal(c.response().status, 200);
  c.destroy();
  await refused(relay, `/sse?channel=private-a&token=${token(['private-a'])}`, 401, /signature/);
  await relay.stopClean();

  process.env.HERALD_SECRET = 'env-secret-0123456789';
  try {
    relay = await new Relay().start();
  } finally {
    delete process.env.HERALD_SECRET;
  }
  const e = await rawSse(
    relay.port,
    `/sse?channel=private-a&token=${token(['private-a'], { secret: 'env-secret-0123456789' })}`,
  );
  assert.equal(e.response().status, 200);
  e.destroy();
  await relay.stopClean();

  let r = await runRelayOnce(['--secret', 'short', '--socket', path.join(dir, 's.sock')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /at least 16 bytes/);
  r = await runRelayOnce(['--secret_file', path.join(dir, 'missing'), '--socket', 'x.sock']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /cannot read secret_file/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('auth: WebSocket upgrade to a private channel: 401/403, or 101 with a good token', async () => {
  const relay = await secured();
  for (const [p, status] of [
    ['/ws?channel=private-a', 401],
    [`/ws?channel=private-a&token=${algNone(['private-a'])}`, 401],
    [`/ws?channel=private-a&token=${token(['private-b'])}`, 403],
  ]) {
    const r = parseResponse(await rawRequest(relay.port, wsHandshake(p)));
    assert.equal(r.status, status, p);
  }
  const ws = await wsClient(relay.wsUrl('/ws?channel=private-a'), {
    headers: { Authorization: `Bearer ${token(['private-a'])}` },
  });
  const pub = await new Publisher(relay.socket).connect();
  await pubOk(pub, 'ws', 'private-a', 'secret news');
  const [m] = await ws.waitCount(1);
  assert.equal(m.data, 'secret news');
  ws.ws.close();
  await ws.closed;
  await pub.close();
  await relay.stopClean();
});

test('auth: WebSocket subscribe uses the upgrade token; outside it: error, then 1008', async () => {
  const relay = await secured();
  const t = token(['private-room-*']);
  const ws = await wsClient(relay.wsUrl(`/ws?channel=lobby&token=${t}`));
  ws.send({ type: 'subscribe', channel: 'private-room-1' });
  const [ok] = await ws.waitCount(1);
  assert.deepEqual(JSON.parse(ok.data), { type: 'subscribed', channel: 'private-room-1' });
  const pub = await new Publisher(relay.socket).connect();
  await pubOk(pub, 'ws', 'private-room-1', 'in the room');
  assert.equal((await ws.waitCount(2))[1].data, 'in the room');
  ws.send({ type: 'subscribe', channel: 'private-other' });
  const [, , err] = await ws.waitCount(3);
  assert.deepEqual(JSON.parse(err.data), {
    type: 'error',
    channel: 'private-other',
    error: 'token does not allow this channel',
  });
  assert.deepEqual(await ws.closed, { code: 1008, reason: 'token does not allow this channel' });

  // No token at all: the same, with its own reason.
  const bare = await rawWs(relay.port, '/ws?channel=lobby');
  await bare.sendJson({ type: 'subscribe', channel: 'private-x' });
  const close = await bare.waitClose();
  assert.equal(close.code, 1008);
  const texts = bare
    .frames()
    .filter((f) => f.opcode === 1)
    .map((f) => JSON.parse(f.payload.toString()));
  assert.deepEqual(texts, [{ type: 'error', channel: 'private-x', error: 'token required' }]);
  const m = await relay.metrics();
  assert.equal(m['herald_auth_refused_total{reason="forbidden"}'], 1);
  assert.equal(m['herald_auth_refused_total{reason="no_token"}'], 1);
  await pub.close();
  await relay.stopClean();
});
