// SSE resume (Contract 2, "Gap"): Last-Event-ID (header, or the
// last_event_id query; the header wins) replays what history still holds
// after that id, exactly once and in id order, also across several
// channels; when history does not reach back (evicted by history_size,
// expired by history_ttl) or the id is foreign or malformed, a herald.gap
// event comes first, then the replay, then live messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Relay,
  Publisher,
  RawClient,
  sse,
  rawSse,
  parseSse,
  pubOk,
  waitFor,
} from './lib/harness.mjs';

const enc = encodeURIComponent;

function resume(relay, channels, lastId, { via = 'header', query } = {}) {
  let p = '/sse?' + channels.map((c) => `channel=${enc(c)}`).join('&');
  const headers = {};
  if (via === 'header' || via === 'both') headers['Last-Event-ID'] = lastId;
  if (via === 'query') p += `&last_event_id=${enc(lastId)}`;
  if (via === 'both') p += `&last_event_id=${enc(query)}`;
  return rawSse(relay.port, p, headers);
}

// Publish each [channels, data] with an ack; returns the acks (with ids).
async function publishAll(pub, list, t = 'sse') {
  const acks = [];
  for (const [ch, data] of list) acks.push({ ...(await pubOk(pub, t, ch, data)), ch, data });
  return acks;
}

const seqOf = (id) => Number(id.split('-')[1]);

function gapOf(block) {
  assert.equal(block.event, 'herald.gap');
  return JSON.parse(block.data);
}

test('resume with the Last-Event-ID header: exact replay, then live messages', async () => {
  const relay = await new Relay().start();
  const pub = await new Publisher(relay.socket).connect();
  const acks = await publishAll(
    pub,
    [1, 2, 3, 4, 5, 6].map((i) => ['A', `m${i}`]),
  );
  const before = await relay.metrics();
  const c = await resume(relay, ['A'], acks[2].id);
  // A resumed stream's first block is only the retry hint: no position id.
  assert.match(c.blocks()[0].raw, /^retry: \d+\n\n$/);
  const replay = await c.waitEvents(3);
  assert.deepEqual(
    replay.map((e) => [e.id, e.data, e.event]),
    acks.slice(3).map((a) => [a.id, a.data, undefined]),
  );
  const live = await pubOk(pub, 'sse', 'A', 'm7');
  const evs = await c.waitEvents(4);
  assert.deepEqual([evs[3].id, evs[3].data], [live.id, 'm7']);
  assert.equal(c.events().length, 4);
  const after = await relay.metrics();
  assert.equal(
    after['herald_resumes_total{result="exact"}'],
    before['herald_resumes_total{result="exact"}'] + 1,
  );
  assert.equal(
    after['herald_resumes_total{result="gap"}'],
    before['herald_resumes_total{result="gap"}'],
  );
  c.destroy();
  await pub.close();
  await relay.stopClean();
});

test('resume with the last_event_id query parameter', async () => {
  const relay = await new Relay().start();
  const pub = await new Publisher(relay.socket).connect();
  const acks = await publishAll(
    pub,
    [1, 2, 3, 4].map((i) => ['Q', `q${i}`]),
  );
  const c = await resume(relay, ['Q'], acks[0].id, { via: 'query' });
  const evs = await c.waitEvents(3);
  assert.deepEqual(
    evs.map((e) => e.id),
    acks.slice(1).map((a) => a.id),
  );
  assert.ok(!c.blocks().some((b) => b.event === 'herald.gap'));
  c.destroy();
  await pub.close();
  await relay.stopClean();
});

test('the Last-Event-ID header wins over the last_event_id query', async () => {
  const relay = await new Relay().start();
  const pub = await new Publisher(relay.socket).connect();
  const acks = await publishAll(
    pub,
    [1, 2, 3, 4, 5].map((i) => ['H', `h${i}`]),
  );
  // Query says after h1, header says after h3: only h4, h5.
  const c = await resume(relay, ['H'], acks[2].id, { via: 'both', query: acks[0].id });
  await c.waitEvents(2);
  await pubOk(pub, 'sse', 'H', 'live');
  const evs = await c.waitEvents(3);
  assert.deepEqual(
    evs.map((e) => e.data),
    ['h4', 'h5', 'live'],
  );
  // And a bad query id does not matter when the header is good.
  const c2 = await resume(relay, ['H'], acks[3].id, { via: 'both', query: 'garbage' });
  await pubOk(pub, 'sse', 'H', 'live2');
  const evs2 = await c2.waitEvents(3);
  assert.deepEqual(
    evs2.map((e) => e.data),
    ['h5', 'live', 'live2'],
  );
  assert.ok(!c2.blocks().some((b) => b.event === 'herald.gap'));
  c.destroy();
  c2.destroy();
  await pub.close();
  await relay.stopClean();
});

