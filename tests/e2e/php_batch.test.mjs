// herald.batch=1 against the real relay: a batched PHP script's messages
// reach a real EventSource and WebSocket client only when they are flushed
// (herald_flush(), the herald.batch_bytes threshold, the end of the script,
// also after exit()), all of them, once, in call order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { Relay, ROOT, sse, wsClient } from './lib/harness.mjs';

const EXT = process.env.HERALD_EXT || path.join(ROOT, 'build/herald.so');
const PHP = process.env.PHP || 'php';

// Runs `code` in php -r with batching on; `step()` sends a line on stdin
// (the script waits for one with fgets(STDIN)) and returns its next stdout line.
function php(socket, code, ini = {}) {
  const args = ['-n', '-d', `extension=${EXT}`, '-d', `herald.socket=${socket}`, '-d', 'herald.batch=1'];
  for (const [k, v] of Object.entries(ini)) args.push('-d', `${k}=${v}`);
  const proc = spawn(PHP, [...args, '-r', code], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  const lines = readline.createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  const exit = new Promise((r) => proc.on('exit', (code) => r(code)));
  return {
    async line() {
      const { value, done } = await lines.next();
      if (done) throw new Error(`php exited: ${stderr}`);
      return value;
    },
    async step() {
      proc.stdin.write('go\n');
      return this.line();
    },
    async end() {
      proc.stdin.end();
      return { code: await exit, stderr };
    },
  };
}

// Nothing may arrive while the messages sit in the buffer: give the relay
// time to deliver what it would have got, then check that it got nothing.
const quiet = () => new Promise((r) => setTimeout(r, 300));

test('batched sse_emit()/ws_publish() reach real clients at herald_flush() and at the end of the script, in order', async () => {
  const relay = await new Relay().start();
  const es = sse(relay.url('/sse?channel=b'));
  await es.opened;
  const ws = await wsClient(relay.wsUrl('/ws?channel=b'));
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
  assert.equal(await p.line(), 'buffered');
  await quiet();
  assert.equal(es.received.length, 0, 'nothing delivered before the flush');
  assert.equal(ws.received.length, 0);

  assert.equal(await p.step(), '[true,null]');
  let got = await es.waitCount(50);
  assert.deepEqual(got.map((e) => e.data), Array.from({ length: 50 }, (_, i) => `s${i}`));
  let wgot = await ws.waitCount(50);
  assert.deepEqual(wgot.map((m) => m.data), Array.from({ length: 50 }, (_, i) => `{"n":${i}}`));

  assert.equal(await p.line(), 'buffered again');
  await quiet();
  assert.equal(es.received.length, 50, 'the second half waits for the end of the script');
  const { code, stderr } = await p.end();
  assert.equal(code, 0, stderr);
  assert.equal(stderr, '');
  got = await es.waitCount(100);
  assert.deepEqual(got.map((e) => e.data), Array.from({ length: 100 }, (_, i) => `s${i}`));
  wgot = await ws.waitCount(100);
  assert.deepEqual(wgot.map((m) => m.data), Array.from({ length: 100 }, (_, i) => `{"n":${i}}`));
  const ids = got.map((e) => e.id);
  assert.equal(new Set(ids).size, 100, 'every event has its own id');
  await quiet();
  assert.equal(es.received.length, 100, 'delivered once');

  es.close();
  ws.ws.close();
  await relay.stopClean();
});

test('the herald.batch_bytes threshold writes the batch while the script runs; herald.ack=1 sends the buffer first', async () => {
  const relay = await new Relay().start();
  const es = sse(relay.url('/sse?channel=t'));
  await es.opened;
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
  await quiet();
  assert.equal(es.received.length, 22, 'the last 8 wait in the buffer');

  // The acknowledged frame returns true once the relay has it, and
  // everything buffered before it arrived first.
  assert.equal(await p.step(), '[true,null]');
  const all = await es.waitCount(32);
  assert.deepEqual(all.slice(22).map((e) => e.data.replace(/x+$/, '')),
    ['022', '023', '024', '025', '026', '027', '028', '029', 'before ack', 'acked']);
  const { code, stderr } = await p.end();
  assert.equal(code, 0, stderr);

  es.close();
  await relay.stopClean();
});
