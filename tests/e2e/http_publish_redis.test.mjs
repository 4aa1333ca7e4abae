// The HTTP publish API with the Redis broker: two relays joined through a
// real redis-server. A POST to one relay reaches SSE and raw WebSocket
// subscribers on the other with the global id it answered, which comes from
// Redis's reply (so the answer followed it); while Redis is away the API
// keeps publishes in its backlog and answers once Redis has them, and past
// the backlog's cap answers 503 and names the messages that were not published.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Relay, rawSse, wsClient, waitFor } from './lib/harness.mjs';
import { Redis } from './lib/redis.mjs';
import { SECRET, sign, now } from './lib/token.mjs';

const TOK = sign({ alg: 'HS256', typ: 'JWT' }, { publish: ['news', 'other'], exp: now() + 300 });

async function publish(port, body) {
  const res = await fetch(`http://127.0.0.1:${port}/publish`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOK}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, json: await res.json() };
}

test('publish API, Redis broker: every transport on another relay, ids from Redis, 503 while Redis is away', async () => {
  const redis = await new Redis().start();
  const flags = { redis: redis.url, secret: SECRET, publish_api: 1 };
  // Relay 1 runs one loop: the backlog and its cap are a loop's (each loop
  // has its own Redis broker), and the 503 below needs the second publish
  // on the loop whose backlog the first one filled.
  const r1 = await new Relay({ flags: { ...flags, redis_backlog_bytes: 4096, workers: 1 } }).start();
  const r2 = await new Relay({ flags }).start();
  await waitFor(async () => (await r1.metrics()).herald_redis_up === 1 && (await r2.metrics()).herald_redis_up === 1, 'both relays linked');
  const s = await rawSse(r2.port, '/sse?channel=news');
  const w = await wsClient(r2.wsUrl('/ws?channel=news'));
  await redis.subscribers('news', 1, [r1, r2]);

  // Without "transport": SSE and raw WebSocket alike, through Redis.
  let r = await publish(r1.port, { channel: 'news', data: { hello: 'cluster' } });
  assert.equal(r.status, 200);
  const id = r.json.ids[0];
  // The id is Redis's: its epoch and its counter, so the answer came after
  // Redis had run the publish script.
  const [epoch, seq] = id.split('-');
  assert.equal(epoch, await redis.cmd('GET', 'herald:epoch'));
  assert.equal(seq, await redis.cmd('GET', 'herald:seq'));
  const [e] = await s.waitEvents(1);
  assert.deepEqual([e.id, e.data], [id, '{"hello":"cluster"}']);
  assert.deepEqual((await w.waitCount(1))[0], { data: '{"hello":"cluster"}', isBinary: false });

  // A batch keeps its order; transport narrows as on one relay.
  r = await publish(r1.port, {
    messages: [
      { channel: 'news', data: 'sse', transport: 'sse' },
      { channel: 'news', data: 'ws', transport: 'ws' },
      { channel: ['news', 'other'], data: 'both' },
    ],
  });
  assert.equal(r.status, 200);
  const seqs = r.json.ids.map((x) => Number(x.split('-')[1]));
  assert.deepEqual(seqs, [seqs[0], seqs[0] + 1, seqs[0] + 2]);
  assert.deepEqual((await s.waitEvents(3)).slice(1).map((x) => [x.id, x.data]), [
    [r.json.ids[0], 'sse'],
    [r.json.ids[2], 'both'],
  ]);
  assert.deepEqual((await w.waitCount(3)).slice(1).map((x) => x.data), ['ws', 'both']);
  // The resume of another relay finds the API's SSE messages in Redis.
  const again = await rawSse(r1.port, '/sse?channel=news', { 'Last-Event-ID': id });
  assert.deepEqual((await again.waitEvents(2)).map((x) => x.id), [r.json.ids[0], r.json.ids[2]]);
  again.destroy();

  // Redis away: a publish waits in the relay's backlog and is answered when
  // Redis has it (like an ack); past the backlog's cap the API answers 503
  // and names the messages that were not published.
  const port = redis.port;
  await redis.kill();
  await waitFor(async () => (await r1.metrics()).herald_redis_up === 0, 'relay 1 sees Redis gone');
  const kept = publish(r1.port, { channel: 'news', data: 'x'.repeat(5000) });
  await waitFor(async () => (await r1.metrics()).herald_redis_backlog_messages === 1, 'kept in the backlog');
  r = await publish(r1.port, { messages: [{ channel: 'news', data: 'lost 1' }, { channel: 'news', data: 'lost 2' }] });
  assert.equal(r.status, 503);
  assert.equal(r.headers.get('retry-after'), '1');
  assert.equal(r.json.ok, false);
  assert.deepEqual(r.json.ids, [null, null]);
  const m = await r1.metrics();
  assert.equal(m['herald_publish_api_refused_total{reason="unavailable"}'], 1);
  const redis2 = await new Redis(port).start();
  r = await kept;
  assert.equal(r.status, 200, JSON.stringify(r.json));
  // A Redis that came back empty is a new epoch: the subscriber on the other
  // relay is told by a gap. Its id, if any, is before the message (when the
  // catch-up read found the message already, it is replayed after the gap,
  // which then has no id: resuming from it would skip the message).
  const [g, k] = (await s.waitEvents(5)).slice(3);
  assert.deepEqual([g.event, JSON.parse(g.data).channels], ['herald.gap', ['news']]);
  if (g.id !== undefined) {
    const [ge, gs] = g.id.split('-');
    const [ke, ks] = r.json.ids[0].split('-');
    assert.ok(ge === ke && Number(gs) < Number(ks), `gap id ${g.id} before ${r.json.ids[0]}`);
  }
  assert.deepEqual([k.id, k.data.length], [r.json.ids[0], 5000]);
  await redis2.kill();

  s.destroy();
  w.ws.close();
  await w.closed;
  await r1.stopClean();
  await r2.stopClean();
});
