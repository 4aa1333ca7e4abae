// Restarts (Guarantees, "Restart"). A clean stop (SIGTERM) writes the id
// space and history to the state file and the next start on the same
// socket takes it back: clients resume exactly, same epoch, same ids, no
// herald.gap. The file is used once and only if it is whole, this relay's
// and ours; anything else is set aside with a log line and the relay starts
// fresh. After a crash (SIGKILL) a client from the dead run gets herald.gap
// and then everything the new run holds, so a message published to the new
// relay before the browser came back (its sse_emit() returned true) is not
// lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Relay, Publisher, rawSse, sse, pubOk, tmpdir, waitFor } from './lib/harness.mjs';
import { Redis } from './lib/redis.mjs';

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

function resume(relay, channels, lastId) {
  const q = channels.map((c) => `channel=${encodeURIComponent(c)}`).join('&');
  return rawSse(relay.port, `/sse?${q}`, lastId ? { 'Last-Event-ID': lastId } : {});
}

// Wait for the sentinel's data, then every event the stream carried.
async function eventsUntil(c, data) {
  await c.until(() => c.events().some((e) => e.data === data), JSON.stringify(data));
  return c.events();
}

test('a clean restart (SIGTERM, start on the same socket): same epoch, same ids, exact resume, no gap', async () => {
  const socket = sockPath();
  const stateFile = `${socket}.state`;
  const flags = { drain_ms: 0 };
  const first = await new Relay({ socket, flags }).start();
  assert.match(first.log(), /state: no .*relay\.sock\.state: a fresh id space/);
  let pub = await new Publisher(socket).connect();
  const m1 = await pubOk(pub, 'sse', 'a', 'm1');
  const m2 = await pubOk(pub, 'sse', ['a', 'b'], 'm2\nsecond line', { event: 'upd', retry: 1500 });
  const m3 = await pubOk(pub, 'sse', 'b', 'm3');
  await pubOk(pub, 'ws', 'a', 'WebSocket only: kept, replayed to no SSE stream');
  const m4 = await pubOk(pub, 'sse', 'a', 'm4');
  await pub.close();
  await first.stop();
  assert.match(first.log(), /state: saved .*relay\.sock\.state: epoch [0-9a-f]+, seq 5, 5 message\(s\)/);
  first.cleanup();
  assert.equal(fs.statSync(stateFile).mode & 0o777, 0o600, 'the state file is 0600');
  assert.ok(!fs.existsSync(`${stateFile}.tmp`));

  const second = await new Relay({ socket, flags }).start();
  assert.match(second.log(), /state: loaded .*: epoch [0-9a-f]+, seq 5, 5 message\(s\).*clients resume exactly/);
  assert.ok(!fs.existsSync(stateFile), 'used once: taken away at load');
  // The id of a page that saw m1: the rest, exactly, with their fields.
  const c = await resume(second, ['a', 'b'], m1.id);
  pub = await new Publisher(socket).connect();
  const m5 = await pubOk(pub, 'sse', 'b', 'm5');
  const evs = await eventsUntil(c, 'm5');
  assert.ok(!c.blocks().some((x) => x.event === 'herald.gap'), 'no herald.gap');
  assert.deepEqual(
    evs.map((e) => [e.id, e.data, e.event, e.retry]),
    [
      [m2.id, 'm2\nsecond line', 'upd', '1500'],
      [m3.id, 'm3', undefined, undefined],
      [m4.id, 'm4', undefined, undefined],
      [m5.id, 'm5', undefined, undefined],
    ],
  );
  // The same id space goes on: the next seq, the epoch of the first run.
  const [epoch, seq] = m4.id.split('-');
  assert.equal(m5.id, `${epoch}-${Number(seq) + 1}`);
  const fresh = await resume(second, ['a']);
  assert.equal(fresh.blocks()[0].id, m5.id, 'a fresh stream starts at the position');
  const m = await second.metrics();
  assert.equal(m['herald_resumes_total{result="exact"}'], 1);
  assert.equal(m['herald_resumes_total{result="gap"}'], 0);
  c.destroy();
  fresh.destroy();
  await pub.close();
  await second.stopClean();

  // And again: each clean stop writes it anew.
  const third = await new Relay({ socket, flags }).start();
  const c3 = await resume(third, ['b'], m3.id);
  pub = await new Publisher(socket).connect();
  await pubOk(pub, 'sse', 'b', 'sentinel');
  assert.deepEqual(
    (await eventsUntil(c3, 'sentinel')).map((e) => e.data),
    ['m5', 'sentinel'],
  );
  assert.ok(!c3.blocks().some((x) => x.event === 'herald.gap'));
  c3.destroy();
  await pub.close();
  await third.stopClean();
  fs.rmSync(path.dirname(socket), { recursive: true, force: true });
});

