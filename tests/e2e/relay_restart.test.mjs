// Restarts (Guarantees, "Restart"): after a crash (SIGKILL) a client from
// the dead run gets herald.gap and then everything the new run holds, so a
// message published to the new relay before the browser came back (its
// sse_emit() returned true) is not lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Relay, Publisher, rawSse, pubOk, tmpdir } from './lib/harness.mjs';

// The socket (and so the default state file) outside each relay's own
// directory: what a supervisor restarting the relay keeps.
function sockPath() {
  return path.join(tmpdir('herald-restart-'), 'relay.sock');
}

const epochOf = (id) => id.split('-')[0];

test('after a crash (SIGKILL), an id of the dead run gets herald.gap, then everything the new run holds', async () => {
  const socket = sockPath();
  const first = await new Relay({ socket }).start();
  let pub = await new Publisher(socket).connect();
  const old = await pubOk(pub, 'sse', 'crash', 'before the crash');
  assert.deepEqual(await first.stop('SIGKILL'), { code: null, signal: 'SIGKILL' });
  first.cleanup();

  const second = await new Relay({ socket }).start();
  pub = await new Publisher(socket).connect();
  // Published to the new run before the browser came back.
  const n1 = await pubOk(pub, 'sse', 'crash', 'n1');
  const n2 = await pubOk(pub, 'sse', ['other', 'crash'], 'n2');
  await pubOk(pub, 'sse', 'other', 'not on this stream');
  await pubOk(pub, 'ws', 'crash', 'WebSocket only');
  assert.notEqual(epochOf(n1.id), epochOf(old.id), 'a crash: a new id space');

  const c = await rawSse(second.port, '/sse?channel=crash', { 'Last-Event-ID': old.id });
  const live = await pubOk(pub, 'sse', 'crash', 'live');
  // The sentinel: once it is there, whatever was going to arrive before it has.
  await c.until(() => c.events().some((e) => e.data === 'live'), 'the live message');
  const evs = c.events();
  assert.equal(evs[0].event, 'herald.gap');
  assert.deepEqual(JSON.parse(evs[0].data), { last_event_id: old.id, channels: ['crash'] });
  assert.equal(evs[0].id, undefined, 'a gap followed by a replay carries no id');
  assert.deepEqual(
    evs.slice(1).map((e) => [e.id, e.data]),
    [
      [n1.id, 'n1'],
      [n2.id, 'n2'],
      [live.id, 'live'],
    ],
  );
  const m = await second.metrics();
  assert.equal(m['herald_resumes_total{result="gap"}'], 1);
  c.destroy();
  await pub.close();
  await second.stopClean();
  fs.rmSync(path.dirname(socket), { recursive: true, force: true });
});
