// Application hooks in cluster mode: two relays joined through one real
// redis-server, both FastCGI clients of one php-fpm pool whose PHP
// publishes through relay B. A connection id names its relay, and
// herald_send() reaches a connection held by relay A from a hook run for a
// client of relay B; herald_send_user() reaches the user's connections on
// both relays, each once; other users get nothing before a sentinel
// published after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Relay, Publisher, tmpdir, waitFor, pubOk } from './lib/harness.mjs';
import { Redis } from './lib/redis.mjs';
import { startFpm } from './lib/fpm.mjs';
import { heraldClient } from './lib/herald.mjs';
import { SECRET } from './lib/token.mjs';
import { HOOK_SCRIPTS, ask } from './lib/hooks.mjs';

test('cluster: herald_send reaches a connection on the other relay, herald_send_user every connection of the user, each once', async () => {
  const dir = tmpdir('herald-cluster-hooks-');
  for (const f of fs.readdirSync(HOOK_SCRIPTS)) {
    if (f.endsWith('.php')) fs.copyFileSync(path.join(HOOK_SCRIPTS, f), path.join(dir, f));
  }
  const redis = await new Redis().start();
  const flags = {
    secret: SECRET,
    redis: redis.url,
    app_fastcgi: `unix:${path.join(dir, 'fpm.sock')}`,
    app_script: path.join(dir, 'app.php'),
    app_events: 'connect,message',
  };
  const A = new Relay({ flags });
  const B = new Relay({ flags });
  const pool = await startFpm(dir, {
    workers: 2,
    ini: { 'herald.socket': B.socket, 'herald.secret': SECRET, display_errors: 0 },
  });
  await A.start();
  await B.start();
  await waitFor(async () => {
    const [a, b] = [await A.metrics(), await B.metrics()];
    return a.herald_redis_up === 1 && b.herald_redis_up === 1;
  }, 'both relays linked to Redis');
  const pub = await new Publisher(B.socket).connect();
  const client = (r, user) =>
    heraldClient(r.wsUrl('/ws'), { headers: { cookie: `user=${user}` } });
  const anaA = await client(A, 'ana');
  const anaB = await client(B, 'ana');
  const bobB = await client(B, 'bob');
  for (const c of [anaA, anaB, bobB]) {
    c.send({ type: 'subscribe', channel: 'lobby' });
    await c.until((j) => j.type === 'subscribed', 'subscribed');
  }
  await redis.subscribers('lobby', 2);

  const whoA = (await ask(anaA, 'who am i')).data;
  const whoB = (await ask(anaB, 'and me')).data;
  assert.equal(whoA.user, 'ana');
  assert.notEqual(whoA.conn.split('.')[0], whoB.conn.split('.')[0], 'each relay names its own');
  // Relay A listens for its connection's internal channel through Redis.
  await redis.subscribers(`#c.${whoA.conn}`, 1);
  await redis.subscribers('#u.ana', 2);

  // bob, on relay B, makes the hook send to ana's tab on relay A.
  assert.equal((await ask(bobB, { do: 'send', conn: whoA.conn, data: 'across' })).data, true);
  const s1 = await pubOk(pub, 'all', 'lobby', 'sentinel 1');
  const isS1 = (j) => j.type === 'message' && j.data === 'sentinel 1';
  const line1 = `{"type":"message","channel":"lobby","id":"${s1.id}","data":"sentinel 1"}`;
  assert.deepEqual((await anaA.until(isS1, 'sentinel 1')).map((m) => m.text), [
    '{"type":"reply","data":"across"}',
    line1,
  ]);
  assert.deepEqual((await anaB.until(isS1, 'sentinel 1')).map((m) => m.text), [line1]);

  // To the user: her tabs on both relays, once each; not bob.
  assert.equal((await ask(bobB, { do: 'send_user', user: 'ana', data: { n: 2 } })).data, true);
  const s2 = await pubOk(pub, 'all', 'lobby', 'sentinel 2');
  const isS2 = (j) => j.type === 'message' && j.data === 'sentinel 2';
  const line2 = `{"type":"message","channel":"lobby","id":"${s2.id}","data":"sentinel 2"}`;
  for (const c of [anaA, anaB]) {
    assert.deepEqual((await c.until(isS2, 'sentinel 2')).map((m) => m.text), [
      '{"type":"reply","data":{"n":2}}',
      line2,
    ]);
  }
  // bob: nothing of ana's, in all he received.
  await bobB.until(isS2, 'sentinel 2');
  assert.deepEqual(
    bobB.msgs.map((m) => m.json).filter((j) => j.type === 'reply' && j.ref === undefined),
    [],
  );

  for (const c of [anaA, anaB, bobB]) c.ws.terminate();
  await pub.close();
  await pool.stop('SIGQUIT');
  await A.stopClean();
  await B.stopClean();
  await redis.kill();
  fs.rmSync(dir, { recursive: true, force: true });
});
