// Application hooks under load (Contract 5): one connection's messages
// reach the application in the order it sent them while other connections
// send at the same time and several requests are in flight, events travel
// batched (a metric shows it), and the pool modes a PHP shop runs work:
// pm = ondemand, and pm.max_requests = 1 (a worker gone after each request,
// its kept-alive FastCGI connection with it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHooks, sum } from './lib/hooks.mjs';

// Send n {"do":"log"} messages from c at once; resolve with the answers.
async function burst(c, who, n) {
  for (let i = 0; i < n; i++) c.send({ type: 'send', data: { do: 'log', who, i }, ref: `${who}-${i}` });
  return (await c.take(n)).map((m) => m.json);
}

function assertInOrder(answers, who, n) {
  const bad = answers.filter((a) => a.type !== 'reply');
  assert.deepEqual(bad, [], `${who}: every message answered with a reply`);
  // Replies come back in the order of the sends, too.
  assert.deepEqual(
    answers.map((a) => a.ref),
    Array.from({ length: n }, (_, i) => `${who}-${i}`),
  );
  assert.deepEqual(
    answers.map((a) => a.data),
    Array.from({ length: n }, (_, i) => i),
  );
}

// What the application saw from `who`, in the order it saw it.
function seen(h, who) {
  return h
    .events()
    .filter((e) => e.type === 'message' && e.data.who === who)
    .map((e) => e.data.i);
}

test('order: one connection sends 500 messages while three others send, four requests in flight; batched', async () => {
  // ws_max_messages_per_sec: the bursts below are far above a browser's pace.
  const h = await startHooks({
    flags: { app_concurrency: 4, ws_max_messages_per_sec: 100000 },
    fpm: { workers: 4 },
  });
  const main = await h.client('main');
  const others = [];
  for (let k = 0; k < 3; k++) others.push(await h.client(`other${k}`));
  const [mainAnswers, ...otherAnswers] = await Promise.all([
    burst(main, 'main', 500),
    ...others.map((c, k) => burst(c, `o${k}`, 200)),
  ]);
  assertInOrder(mainAnswers, 'main', 500);
  otherAnswers.forEach((a, k) => assertInOrder(a, `o${k}`, 200));
  assert.deepEqual(
    seen(h, 'main'),
    Array.from({ length: 500 }, (_, i) => i),
  );
  for (let k = 0; k < 3; k++) {
    assert.deepEqual(
      seen(h, `o${k}`),
      Array.from({ length: 200 }, (_, i) => i),
    );
  }
  const m = await h.metrics();
  assert.equal(m['herald_hook_events_total{type="message"}'], 1100);
  const requests = sum(m, 'herald_hook_requests_total');
  assert.ok(m.herald_hook_batch_max > 1, `batch_max ${m.herald_hook_batch_max}`);
  assert.ok(1100 / requests > 1, `${requests} requests for 1100 events`);
  assert.ok(m.herald_hook_batch_max <= 64, 'app_batch bounds a request');
  // Several workers served them (several requests in flight).
  assert.ok(new Set(h.events().map((e) => e.pid)).size > 1);
  await h.stop();
});

test('pm = ondemand: every message answered', async () => {
  const h = await startHooks({ fpm: { pm: 'ondemand', workers: 2 } });
  const a = await h.client('a');
  const b = await h.client('b');
  const [ra, rb] = await Promise.all([burst(a, 'a', 40), burst(b, 'b', 40)]);
  assertInOrder(ra, 'a', 40);
  assertInOrder(rb, 'b', 40);
  assert.deepEqual(
    seen(h, 'a'),
    Array.from({ length: 40 }, (_, i) => i),
  );
  await h.stop();
});

test('pm.max_requests = 1: a new worker for every request, every message answered', async () => {
  const h = await startHooks({ fpm: { workers: 2, maxRequests: 1 } });
  const a = await h.client('a');
  const b = await h.client('b');
  // One at a time first: each request finds its kept connection closed by
  // the worker that exited after the previous one.
  for (let i = 0; i < 5; i++) {
    a.send({ type: 'send', data: { do: 'log', who: 'single', i }, ref: `single-${i}` });
    const [r] = await a.take(1);
    assert.deepEqual(r.json, { type: 'reply', ref: `single-${i}`, data: i });
  }
  const [ra, rb] = await Promise.all([burst(a, 'a', 30), burst(b, 'b', 30)]);
  assertInOrder(ra, 'a', 30);
  assertInOrder(rb, 'b', 30);
  // One request per worker: a pid's lines are exactly one request's batch.
  const byPid = new Map();
  for (const e of h.events()) {
    const v = byPid.get(e.pid) || { n: 0, batch: e.batch };
    v.n++;
    byPid.set(e.pid, v);
  }
  for (const [pid, v] of byPid) assert.equal(v.n, v.batch, `worker ${pid} served one request`);
  assert.ok(byPid.size >= 6, `${byPid.size} workers`);
  await h.stop();
});