test('multi-channel resume: every message after the id on any channel, in id order, once', async () => {
  const relay = await new Relay().start();
  const pub = await new Publisher(relay.socket).connect();
  const plan = [
    ['A', 'a1'],
    ['B', 'b1'],
    ['C', 'c1'],
    [['A', 'B'], 'ab1'],
    ['B', 'b2'],
    [['B', 'C'], 'bc1'],
    ['C', 'c2'],
    ['A', 'a2'],
    [['C', 'A', 'B'], 'cab1'],
    ['B', 'b3'],
    ['A', 'a3'],
    ['C', 'c3'],
  ];
  const acks = await publishAll(pub, plan);
  const wanted = (from, chans) =>
    acks.slice(from + 1).filter((a) => [a.ch].flat().some((c) => chans.includes(c)));
  for (const from of [0, 2, 4, 7, 10]) {
    for (const chans of [['A', 'B'], ['B', 'C', 'A'], ['C']]) {
      const want = wanted(from, chans);
      const c = await resume(relay, chans, acks[from].id);
      // A marker on the first channel ends what the replay can contain.
      const marker = `marker ${from} ${chans}`;
      // Markers stay in history too: later rounds must replay them.
      acks.push({ ...(await pubOk(pub, 'sse', chans[0], marker)), ch: chans[0], data: marker });
      const evs = await c.waitEvents(want.length + 1);
      assert.deepEqual(
        evs.map((e) => e.data),
        [...want.map((a) => a.data), marker],
        `after ${plan[from][1]} on ${chans}`,
      );
      assert.deepEqual(
        evs.slice(0, -1).map((e) => e.id),
        want.map((a) => a.id),
      );
      const seqs = evs.map((e) => seqOf(e.id));
      assert.deepEqual(
        seqs,
        [...seqs].sort((x, y) => x - y),
      );
      assert.equal(new Set(seqs).size, seqs.length, 'no duplicate');
      assert.ok(!c.blocks().some((b) => b.event === 'herald.gap'));
      c.destroy();
    }
  }
  await pub.close();
  await relay.stopClean();
});

test('resume from the first-block position replays everything; from the newest id nothing', async () => {
  const relay = await new Relay().start();
  const fresh = await rawSse(relay.port, '/sse?channel=F');
  const position = fresh.blocks()[0].id;
  fresh.destroy();
  const pub = await new Publisher(relay.socket).connect();
  const acks = await publishAll(
    pub,
    [1, 2, 3].map((i) => ['F', `f${i}`]),
  );
  const all = await resume(relay, ['F'], position);
  assert.deepEqual(
    (await all.waitEvents(3)).map((e) => e.data),
    ['f1', 'f2', 'f3'],
  );
  const none = await resume(relay, ['F'], acks[2].id);
  await pubOk(pub, 'sse', 'F', 'f4');
  assert.deepEqual(
    (await none.waitEvents(1)).map((e) => e.data),
    ['f4'],
  );
  assert.deepEqual(
    (await all.waitEvents(4)).map((e) => e.data),
    ['f1', 'f2', 'f3', 'f4'],
  );
  assert.equal(none.events().length, 1);
  assert.ok(!none.blocks().some((b) => b.event === 'herald.gap'));
  all.destroy();
  none.destroy();
  await pub.close();
  await relay.stopClean();
});

