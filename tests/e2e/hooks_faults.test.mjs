// Application hooks when the application misbehaves (Contract 5): a hook
// that is slow past app_timeout_ms, throws (HTTP 500), answers garbage or
// exits without a word; php-fpm stopped by its pid and started again on
// the same socket; a saturated pool (one slot, a small queue). The client
// always gets an error envelope, the relay keeps serving the others, and
// every failure is counted. A slow hook waits on a gate file the test
// creates, never on a clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor, WORKERS } from './lib/harness.mjs';
import { startHooks, ask, sendRef, answer, sum } from './lib/hooks.mjs';

const UNAVAILABLE = 'application unavailable';
const failed = (m) => sum(m, 'herald_hook_requests_total', /result="(?!ok")/);

function assertError(a, error, what) {
  assert.equal(a.type, 'error', `${what}: ${JSON.stringify(a)}`);
  assert.equal(a.error, error, what);
}

test('a hook that is slow, throws, answers garbage or exits: an error to its client, the others served', async () => {
  const h = await startHooks({ flags: { app_timeout_ms: 2000, app_concurrency: 2 }, fpm: { workers: 3 } });
  const x = await h.client(null);
  const y = await h.client(null);
  assert.equal((await ask(x, 'warm')).data.echo, 'warm');

  // Slow: while x's hook hangs, y is answered (another slot, another worker).
  const ref = sendRef(x, { do: 'block', gate: 'slow' });
  await h.started('slow');
  assert.equal((await ask(y, 'served meanwhile')).data.echo, 'served meanwhile');
  const slow = await answer(x, ref);
  assert.deepEqual(slow, { type: 'error', ref, error: UNAVAILABLE });
  let m = await h.metrics();
  assert.equal(m['herald_hook_requests_total{result="timeout"}'], 1);
  h.gate('slow'); // the worker finishes; its late answer goes nowhere

  // Throws: an uncaught exception is a 500 from php-fpm.
  // Garbage: not the JSON answer. Exit: an empty answer.
  const faults = { throw: 'status', garbage: 'bad_answer', exit: 'bad_answer' };
  for (const [i, [fault, result]] of Object.entries(faults).entries()) {
    const before = (await h.metrics())[`herald_hook_requests_total{result="${result}"}`];
    assertError(await ask(x, { do: fault }), UNAVAILABLE, fault);
    m = await h.metrics();
    assert.equal(m[`herald_hook_requests_total{result="${result}"}`], before + 1, `${fault}: ${result}`);
    assert.equal(failed(m), 2 + i, `${fault} counted: ${JSON.stringify(m)}`);
    // The same client and another one go on.
    assert.equal((await ask(y, `after ${fault}`)).data.echo, `after ${fault}`);
    assert.equal((await ask(x, `x after ${fault}`)).data.echo, `x after ${fault}`);
  }
  m = await h.metrics();
  assert.equal(m['herald_hook_failures_total{reason="unavailable"}'], 4, JSON.stringify(m));
  assert.equal(sum(m, 'herald_hook_failures_total'), 4);
  assert.equal(m['herald_hook_requests_total{result="timeout"}'], 1);
  // Every message reached the hook once (none retried after it started).
  const msgs = h.events().filter((e) => e.type === 'message');
  assert.equal(msgs.length, 12);
  assert.equal(new Set(msgs.map((e) => e.id)).size, 12);
  await h.stop();
});

test('php-fpm stopped by its pid and started again on the same socket', async () => {
  const h = await startHooks({ flags: { app_timeout_ms: 4000 } });
  const c = await h.client(null);
  const d = await h.client(null);
  assert.equal((await ask(c, 'before')).data.echo, 'before');

  // Down: every send is answered with an error, none hangs.
  await h.stopFpm();
  const [ec, ed] = await Promise.all([ask(c, 'during'), ask(d, 'during')]);
  assertError(ec, UNAVAILABLE, 'send while php-fpm is down');
  assertError(ed, UNAVAILABLE, 'another send while php-fpm is down');
  let m = await h.metrics();
  assert.ok(m['herald_hook_requests_total{result="down"}'] >= 1, JSON.stringify(m));
  assert.equal(m['herald_hook_failures_total{reason="unavailable"}'], 2);

  // Up again: the next sends succeed.
  await h.startFpm();
  assert.equal((await ask(c, 'after')).data.echo, 'after');
  assert.equal((await ask(c, 'after 2')).data.echo, 'after 2');

  // Down for less than app_timeout_ms: the send is retried and succeeds.
  await h.stopFpm();
  const retries = (await h.metrics()).herald_hook_fpm_retries_total;
  const ref = sendRef(c, 'bridged');
  await waitFor(async () => (await h.metrics()).herald_hook_fpm_retries_total > retries, 'a retry');
  await h.startFpm();
  const a = await answer(c, ref);
  assert.equal(a.type, 'reply', JSON.stringify(a));
  assert.equal(a.data.echo, 'bridged');
  m = await h.metrics();
  assert.equal(m['herald_hook_failures_total{reason="unavailable"}'], 2, 'no more failures');
  assert.deepEqual(
    h.events().filter((e) => e.type === 'message').map((e) => e.data),
    ['before', 'after', 'after 2', 'bridged'],
    'the hook ran once per message that reached it',
  );
  await h.stop();
});

test('a saturated pool: past app_queue "application busy" at once, the queued ones answered after', async () => {
  const h = await startHooks({ flags: { app_concurrency: 1, app_queue: 4 }, fpm: { workers: 2 } });
  const holder = await h.client(null);
  const queued = [];
  for (let i = 0; i < 4; i++) queued.push(await h.client(null));
  const late = await h.client(null);

  const r0 = sendRef(holder, { do: 'block', gate: 'busy' });
  await h.started('busy');
  const refs = queued.map((q, i) => sendRef(q, `queued ${i}`));
  await waitFor(async () => (await h.metrics()).herald_hook_queue === 4, 'four events queued');
  // The only slot is held (the gate is shut): this answer comes at once.
  const busy = await ask(late, 'one too many');
  assertError(busy, 'application busy', 'send past app_queue');
  let m = await h.metrics();
  assert.equal(m.herald_hook_inflight, 1);
  assert.equal(m['herald_hook_failures_total{reason="busy"}'], 1, JSON.stringify(m));
  assert.equal(sum(m, 'herald_hook_failures_total'), 1);

  h.gate('busy');
  assert.equal((await answer(holder, r0)).data, 'unblocked');
  for (const [i, q] of queued.entries()) {
    const a = await answer(q, refs[i]);
    assert.equal(a.type, 'reply', JSON.stringify(a));
    assert.equal(a.data.echo, `queued ${i}`);
  }
  // The four queued events went in one request (batching); with workers,
  // one request per loop that held some (each loop batches its own).
  const ev = h.events().filter((e) => e.type === 'message' && /^queued/.test(e.data));
  assert.equal(ev.length, 4);
  const sizes = ev.map((e) => e.batch);
  const requests = [...new Set(sizes)].reduce((n, b) => n + sizes.filter((x) => x === b).length / b, 0);
  if (Number(WORKERS) === 1) assert.deepEqual(sizes, [4, 4, 4, 4]);
  else assert.ok(Number.isInteger(requests) && requests <= Number(WORKERS), JSON.stringify(sizes));
  m = await h.metrics();
  assert.equal(m.herald_hook_batch_max, Math.max(...sizes));
  assert.equal(m.herald_hook_queue, 0);
  // Room again.
  assert.equal((await ask(late, 'now')).data.echo, 'now');
  await h.stop();
});
