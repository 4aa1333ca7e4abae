// herald.v1 across a clean restart (SIGTERM: the state file keeps the id
// space and history): a client that resumes each channel with since gets
// exactly what it missed, every target and JSON values included, no gap.
// After a crash (SIGKILL) it gets a gap, then what the new run holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Relay, Publisher, pubOk, tmpdir } from './lib/harness.mjs';
import { heraldClient } from './lib/herald.mjs';

const msg = (ch, id, data) => JSON.stringify({ type: 'message', channel: ch, id, data });

test('a clean restart: resume with since is exact, no gap, the same ids', async () => {
  const socket = path.join(tmpdir('herald-v1-restart-'), 'relay.sock');
  const first = await new Relay({ socket, flags: { drain_ms: 0 } }).start();
  let pub = await new Publisher(socket).connect();
  const h = await heraldClient(first.wsUrl('/ws?channel=a&channel=b'));
  await h.take(2);
  const a1 = await pubOk(pub, 'all', 'a', 'a1');
  const b1 = await pubOk(pub, 'ws', 'b', 'b1');
  assert.deepEqual(await h.texts(2), [msg('a', a1.id, 'a1'), msg('b', b1.id, 'b1')]);
  // Missed before the stop: ws_publish and JSON values too.
  const a2 = await pubOk(pub, 'ws', ['a', 'b'], 'a2');
  const a3 = await pubOk(pub, 'all', 'a', '{"k":[1,2]}', { json: true });
  await h.take(3); // the client saw them, but resumes from its older ids below
  await pub.close();
  const closed = h.closed;
  await first.stopClean();
  assert.equal((await closed).code, 1001);

  const second = await new Relay({ socket }).start();
  pub = await new Publisher(socket).connect();
  const b2 = await pubOk(pub, 'sse', 'b', 'b2');
  const c = await heraldClient(second.wsUrl('/ws'));
  c.send({ type: 'subscribe', channel: 'a', since: a1.id });
  c.send({ type: 'subscribe', channel: 'b', since: b1.id });
  // The sentinel, published after: nothing else (no gap) comes before it.
  const live = await pubOk(pub, 'all', 'b', 'live');
  assert.deepEqual(await c.texts(7), [
    `{"type":"subscribed","channel":"a","id":"${a1.id}"}`,
    msg('a', a2.id, 'a2'),
    `{"type":"message","channel":"a","id":"${a3.id}","data":{"k":[1,2]}}`,
    `{"type":"subscribed","channel":"b","id":"${b1.id}"}`,
    msg('b', a2.id, 'a2'),
    msg('b', b2.id, 'b2'),
    msg('b', live.id, 'live'),
  ]);
  const m = await second.metrics();
  assert.equal(m['herald_resumes_total{result="gap"}'], 0);
  assert.equal(m['herald_resumes_total{result="exact"}'], 2);
  await c.close();
  await pub.close();
  await second.stopClean();
});

test('after a crash: a since of the dead run gets a gap, then what the new run holds', async () => {
  const socket = path.join(tmpdir('herald-v1-crash-'), 'relay.sock');
  const first = await new Relay({ socket }).start();
  let pub = await new Publisher(socket).connect();
  const old = await pubOk(pub, 'all', 'k', 'old');
  await first.stop('SIGKILL');
  first.cleanup();
  const second = await new Relay({ socket }).start();
  pub = await new Publisher(socket).connect();
  const n1 = await pubOk(pub, 'ws', 'k', 'n1');
  const c = await heraldClient(second.wsUrl('/ws'));
  c.send({ type: 'subscribe', channel: 'k', since: old.id });
  const live = await pubOk(pub, 'all', 'k', 'live');
  assert.deepEqual(await c.texts(4), [
    `{"type":"subscribed","channel":"k","id":"${old.id}"}`,
    `{"type":"gap","channel":"k","since":"${old.id}"}`,
    msg('k', n1.id, 'n1'),
    msg('k', live.id, 'live'),
  ]);
  await c.close();
  await pub.close();
  await second.stopClean();
});