test('a real EventSource across a clean restart: no herald.gap, nothing lost or repeated', async (t) => {
  const socket = sockPath();
  const flags = { drain_ms: 0, retry_min: 50, retry_max: 100 };
  const first = await new Relay({ socket, flags }).start();
  const client = sse(first.url('/sse?channel=es'), { droppable: true, events: ['herald.gap'] });
  t.after(() => client.close()); // even when an assertion fails: it reconnects forever
  await client.opened;
  let pub = await new Publisher(socket).connect();
  const sent = [await pubOk(pub, 'sse', 'es', 'e1'), await pubOk(pub, 'sse', 'es', 'e2')];
  await client.waitCount(2);
  await pub.close();
  await first.stopClean();
  const second = await new Relay({ socket, port: first.port, flags }).start();
  pub = await new Publisher(socket).connect();
  // Before or after the EventSource is back: either way, exactly once.
  sent.push(await pubOk(pub, 'sse', 'es', 'e3'));
  await waitFor(() => client.requests.length >= 2, 'the EventSource to come back');
  assert.equal(client.requests.at(-1)['Last-Event-ID'], sent[1].id);
  sent.push(await pubOk(pub, 'sse', 'es', 'e4'));
  const got = await client.waitCount(4);
  assert.deepEqual(
    got.map((e) => [e.type, e.data, e.id]),
    sent.map((a, i) => ['message', `e${i + 1}`, a.id]),
  );
  assert.equal(client.received.length, 4);
  client.close();
  await pub.close();
  await second.stopClean();
  fs.rmSync(path.dirname(socket), { recursive: true, force: true });
});

test('the state file is used once: SIGKILL after loading it leaves none; the next start is a gap, then everything held', async () => {
  const socket = sockPath();
  const flags = { drain_ms: 0 };
  const first = await new Relay({ socket, flags }).start();
  let pub = await new Publisher(socket).connect();
  await pubOk(pub, 'sse', 'once', 'o1');
  await pub.close();
  await first.stopClean();
  const second = await new Relay({ socket, flags }).start();
  assert.match(second.log(), /state: loaded/);
  pub = await new Publisher(socket).connect();
  // The loading run hands out ids past the file's: were the file loaded
  // again, these ids would be handed out twice.
  const o2 = await pubOk(pub, 'sse', 'once', 'o2');
  await second.stop('SIGKILL');
  second.cleanup();
  assert.ok(!fs.existsSync(`${socket}.state`));

  const third = await new Relay({ socket, flags }).start();
  assert.doesNotMatch(third.log(), /state: loaded/);
  assert.match(third.log(), /state: no .*: a fresh id space/);
  pub = await new Publisher(socket).connect();
  const n1 = await pubOk(pub, 'sse', 'once', 'n1');
  assert.notEqual(epochOf(n1.id), epochOf(o2.id), 'a new id space');
  const c = await resume(third, ['once'], o2.id);
  await pubOk(pub, 'sse', 'once', 'live');
  const evs = await eventsUntil(c, 'live');
  assert.equal(evs[0].event, 'herald.gap');
  assert.deepEqual(JSON.parse(evs[0].data), { last_event_id: o2.id, channels: ['once'] });
  assert.deepEqual(
    evs.slice(1).map((e) => e.data),
    ['n1', 'live'],
  );
  c.destroy();
  await pub.close();
  await third.stopClean();
  fs.rmSync(path.dirname(socket), { recursive: true, force: true });
});

// A state file as a clean stop of the relay on socket leaves it.
async function stateOf(socket, channel = 's') {
  const r = await new Relay({ socket, flags: { drain_ms: 0 } }).start();
  const pub = await new Publisher(socket).connect();
  const ack = await pubOk(pub, 'sse', channel, 'saved');
  await pub.close();
  await r.stopClean();
  return { bytes: fs.readFileSync(`${socket}.state`), id: ack.id };
}

