// Application hooks with workers (issue 18): one relay, two event loops,
// each with its own hooks and FastCGI pool, clients on both. What must hold
// for the relay and not per loop: app_concurrency (the FPM workers taken)
// and app_queue (events waiting); and each client's events still reach PHP
// in its order, its answers come back to it. php-fpm has more workers than
// app_concurrency, so only the relay keeps the requests to it; the hook
// script (hooks/workers.php) records the most requests it ran at once.
// These run with workers = 2 whatever HERALD_WORKERS says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { waitFor } from './lib/harness.mjs';
import { startHooks, ask, sendRef, answer } from './lib/hooks.mjs';

const perLoop = (m) => [m['herald_loop_connections{loop="0"}'] ?? 0, m['herald_loop_connections{loop="1"}'] ?? 0];

// Open herald.v1 clients until each loop holds at least min; each client
// knows its loop (the loop whose count grew) and its connection id.
async function spread(h, min = 2, max = 64) {
  const loops = [[], []];
  let before = perLoop(await h.metrics());
  for (let i = 0; i < max; i++) {
    const c = await h.client(null);
    const now = perLoop(await h.metrics());
    const loop = now[0] > before[0] ? 0 : 1;
    assert.equal(now[0] + now[1], before[0] + before[1] + 1);
    before = now;
    c.conn = (await ask(c, 'who')).data.conn;
    loops[loop].push(c);
    if (loops[0].length >= min && loops[1].length >= min) return loops;
  }
  throw new Error(`the kernel put ${max} clients on one loop`);
}

const maxAtOnce = (h) => Number(fs.readFileSync(path.join(h.dir, 'max.txt'), 'utf8'));

test('workers = 2, app_concurrency = 1: one request in flight for the relay; the other loop waits its turn, then every event is answered in order to its own client', async () => {
  const h = await startHooks({
    script: 'workers.php',
    flags: { workers: 2, app_concurrency: 1, app_batch: 4 },
    fpm: { workers: 3 },
  });
  const [a, b] = await spread(h);

  // Loop 0's request holds the only slot: loop 1's event waits in the
  // relay's queue although php-fpm has idle workers (with a budget per
  // loop it would run at once and be answered here).
  const held = sendRef(a[0], { do: 'block', gate: 'hold' });
  await h.started('hold');
  const waiting = sendRef(b[0], 'from the other loop');
  const seen = await waitFor(async () => {
    if (b[0].msgs.some((m) => m.json && m.json.ref === waiting)) return 'answered';
    const m = await h.metrics();
    return m.herald_hook_queue === 1 ? m : null;
  }, "loop 1's event queued");
  assert.notEqual(seen, 'answered', 'loop 1 sent a second request while loop 0 held the only slot');
  assert.equal(seen.herald_hook_inflight, 1);
  // No second FPM connection either: a kept one would pin a worker.
  assert.ok(seen.herald_hook_fpm_connections <= 1, JSON.stringify(seen));
  h.gate('hold');
  assert.equal((await answer(a[0], held)).data, 'unblocked');
  const got = await answer(b[0], waiting);
  assert.equal(got.data.echo, 'from the other loop');
  assert.equal(got.data.conn, b[0].conn);

  // Every client of both loops sends at once: answers to their own
  // client, each client's events in its order, one request at a time.
  const clients = [...a, ...b];
  const N = 30;
  const refs = clients.map((c, k) => Array.from({ length: N }, (_, i) => sendRef(c, `c${k} m${i}`)));
  for (const [k, c] of clients.entries()) {
    for (const [i, ref] of refs[k].entries()) {
      const r = await answer(c, ref);
      assert.equal(r.type, 'reply', JSON.stringify(r));
      assert.equal(r.data.echo, `c${k} m${i}`);
      assert.equal(r.data.conn, c.conn);
    }
  }
  const events = h.events().filter((e) => e.type === 'message' && /^c\d+ m\d+$/.test(e.data));
  for (const [k, c] of clients.entries()) {
    assert.deepEqual(
      events.filter((e) => e.conn === c.conn).map((e) => e.data),
      Array.from({ length: N }, (_, i) => `c${k} m${i}`),
      `client ${k}'s events in order`,
    );
  }
  assert.equal(new Set(h.events().map((e) => e.id)).size, h.events().length, 'event ids unique over the loops');
  assert.equal(maxAtOnce(h), 1, 'at most one request in PHP at once');
  const m = await h.metrics();
  assert.ok(m.herald_hook_fpm_connections <= 1, JSON.stringify(m));
  assert.equal(m.herald_hook_inflight, 0);
  assert.equal(m.herald_hook_queue, 0);
  await h.stop();
});

test('workers = 2: app_queue counts the events waiting on both loops; past it "application busy" on either', async () => {
  const h = await startHooks({
    script: 'workers.php',
    flags: { workers: 2, app_concurrency: 1, app_queue: 2 },
    fpm: { workers: 2 },
  });
  const [a, b] = await spread(h);
  const held = sendRef(a[0], { do: 'block', gate: 'full' });
  await h.started('full');
  // One event waiting on each loop: the relay's queue is full, though
  // neither loop's own share of it is.
  const q = [sendRef(a[1], 'queued on loop 0'), sendRef(b[0], 'queued on loop 1')];
  await waitFor(async () => (await h.metrics()).herald_hook_queue === 2, 'two events queued');
  for (const c of [b[1], a[1]]) {
    const r = await ask(c, 'one too many');
    assert.equal(r.type, 'error', JSON.stringify(r));
    assert.equal(r.error, 'application busy');
  }
  let m = await h.metrics();
  assert.equal(m['herald_hook_failures_total{reason="busy"}'], 2);
  h.gate('full');
  assert.equal((await answer(a[0], held)).data, 'unblocked');
  assert.equal((await answer(a[1], q[0])).data.echo, 'queued on loop 0');
  assert.equal((await answer(b[0], q[1])).data.echo, 'queued on loop 1');
  // Room again, on both loops.
  assert.equal((await ask(b[1], 'now')).data.echo, 'now');
  assert.equal((await ask(a[1], 'now')).data.echo, 'now');
  assert.equal(maxAtOnce(h), 1);
  m = await h.metrics();
  assert.equal(m.herald_hook_queue, 0);
  await h.stop();
});