test('history_size eviction: herald.gap (no id) first, then what is held, then live', async () => {
  const relay = await new Relay({ flags: { history_size: 5 } }).start();
  const pub = await new Publisher(relay.socket).connect();
  const acks = await publishAll(
    pub,
    Array.from({ length: 10 }, (_, i) => ['E', `e${i + 1}`]),
  );
  assert.equal((await relay.metrics())['herald_history_messages'], 5);

  const c = await resume(relay, ['E'], acks[1].id);
  const evs = await c.until(() => {
    const b = c.blocks().filter((x) => x.data !== undefined);
    return b.length >= 6 && b;
  }, 'gap and replay');
  const gap = gapOf(evs[0]);
  assert.deepEqual(gap, { last_event_id: acks[1].id, channels: ['E'] });
  assert.equal(evs[0].id, undefined, 'a gap followed by a replay carries no id');
  assert.deepEqual(
    evs.slice(1).map((e) => [e.id, e.data]),
    acks.slice(5).map((a) => [a.id, a.data]),
  );
  const live = await pubOk(pub, 'sse', 'E', 'e11');
  const all = await c.waitEvents(7);
  assert.deepEqual([all[6].id, all[6].data], [live.id, 'e11']);

  // Exactly at the edge of history (e5 was the last one evicted) it is exact.
  const edge = await resume(relay, ['E'], acks[5].id);
  const edgeEvs = await edge.waitEvents(5);
  assert.deepEqual(
    edgeEvs.map((e) => e.data),
    ['e7', 'e8', 'e9', 'e10', 'e11'],
  );
  assert.ok(!edge.blocks().some((b) => b.event === 'herald.gap'));
  const edgeBefore = await resume(relay, ['E'], acks[4].id);
  const eb = await edgeBefore.waitEvents(6);
  assert.equal(eb[0].event, 'herald.gap');
  assert.deepEqual(
    eb.slice(1).map((e) => e.data),
    ['e7', 'e8', 'e9', 'e10', 'e11'],
  );
  assert.ok((await relay.metrics())['herald_resumes_total{result="gap"}'] >= 2);
  c.destroy();
  edge.destroy();
  edgeBefore.destroy();
  await pub.close();
  await relay.stopClean();
});

test('history_size 0 keeps nothing: resume from the newest id is exact, older is a gap', async () => {
  const relay = await new Relay({ flags: { history_size: 0 } }).start();
  const pub = await new Publisher(relay.socket).connect();
  const acks = await publishAll(
    pub,
    [1, 2].map((i) => ['Z0', `z${i}`]),
  );
  assert.equal((await relay.metrics())['herald_history_messages'], 0);
  const exact = await resume(relay, ['Z0'], acks[1].id);
  const older = await resume(relay, ['Z0'], acks[0].id);
  const [g] = await older.waitEvents(1);
  assert.deepEqual(gapOf(g), { last_event_id: acks[0].id, channels: ['Z0'] });
  assert.equal(g.id, acks[1].id);
  await pubOk(pub, 'sse', 'Z0', 'z3');
  assert.deepEqual(
    (await exact.waitEvents(1)).map((e) => e.data),
    ['z3'],
  );
  assert.deepEqual((await older.waitEvents(2)).map((e) => e.data).slice(1), ['z3']);
  assert.equal(exact.events().length, 1);
  exact.destroy();
  older.destroy();
  await pub.close();
  await relay.stopClean();
});

test('gap on one channel of several: only that channel is named, the replay is still exact', async () => {
  const relay = await new Relay({ flags: { history_size: 3 } }).start();
  const pub = await new Publisher(relay.socket).connect();
  const acks = await publishAll(pub, [
    ['G1', 'x1'],
    ['G2', 'y1'],
    ['G1', 'x2'],
    ['G1', 'x3'],
    ['G2', 'y2'],
    ['G1', 'x4'],
    ['G1', 'x5'],
  ]);
  // After y1: G1 has lost x2 (holds x3..x5), G2 holds y1, y2 and lost nothing.
  const c = await resume(relay, ['G2', 'G1', 'G3'], acks[1].id);
  const evs = await c.waitEvents(5);
  assert.deepEqual(gapOf(evs[0]), { last_event_id: acks[1].id, channels: ['G1'] });
  assert.equal(evs[0].id, undefined);
  assert.deepEqual(
    evs.slice(1).map((e) => e.data),
    ['x3', 'y2', 'x4', 'x5'],
  );
  c.destroy();
  await pub.close();
  await relay.stopClean();
});

