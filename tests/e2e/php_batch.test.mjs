// herald.batch=1 against the real relay: a batched PHP script's messages
// reach a real EventSource and WebSocket client only when they are flushed
// (herald_flush(), the herald.batch_bytes threshold, the end of the script,
// also after exit()), all of them, once, in call order.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { Relay, Publisher, ROOT, sse, wsClient, pubOk } from './lib/harness.mjs';
import { killQuiet } from './lib/kill.mjs';

const EXT = process.env.HERALD_EXT || path.join(ROOT, 'build/herald.so');
const PHP = process.env.PHP || 'php';

// Runs `code` in php -r with batching on; `step()` sends a line on stdin
// (the script waits for one with fgets(STDIN)) and returns its next stdout line.
function php(socket, code, ini = {}) {
  const args = ['-n', '-d', `extension=${EXT}`, '-d', `herald.socket=${socket}`, '-d', 'herald.batch=1'];
  for (const [k, v] of Object.entries(ini)) args.push('-d', `${k}=${v}`);
  const proc = spawn(PHP, [...args, '-r', code], { stdio: ['pipe', 'pipe', 'pipe'] });
  let exited = false;
  proc.on('exit', () => (exited = true));
  // A test that fails while the script waits on stdin must not leave it
  // running (its pipes would keep this file from ending): killed by pid.
  after(() => {
    if (!exited) killQuiet(proc.pid, 'SIGKILL');
  });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  const lines = readline.createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  // 'close': the process ended and its output was read to the end ('exit'
  // can come first, with stderr still unread).
  const closed = new Promise((r) => proc.on('close', (code) => r(code)));
  return {
    async line() {
      const { value, done } = await lines.next();
      if (done) throw new Error(`php exited (${await closed}): ${stderr}`);
      return value;
    },
    async step() {
      proc.stdin.write('go\n');
      return this.line();
    },
    async end() {
      proc.stdin.end();
      const code = await closed;
      return { code, stderr };
    },
  };
}

// Nothing may arrive while the messages sit in the buffer: a marker is
// published (acked) on another connection after the point where the
// buffered messages would have been written, and it reaches the clients.
// The relay keeps publish order across connections (a write that completed
// is delivered before one that started after it), so whatever was written
// before the marker has arrived before it: each client's list of what it
// got, up to the marker, is then complete.
async function marker(pub, ch, name, { es, ws }) {
  const esWant = es.received.length + 1;
  const wsWant = ws && ws.received.length + 1;
  await pubOk(pub, 'sse', ch, name);
  if (ws) await pubOk(pub, 'ws', ch, name);
  // One more item each (the marker, unless something else came first:
  // then the caller's assertion on the list fails, as it must).
  await es.waitCount(esWant);
  if (ws) await ws.waitCount(wsWant);
}

test('batched sse_emit()/ws_publish() reach real clients at herald_flush() and at the end of the script, in order', async () => {
  const relay = await new Relay().start();
  const es = sse(relay.url('/sse?channel=b'));
  await es.opened;
  const ws = await wsClient(relay.wsUrl('/ws?channel=b'));
  const pub = await new Publisher(relay.socket).connect();
  const p = php(relay.socket, `
    for ($i = 0; $i < 50; $i++) { sse_emit('b', "s$i"); ws_publish('b', ['n' => $i]); }
    echo "buffered\\n";
    fgets(STDIN);
    echo json_encode([herald_flush(), herald_last_error()]), "\\n";
    for ($i = 50; $i < 100; $i++) { sse_emit('b', "s$i"); ws_publish('b', ['n' => $i]); }
    echo "buffered again\\n";
    fgets(STDIN);
    exit(0);   // the end of the script flushes
  `);
  const clients = { es, ws };
  const sseData = () => es.received.map((e) => e.data);
  const wsData = () => ws.received.map((m) => m.data);
  const s = (from, to) => Array.from({ length: to - from }, (_, i) => `s${from + i}`);
  const n = (from, to) => Array.from({ length: to - from }, (_, i) => `{"n":${from + i}}`);
  assert.equal(await p.line(), 'buffered');
  await marker(pub, 'b', 'marker 1', clients);
  assert.deepEqual(sseData(), ['marker 1'], 'nothing delivered before the flush');
  assert.deepEqual(wsData(), ['marker 1']);

  assert.equal(await p.step(), '[true,null]');
  await es.waitCount(51);
  assert.deepEqual(sseData(), ['marker 1', ...s(0, 50)]);
  await ws.waitCount(51);
  assert.deepEqual(wsData(), ['marker 1', ...n(0, 50)]);

  assert.equal(await p.line(), 'buffered again');
  await marker(pub, 'b', 'marker 2', clients);
  assert.deepEqual(sseData(), ['marker 1', ...s(0, 50), 'marker 2'], 'the second half waits for the end of the script');
  assert.deepEqual(wsData(), ['marker 1', ...n(0, 50), 'marker 2']);
  const { code, stderr } = await p.end();
  assert.equal(code, 0, stderr);
  assert.equal(stderr, '');
  await es.waitCount(102);
  assert.deepEqual(sseData().slice(52), s(50, 100));
  await ws.waitCount(102);
  assert.deepEqual(wsData().slice(52), n(50, 100));
  const ids = es.received.map((e) => e.id);
  assert.equal(new Set(ids).size, 102, 'every event has its own id');
  // The script has ended: all it wrote is in. A last marker comes next.
  await marker(pub, 'b', 'marker 3', clients);
  assert.equal(es.received.length, 103, 'delivered once');
  assert.equal(ws.received.length, 103);

  es.close();
  ws.ws.close();
  await pub.close();
  await relay.stopClean();
});

test('the herald.batch_bytes threshold writes the batch while the script runs; herald.ack=1 sends the buffer first', async () => {
  const relay = await new Relay().start();
  const es = sse(relay.url('/sse?channel=t'));
  await es.opened;
  const pub = await new Publisher(relay.socket).connect();
  // 91-byte frames and a 1000-byte threshold: ten fit (910 bytes), the 11th
  // would take the buffer past 1000, so it is written with them: 30 calls
  // make two writes of 11 and leave 8 in the buffer.
  const p = php(relay.socket, `
    $pad = str_repeat('x', 50);
    for ($i = 0; $i < 30; $i++) sse_emit('t', sprintf('%03d', $i) . $pad);
    echo "30\\n";
    fgets(STDIN);
    sse_emit('t', 'before ack');
    ini_set('herald.ack', '1');
    echo json_encode([sse_emit('t', 'acked'), herald_last_error()]), "\\n";
    fgets(STDIN);
  `, { 'herald.batch_bytes': 1000, 'herald.timeout_ms': 2000 });
  assert.equal(await p.line(), '30');
  const got = await es.waitCount(22);
  assert.deepEqual(got.map((e) => e.data.slice(0, 3)), Array.from({ length: 22 }, (_, i) => String(i).padStart(3, '0')));
  await marker(pub, 't', 'marker', { es });
  assert.equal(es.received.length, 23, 'the last 8 wait in the buffer');
  assert.equal(es.received[22].data, 'marker');

  // The acknowledged frame returns true once the relay has it, and
  // everything buffered before it arrived first.
  assert.equal(await p.step(), '[true,null]');
  const all = await es.waitCount(33);
  assert.deepEqual(all.slice(23).map((e) => e.data.replace(/x+$/, '')),
    ['022', '023', '024', '025', '026', '027', '028', '029', 'before ack', 'acked']);
  const { code, stderr } = await p.end();
  assert.equal(code, 0, stderr);

  es.close();
  await pub.close();
  await relay.stopClean();
});