test('a state file that is not whole, not this relay\'s, not ours, or of another format: refused with a reason, set aside, a fresh start', async () => {
  const socket = sockPath();
  const file = `${socket}.state`;
  const { bytes, id } = await stateOf(socket);
  const other = sockPath();
  const withSum = (b) => {
    const body = b.subarray(0, b.length - 32);
    return Buffer.concat([body, crypto.createHash('sha256').update(body).digest()]);
  };
  const format4 = Buffer.from(bytes);
  format4[8] = 4;
  const cases = [
    ['cut short', socket, bytes.subarray(0, bytes.length - 10), /checksum mismatch: the file is damaged or cut short/],
    ['a flipped byte', socket, Buffer.from(bytes).fill(0x41, 60, 61), /checksum mismatch/],
    ['another format', socket, withSum(format4), /format 4, this relay reads 1 to 3/],
    ['another relay', other, bytes, /written by the relay of '.*relay\.sock', not by this one/],
    ['not a state file', socket, Buffer.from('{"seq": 1}'), /not a herald state file/],
    ['writable by others', socket, bytes, /writable by others/, (f) => fs.chmodSync(f, 0o666)],
    ['a symbolic link', socket, bytes, /a symbolic link/, (f) => {
      fs.renameSync(f, `${f}.target`);
      fs.symlinkSync(`${f}.target`, f);
    }],
  ];
  if (process.getuid() === 0) {
    cases.push(['owned by another user', socket, bytes, /owned by another user/, (f) => fs.chownSync(f, 65534, 65534)]);
  }
  for (const [what, sock, content, re, prepare] of cases) {
    const f = `${sock}.state`;
    fs.writeFileSync(f, content, { mode: 0o600 });
    if (prepare) prepare(f);
    const r = await new Relay({ socket: sock, flags: { drain_ms: 0 } }).start();
    assert.match(r.log(), re, what);
    assert.match(r.log(), /refused .*set aside as .*\.state\.bad; a fresh id space: clients get herald\.gap/, what);
    assert.ok(!fs.existsSync(f), `${what}: never tried again`);
    assert.ok(fs.existsSync(`${f}.bad`), `${what}: kept aside to look at`);
    const c = await resume(r, ['s'], id);
    const [g] = await c.waitEvents(1);
    assert.equal(g.event, 'herald.gap', what);
    c.destroy();
    fs.rmSync(`${f}.bad`);
    fs.rmSync(`${f}.target`, { force: true });
    await r.stopClean();
    fs.rmSync(f); // its own clean stop wrote a new one
  }
  fs.rmSync(path.dirname(socket), { recursive: true, force: true });
  fs.rmSync(path.dirname(other), { recursive: true, force: true });
});

test('a save cut by a crash (a stray .tmp) is never loaded; the next clean stop writes over it', async () => {
  const socket = sockPath();
  const file = `${socket}.state`;
  const { bytes } = await stateOf(socket);
  fs.rmSync(file);
  fs.writeFileSync(`${file}.tmp`, bytes.subarray(0, 100), { mode: 0o600 });
  const r = await new Relay({ socket, flags: { drain_ms: 0 } }).start();
  assert.doesNotMatch(r.log(), /state: loaded|state: .* refused/);
  assert.match(r.log(), /state: no /);
  await r.stopClean();
  assert.ok(!fs.existsSync(`${file}.tmp`));
  assert.ok(fs.readFileSync(file).length > 100);
  fs.rmSync(path.dirname(socket), { recursive: true, force: true });
});

test('state_file: a path of its own; empty turns it off', async () => {
  const socket = sockPath();
  const own = path.join(path.dirname(socket), 'elsewhere.state');
  let r = await new Relay({ socket, flags: { drain_ms: 0, state_file: own } }).start();
  let pub = await new Publisher(socket).connect();
  const a = await pubOk(pub, 'sse', 'p', 'p1');
  await pub.close();
  await r.stopClean();
  assert.ok(fs.existsSync(own));
  assert.ok(!fs.existsSync(`${socket}.state`));
  r = await new Relay({ socket, flags: { drain_ms: 0, state_file: own } }).start();
  pub = await new Publisher(socket).connect();
  const b = await pubOk(pub, 'sse', 'p', 'p2');
  assert.equal(epochOf(b.id), epochOf(a.id));
  await pub.close();
  await r.stopClean();

  r = await new Relay({ socket, flags: { drain_ms: 0, state_file: '' } }).start();
  assert.doesNotMatch(r.log(), /state:/);
  pub = await new Publisher(socket).connect();
  const c = await pubOk(pub, 'sse', 'p', 'p3');
  assert.notEqual(epochOf(c.id), epochOf(a.id), 'off: a fresh id space');
  await pub.close();
  await r.stopClean();
  assert.doesNotMatch(r.log(), /state:/);
  assert.ok(!fs.existsSync(`${socket}.state`));
  fs.rmSync(path.dirname(socket), { recursive: true, force: true });
});

test('with the Redis broker no state file is read or written; one left by a single relay is set aside', async () => {
  const socket = sockPath();
  await stateOf(socket);
  const redis = await new Redis().start();
  const r = await new Relay({ socket, flags: { drain_ms: 0, redis: redis.url } }).start();
  assert.match(r.log(), /refused \(not used with the Redis broker\); set aside/);
  assert.ok(!fs.existsSync(`${socket}.state`));
  await r.stopClean();
  assert.ok(!fs.existsSync(`${socket}.state`), 'nothing written: Redis keeps ids and history');
  await redis.kill();
  fs.rmSync(path.dirname(socket), { recursive: true, force: true });
});