test('history_ttl expiry: herald.gap with the current position as id, then live', async () => {
  const relay = await new Relay({ flags: { history_ttl: 1 } }).start();
  const pub = await new Publisher(relay.socket).connect();
  const acks = await publishAll(
    pub,
    [1, 2, 3].map((i) => ['T', `t${i}`]),
  );
  await waitFor(
    async () => (await relay.metrics())['herald_history_messages'] === 0,
    'history to expire',
  );
  const c = await resume(relay, ['T'], acks[0].id);
  const [gapBlock] = await c.waitEvents(1);
  assert.deepEqual(gapOf(gapBlock), { last_event_id: acks[0].id, channels: ['T'] });
  assert.equal(gapBlock.id, acks[2].id, 'nothing replayed: the gap carries the current position');
  const live = await pubOk(pub, 'sse', 'T', 't4');
  const evs = await c.waitEvents(2);
  assert.deepEqual([evs[1].id, evs[1].data], [live.id, 't4']);
  assert.equal(evs.length, 2);
  c.destroy();
  await pub.close();
  await relay.stopClean();
});

test('foreign, malformed and future ids: herald.gap naming every channel, then everything held', async () => {
  const relay = await new Relay().start();
  const pub = await new Publisher(relay.socket).connect();
  const acks = await publishAll(pub, [
    ['X', 'x1'],
    ['Y', 'y1'],
    ['other', 'not on these channels'],
  ]);
  await pubOk(pub, 'ws', 'X', 'WebSocket only');
  const held = acks.slice(0, 2).map((a) => [a.id, a.data]);
  const boot = acks[0].id.split('-')[0];
  const cases = [
    'deadbeef-1',
    `${(parseInt(boot, 16) - 1).toString(16)}-1`, // an earlier boot of "this" relay
    'garbage',
    `${boot}-`,
    `${boot}-1x`,
    `${boot}-999999`, // from the future
    `${boot}-99999999999999999999999`, // overflows
    'quote"back\\slash', // JSON escaping of the id as sent
    '0',
  ];
  for (const id of cases) {
    const c = await resume(relay, ['X', 'Y', 'Z'], id);
    const [g] = await c.waitEvents(1);
    assert.deepEqual(gapOf(g), { last_event_id: id, channels: ['X', 'Y', 'Z'] }, id);
    assert.equal(g.id, undefined, `${id}: a gap followed by a replay carries no id`);
    const live = await pubOk(pub, 'sse', 'Y', `live after ${id}`);
    const evs = await c.waitEvents(held.length + 2);
    assert.deepEqual(
      evs.slice(1).map((e) => [e.id, e.data]),
      [...held, [live.id, `live after ${id}`]],
      `${id}: everything held on X, Y, Z, in order, then live`,
    );
    held.push([live.id, `live after ${id}`]);
    c.destroy();
  }
  await pub.close();
  await relay.stopClean();
});

test('a foreign id with nothing held: herald.gap carries the current position', async () => {
  const relay = await new Relay().start();
  const pub = await new Publisher(relay.socket).connect();
  const [a] = await publishAll(pub, [['elsewhere', 'e1']]);
  const c = await resume(relay, ['empty'], 'deadbeef-1');
  const [g] = await c.waitEvents(1);
  assert.deepEqual(gapOf(g), { last_event_id: 'deadbeef-1', channels: ['empty'] });
  assert.equal(g.id, a.id);
  const live = await pubOk(pub, 'sse', 'empty', 'first');
  const evs = await c.waitEvents(2);
  assert.deepEqual([evs[1].id, evs[1].data], [live.id, 'first']);
  assert.equal(c.events().length, 2, 'nothing replayed');
  c.destroy();
  await pub.close();
  await relay.stopClean();
});

test('an empty Last-Event-ID (header or query) is a fresh stream, not a gap', async () => {
  const relay = await new Relay().start();
  const pub = await new Publisher(relay.socket).connect();
  let [{ id: position }] = await publishAll(pub, [['E', 'before']]);
  for (const via of ['header', 'query']) {
    const c = await resume(relay, ['E'], '', { via });
    const head = await waitFor(() => c.blocks()[0], 'first block');
    // Fresh: the first block carries the current position, nothing is replayed.
    assert.match(head.raw, new RegExp(`^retry: \\d+\nid: ${position}\n\n$`), via);
    const live = await pubOk(pub, 'sse', 'E', `live ${via}`);
    const [ev] = await c.waitEvents(1);
    assert.deepEqual([ev.id, ev.data, ev.event], [live.id, `live ${via}`, undefined], via);
    position = live.id;
    c.destroy();
  }
  assert.equal((await relay.metrics())['herald_resumes_total{result="gap"}'], 0);
  await pub.close();
  await relay.stopClean();
});

