// herald_token() end to end: PHP mints the token with herald.secret, the
// relay (same secret) lets a real EventSource and a real WebSocket with it
// onto the private channel, and PHP's sse_emit()/ws_publish() reach them;
// a token for another channel, or minted with another secret, is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Relay, ROOT, sse, wsClient, httpGet } from './lib/harness.mjs';

const EXT = process.env.HERALD_EXT || path.join(ROOT, 'build/herald.so');
const PHP = process.env.PHP || 'php';
const SECRET = 'php-and-relay-share-this-secret';
const run = promisify(execFile);

async function php(code, ini = {}) {
  const args = ['-n', '-d', `extension=${EXT}`];
  for (const [k, v] of Object.entries(ini)) args.push('-d', `${k}=${v}`);
  const { stdout } = await run(PHP, [...args, '-r', code]);
  return stdout;
}

test('php: herald_token() lets an EventSource and a WebSocket onto a private channel', async () => {
  const relay = await new Relay({ flags: { secret: SECRET } }).start();
  const token = await php("echo herald_token(['private-user-42', 'private-room-*'], 300);", {
    'herald.secret': SECRET,
  });
  assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]{43}$/);

  const es = sse(relay.url(`/sse?channel=private-user-42&token=${token}`));
  await es.opened;
  const ws = await wsClient(relay.wsUrl('/ws?channel=private-room-9'), {
    headers: { Cookie: `herald_token=${token}` },
  });
  await php(
    "var_dump(sse_emit('private-user-42', 'for user 42'), ws_publish('private-room-9', 'room 9'));",
    { 'herald.socket': relay.socket, 'herald.ack': 1 },
  );
  assert.equal((await es.waitCount(1))[0].data, 'for user 42');
  assert.equal((await ws.waitCount(1))[0].data, 'room 9');
  es.close();
  ws.ws.close();
  await ws.closed;

  // Another user's channel, and a token minted with another secret: refused.
  let r = await httpGet(relay.port, `/sse?channel=private-user-7&token=${token}`);
  assert.equal(r.status, 403);
  const forged = await php("echo herald_token(['private-user-7']);", {
    'herald.secret': 'not-the-relay-secret-at-all',
  });
  r = await httpGet(relay.port, `/sse?channel=private-user-7&token=${forged}`);
  assert.equal(r.status, 401);
  assert.match(r.body, /signature/);
  await relay.stopClean();
});

test('php: the longest token herald_token() mints is one the relay accepts; one byte of channels more throws ValueError', async () => {
  const relay = await new Relay({ flags: { secret: SECRET } }).start();
  // Grow the channel list until herald_token() refuses; keep the last token.
  const out = await php(
    `$last = null;
    for ($n = 1; $n < 4000; $n++) {
      $ch = array_merge(['private-long'], str_split(str_repeat('y', $n * 3), 200));
      try { $last = herald_token($ch, 300); } catch (ValueError $e) { echo strlen($last), ' ', $last, ' ', get_class($e); exit; }
    }`,
    { 'herald.secret': SECRET },
  );
  const [len, token, cls] = out.split(' ');
  assert.equal(cls, 'ValueError');
  assert.ok(Number(len) <= 4096 && Number(len) > 4096 - 10, `longest token: ${len} bytes`);
  // A header carries it (a query of that length would pass max_url_bytes).
  const r = await fetch(relay.url('/sse?channel=private-long'), { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200);
  await r.body.cancel();
  await relay.stopClean();
});
