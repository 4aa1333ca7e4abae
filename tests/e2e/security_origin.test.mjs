// Origins (SECURITY.md): ws_origins is an allowlist against cross-site
// WebSocket hijacking (a page elsewhere opening /ws with the user's
// cookies); cors_origin is the allowlist of pages that may read /sse from
// another origin, echoed with Vary: Origin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Relay, rawSse, rawWs, parseResponse } from './lib/harness.mjs';

// A 101 leaves the socket open, so stop at its head; a refusal closes, and
// its body is read to the end.
async function upgrade(relay, headers) {
  const c = await rawWs(relay.port, '/ws?channel=a', headers);
  if (c.response.status !== 101) {
    await c.closed;
    return parseResponse(c.buf.toString('latin1'));
  }
  c.destroy();
  return c.response;
}

test('ws_origins: listed origins upgrade, others get 403 and a metric', async () => {
  const relay = await new Relay({
    flags: { ws_origins: 'https://app.example, https://admin.example' },
  }).start();
  assert.equal((await upgrade(relay, { Origin: 'https://app.example' })).status, 101);
  assert.equal((await upgrade(relay, { Origin: 'https://admin.example' })).status, 101);
  const evil = await upgrade(relay, { Origin: 'https://evil.example' });
  assert.equal(evil.status, 403);
  assert.match(evil.body, /origin not allowed/);
  // Near misses are not matches.
  assert.equal((await upgrade(relay, { Origin: 'https://app.example.evil' })).status, 403);
  assert.equal((await upgrade(relay, { Origin: 'http://app.example' })).status, 403);
  assert.equal((await upgrade(relay, { Origin: 'null' })).status, 403);
  // No Origin: not a browser page, nothing ambient to abuse.
  assert.equal((await upgrade(relay, {})).status, 101);
  assert.equal((await relay.metrics())['herald_auth_refused_total{reason="origin"}'], 4);
  await relay.stopClean();
});

test('ws_origins empty (default): any Origin upgrades', async () => {
  const relay = await new Relay().start();
  assert.equal((await upgrade(relay, { Origin: 'https://anything.example' })).status, 101);
  await relay.stopClean();
});

test('cors_origin: a list echoes the matching Origin with Vary; others get no grant', async () => {
  const relay = await new Relay({
    flags: { cors_origin: 'https://a.example,https://b.example' },
  }).start();
  const head = async (origin) => {
    const c = await rawSse(relay.port, '/sse?channel=c', origin ? { Origin: origin } : {});
    const h = c.response().headers;
    c.destroy();
    return h;
  };
  let h = await head('https://b.example');
  assert.equal(h['access-control-allow-origin'], 'https://b.example');
  assert.equal(h['access-control-allow-credentials'], 'true');
  assert.equal(h.vary, 'Origin');
  h = await head('https://c.example');
  assert.equal(h['access-control-allow-origin'], undefined);
  assert.equal(h.vary, 'Origin');
  h = await head(null);
  assert.equal(h['access-control-allow-origin'], undefined);
  await relay.stopClean();
});

test('cors_origin "*" grants any page, without credentials', async () => {
  const relay = await new Relay({ flags: { cors_origin: '*' } }).start();
  const c = await rawSse(relay.port, '/sse?channel=c', { Origin: 'https://x.example' });
  const h = c.response().headers;
  c.destroy();
  assert.equal(h['access-control-allow-origin'], '*');
  assert.equal(h['access-control-allow-credentials'], undefined);
  await relay.stopClean();
});