test('a Last-Event-ID that is not UTF-8 or very long: gap with the id as sent, the relay stays up', async () => {
  const relay = await new Relay().start();
  const pub = await new Publisher(relay.socket).connect();
  const a = await pubOk(pub, 'sse', 'U', 'u1');
  // Header bytes that are not UTF-8 (a header may carry any byte >= 0x80).
  const c = await RawClient.connect(relay.port);
  await c.write(
    Buffer.concat([
      Buffer.from('GET /sse?channel=U HTTP/1.1\r\nHost: x\r\nLast-Event-ID: '),
      Buffer.from([0xff, 0xfe, 0x41, 0xc3, 0xa9, 0xe2, 0x82]),
      Buffer.from('\r\n\r\n'),
    ]),
  );
  const gapBlock = await c.until(
    () => parseSse(c.text().split('\r\n\r\n')[1] || '').find((b) => b.event === 'herald.gap'),
    'gap event',
  );
  assert.deepEqual(JSON.parse(gapBlock.data), {
    last_event_id: '\ufffd\ufffdAé\ufffd\ufffd',
    channels: ['U'],
  });
  assert.equal(gapBlock.id, undefined, 'then everything held: the gap carries no id');
  const replayed = await c.until(
    () => parseSse(c.text().split('\r\n\r\n')[1] || '').find((b) => b.data === 'u1'),
    'the replay of what is held',
  );
  assert.equal(replayed.id, a.id);
  c.destroy();
  for (const [id, via] of [
    ['é-1', 'header'],
    ['x'.repeat(300), 'query'],
    ['y'.repeat(2000), 'header'],
  ]) {
    const r = await resume(relay, ['U'], id, { via });
    const [g] = await r.waitEvents(1);
    assert.equal(JSON.parse(g.data).last_event_id, id, `${via} ${id.slice(0, 8)}`);
    r.destroy();
  }
  assert.equal((await fetch(relay.url('/healthz'))).status, 200);
  await pub.close();
  await relay.stopClean();
});

test('resumes racing live publishes: each stream is exactly the sequence after its id', async () => {
  const relay = await new Relay({ flags: { history_size: 1000 } }).start();
  const pub = await new Publisher(relay.socket).connect();
  const N = 300;
  const acks = [];
  const streams = [];
  const startAt = new Set([0, 25, 60, 99, 150, 220, 280]);
  for (let i = 0; i < N; i++) {
    // Wait only for the write, not the ack, so publishes keep flowing while
    // streams open and replay.
    const p = pub.pubAck('sse', ['R', `R.${i % 3}`], `r${i}`);
    acks.push(p);
    if (startAt.has(i)) {
      const a = await p;
      streams.push({ from: i, c: resume(relay, ['R.0', 'R'], a.id) });
    }
  }
  const ids = (await Promise.all(acks)).map((a) => a.id);
  for (const s of streams) {
    const c = await s.c;
    const n = N - 1 - s.from;
    const evs = await c.waitEvents(n);
    assert.deepEqual(
      evs.map((e) => e.data),
      Array.from({ length: n }, (_, k) => `r${s.from + 1 + k}`),
      `from ${s.from}`,
    );
    assert.deepEqual(
      evs.map((e) => e.id),
      ids.slice(s.from + 1),
    );
    c.destroy();
  }
  await pub.close();
  await relay.stopClean();
});

test('a real EventSource that loses its connection resumes exactly (Last-Event-ID it sends)', async () => {
  const relay = await new Relay({ flags: { retry_min: 20, retry_max: 40 } }).start();
  const client = sse(relay.url('/sse?channel=live'), { droppable: true, events: ['herald.gap'] });
  await client.opened;
  const pub = await new Publisher(relay.socket).connect();
  const acks = await publishAll(
    pub,
    [1, 2, 3].map((i) => ['live', `l${i}`]),
  );
  await client.waitCount(3);
  const opens = client.requests.length;
  client.drop();
  // Published while the client is away: it must get these from history.
  acks.push(
    ...(await publishAll(
      pub,
      [4, 5].map((i) => ['live', `l${i}`]),
    )),
  );
  await waitFor(() => client.requests.length > opens, 'the EventSource to reconnect');
  assert.equal(client.requests.at(-1)['Last-Event-ID'], acks[2].id);
  await client.waitCount(5);
  acks.push({ ...(await pubOk(pub, 'sse', 'live', 'l6')), data: 'l6' });
  const got = await client.waitCount(6);
  assert.deepEqual(
    got.map((e) => [e.type, e.data, e.id]),
    acks.map((a) => ['message', a.data, a.id]),
  );
  client.close();
  await pub.close();
  await relay.stopClean();
});

// A relay on another socket has no state file of the first one (a clean
// restart on the same socket resumes exactly: relay_restart.test.mjs).
test('a real EventSource that comes back to another relay gets herald.gap with the old id, then live', async () => {
  const first = await new Relay({ flags: { retry_min: 20, retry_max: 40 } }).start();
  const client = sse(first.url('/sse?channel=boot'), { droppable: true, events: ['herald.gap'] });
  await client.opened;
  let pub = await new Publisher(first.socket).connect();
  const old = await pubOk(pub, 'sse', 'boot', 'before restart');
  await client.waitCount(1);
  await pub.close();
  await first.stopClean();
  // Same port and socket: what a supervisor restarting the relay does.
  const second = await new Relay({
    port: first.port,
    flags: { retry_min: 20, retry_max: 40 },
  }).start();
  pub = await new Publisher(second.socket).connect();
  const [, gap] = await client.waitCount(2);
  assert.equal(gap.type, 'herald.gap');
  assert.deepEqual(JSON.parse(gap.data), { last_event_id: old.id, channels: ['boot'] });
  assert.notEqual(gap.id.split('-')[0], old.id.split('-')[0], 'a new boot, a new id space');
  const live = await pubOk(pub, 'sse', 'boot', 'after restart');
  const got = await client.waitCount(3);
  assert.deepEqual([got[2].type, got[2].data, got[2].id], ['message', 'after restart', live.id]);
  client.close();
  await pub.close();
  await second.stopClean();
});

test('history_max_bytes: the oldest messages of all channels go first; a resume past them gets herald.gap', async () => {
  const relay = await new Relay({ flags: { history_size: 1000, history_max_bytes: 40000 } }).start();
  const pub = await new Publisher(relay.socket).connect();
  const body = (i) => `${i}:${'b'.repeat(2000)}`;
  // Old messages on one channel, then newer ones on many others.
  const old = await publishAll(
    pub,
    [0, 1, 2, 3, 4].map((i) => ['old', body(i)]),
  );
  const m0 = await relay.metrics();
  assert.equal(m0['herald_history_max_bytes'], 40000);
  assert.equal(m0['herald_history_messages'], 5);
  assert.equal(m0['herald_history_evictions_total{reason="bytes"}'], 0);
  const newer = await publishAll(
    pub,
    Array.from({ length: 30 }, (_, i) => [`new.${i % 6}`, body(100 + i)]),
  );
  const m = await relay.metrics();
  assert.ok(m['herald_history_bytes'] <= 40000, `${m['herald_history_bytes']} bytes held`);
  const evicted = m['herald_history_evictions_total{reason="bytes"}'];
  assert.ok(evicted >= 15, `${evicted} evicted`);
  assert.equal(m['herald_history_messages'], 35 - evicted);
  // The oldest of all went first: every one of "old", then the first of the newer.
  const g = await resume(relay, ['old'], old[0].id);
  const [gb] = await g.waitEvents(1);
  assert.deepEqual(gapOf(gb), { last_event_id: old[0].id, channels: ['old'] });
  assert.equal(gb.id, newer.at(-1).id, 'nothing of "old" is left: the gap carries the position');
  // The newest are held: a resume from the newest but five is exact.
  const last = newer.at(-1).ch;
  const kept = newer.filter((a) => a.ch === last);
  const e = await resume(relay, [last], kept.at(-3).id);
  const evs = await e.waitEvents(2);
  assert.deepEqual(
    evs.map((x) => x.id),
    kept.slice(-2).map((a) => a.id),
  );
  const live = await pubOk(pub, 'sse', last, 'live');
  assert.equal((await e.waitEvents(3))[2].id, live.id);
  assert.ok(!e.blocks().some((b) => b.event === 'herald.gap'));
  g.destroy();
  e.destroy();
  await pub.close();
  await relay.stopClean();
});
