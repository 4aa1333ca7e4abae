// Operations: graceful shutdown on SIGTERM and SIGINT (WebSockets get 1001,
// SSE streams end after everything published before the signal, the socket
// file goes, exit 0), SIGHUP reopening --log_file, configuration errors,
// a port in use, an unusable socket path, --version and --help, the stale
// socket of a SIGKILLed relay, and a second relay refusing a live socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { once } from 'node:events';
import {
  Relay,
  Publisher,
  sse,
  wsClient,
  rawSse,
  rawWs,
  runRelayOnce,
  freePort,
  tmpdir,
  pubOk,
  waitFor,
  SANITIZER_RE,
} from './lib/harness.mjs';

// A relay whose socket lives outside its own directory, so the socket file
// can be checked after the relay's directory is cleaned up.
function sockPath() {
  return path.join(tmpdir('herald-sock-'), 'relay.sock');
}

for (const signal of ['SIGTERM', 'SIGINT']) {
  test(`graceful shutdown on ${signal}: 1001 to WebSockets, SSE ends after what was published, exit 0`, async () => {
    const socket = sockPath();
    const relay = await new Relay({ socket }).start();
    const sseRaw = await Promise.all([1, 2, 3].map(() => rawSse(relay.port, '/sse?channel=bye')));
    const wss = await Promise.all([1, 2].map(() => wsClient(relay.wsUrl('/ws?channel=bye'))));
    const wsRaw = await rawWs(relay.port, '/ws?channel=bye');
    const pubs = await Promise.all([1, 2, 3].map(() => new Publisher(relay.socket).connect()));
    // Published (written to the socket, not acked) right before the signal.
    const N = 300;
    for (let i = 0; i < N; i++) {
      await pubs[i % 3].pub(i % 2 ? 'ws' : 'sse', 'bye', `m${i}`);
    }
    const stopping = relay.stop(signal);
    await Promise.all(sseRaw.map((c) => c.ended));
    const closes = await Promise.all(wss.map((w) => w.closed));
    for (const c of closes) assert.equal(c.code, 1001);
    const closeFrame = await wsRaw.waitClose();
    assert.equal(closeFrame.code, 1001);
    const r = await stopping;
    assert.deepEqual(r, { code: 0, signal: null });
    assert.ok(!SANITIZER_RE.test(relay.log()), relay.log());
    const sseWant = Array.from({ length: N / 2 }, (_, k) => `m${2 * k}`);
    const wsWant = Array.from({ length: N / 2 }, (_, k) => `m${2 * k + 1}`);
    for (const c of sseRaw) {
      assert.deepEqual(
        c.events().map((e) => e.data),
        sseWant,
      );
      assert.ok(c.text().endsWith('\n\n'), 'the stream ends on an event boundary');
      assert.equal(c.error, undefined, 'ended with FIN, not reset');
    }
    for (const w of wss)
      assert.deepEqual(
        w.received.map((m) => m.data),
        wsWant,
      );
    assert.deepEqual(
      wsRaw
        .frames()
        .filter((f) => f.opcode === 1)
        .map((f) => f.text),
      wsWant,
      'every message before the close frame',
    );
    assert.equal(wsRaw.frames().at(-1).opcode, 8);
    assert.ok(!fs.existsSync(socket), 'socket file removed');
    assert.match(relay.log(), new RegExp(`shutdown: ${signal}`));
    for (const p of pubs) await p.closed;
    await relay.stopClean(signal);
    fs.rmSync(path.dirname(socket), { recursive: true, force: true });
  });
}

test('frames still unread when the signal comes are published before the streams end', async () => {
  const relay = await new Relay().start();
  const subs = await Promise.all([1, 2].map(() => rawSse(relay.port, '/sse?channel=late')));
  const ws = await wsClient(relay.wsUrl('/ws?channel=late'));
  const pubs = await Promise.all([1, 2, 3, 4].map(() => new Publisher(relay.socket).connect()));
  // Freeze the relay (seen stopped in /proc before anything is sent), so the
  // frames and the signal wait in the kernel together and it wakes up to
  // both in the same turn.
  await relay.pause();
  const N = 400;
  for (let i = 0; i < N; i++) await pubs[i % 4].pub(i % 2 ? 'ws' : 'sse', 'late', `u${i}`);
  const stopping = relay.stop('SIGTERM');
  process.kill(relay.proc.pid, 'SIGCONT');
  await Promise.all(subs.map((c) => c.ended));
  assert.equal((await ws.closed).code, 1001);
  assert.deepEqual(await stopping, { code: 0, signal: null });
  const sseWant = Array.from({ length: N / 2 }, (_, k) => `u${2 * k}`);
  for (const c of subs)
    assert.deepEqual(
      c.events().map((e) => e.data),
      sseWant,
    );
  assert.deepEqual(
    ws.received.map((m) => m.data),
    Array.from({ length: N / 2 }, (_, k) => `u${2 * k + 1}`),
  );
  await relay.stopClean();
});

test('shutdown does not wait for clients that keep their socket open after an answer', async () => {
  const relay = await new Relay({ flags: { shutdown_timeout: 60000 } }).start();
  const idle = [];
  for (let i = 0; i < 3; i++) {
    // allowHalfOpen: this client reads the answer and the FIN, and stays.
    const sock = net.connect({ port: relay.port, host: '127.0.0.1', allowHalfOpen: true });
    await once(sock, 'connect');
    let answer = '';
    sock.on('data', (d) => (answer += d));
    sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await once(sock, 'end');
    assert.match(answer, /^HTTP\/1\.1 200 /);
    idle.push(sock);
  }
  // With a 60 s shutdown_timeout, a relay waiting on them would time the test out.
  await relay.stopClean();
  assert.doesNotMatch(relay.log(), /did not drain/);
  idle.forEach((s) => s.destroy());
});

test('a client that never reads does not hold shutdown past shutdown_timeout', async () => {
  const relay = await new Relay({
    flags: { shutdown_timeout: 200, max_queued_bytes: 1 << 28 },
  }).start();
  const stuck = await rawSse(relay.port, '/sse?channel=stuck');
  stuck.sock.pause();
  const reader = await rawSse(relay.port, '/sse?channel=stuck');
  const pub = await new Publisher(relay.socket).connect();
  // Far more than loopback buffers hold: the relay keeps the rest queued.
  const chunk = 'q'.repeat(256 * 1024);
  for (let i = 0; i < 100; i++) await pubOk(pub, 'sse', 'stuck', `${i}:${chunk}`);
  await reader.waitEvents(100);
  const m = await relay.metrics();
  assert.equal(m['herald_slow_consumer_disconnects_total'], 0);
  await relay.stopClean();
  assert.match(relay.log(), /did not drain in time/);
  await reader.ended;
  stuck.destroy();
});

test('shutdown with a real EventSource: it sees every event, then the relay exits 0', async () => {
  const relay = await new Relay({ flags: { retry_min: 60000, retry_max: 60000 } }).start();
  const es = sse(relay.url('/sse?channel=es'));
  await es.opened;
  const pub = await new Publisher(relay.socket).connect();
  for (let i = 0; i < 50; i++) await pub.pub('sse', 'es', `e${i}`);
  const errored = new Promise((r) => es.es.addEventListener('error', r, { once: true }));
  await relay.stopClean();
  await errored; // the stream ended: the EventSource goes to reconnecting
  assert.deepEqual(
    es.received.map((e) => e.data),
    Array.from({ length: 50 }, (_, i) => `e${i}`),
  );
  es.close();
});

test('SIGHUP reopens --log_file: after a rename, later lines go to a new file', async () => {
  const dir = tmpdir('herald-log-');
  const logFile = path.join(dir, 'relay.log');
  const relay = await new Relay({ flags: { log_file: logFile } }).start();
  assert.match(fs.readFileSync(logFile, 'utf8'), /ingest: listening on/);
  fs.renameSync(logFile, `${logFile}.1`);
  process.kill(relay.proc.pid, 'SIGHUP');
  await waitFor(
    () => fs.existsSync(logFile) && /log: reopened/.test(fs.readFileSync(logFile, 'utf8')),
    'a new log file',
  );
  // A later line: a rejected frame is logged as a warning.
  const pub = await new Publisher(relay.socket).connect();
  const nack = await pub.raw({ op: 'pub', t: 'sse', ch: 'bad name', data: 'x', ack: 1 });
  assert.equal(nack.ok, false);
  await waitFor(
    () => /frame rejected/.test(fs.readFileSync(logFile, 'utf8')),
    'the warning in the new file',
  );
  const old = fs.readFileSync(`${logFile}.1`, 'utf8');
  assert.match(old, /herald-relay .*ingest/);
  assert.doesNotMatch(old, /frame rejected|reopened/);
  // The relay still works, and a second SIGHUP without a rename is harmless.
  process.kill(relay.proc.pid, 'SIGHUP');
  await waitFor(
    () => (fs.readFileSync(logFile, 'utf8').match(/log: reopened/g) || []).length === 2,
    'second reopen',
  );
  const sub = await rawSse(relay.port, '/sse?channel=ok');
  await pubOk(pub, 'sse', 'ok', 'after reopen');
  assert.equal((await sub.waitEvents(1))[0].data, 'after reopen');
  sub.destroy();
  await pub.close();
  await relay.stopClean();
  assert.match(fs.readFileSync(logFile, 'utf8'), /stopped/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('SIGHUP without --log_file changes nothing: the relay keeps serving', async () => {
  const relay = await new Relay().start();
  const sub = await rawSse(relay.port, '/sse?channel=hup');
  process.kill(relay.proc.pid, 'SIGHUP');
  process.kill(relay.proc.pid, 'SIGHUP');
  const pub = await new Publisher(relay.socket).connect();
  await pubOk(pub, 'sse', 'hup', 'after SIGHUP');
  assert.equal((await sub.waitEvents(1))[0].data, 'after SIGHUP');
  assert.equal(relay.exited, null);
  sub.destroy();
  await pub.close();
  await relay.stopClean();
});

test('bad configuration: non-zero exit with a clear message', async () => {
  const dir = tmpdir('herald-cfg-');
  const ini = (name, text) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, text);
    return p;
  };
  const sock = path.join(dir, 'never.sock');
  const cases = [
    [
      ['--config', ini('unknown.ini', '[relay]\nhistory_size = 10\nno_such_key = 1\n')],
      /unknown option 'no_such_key'/,
    ],
    [
      ['--config', ini('section.ini', '[elsewhere]\nhistory_size = 10\n')],
      /unknown section \[elsewhere\]/,
    ],
    [
      ['--config', ini('badnum.ini', 'history_size = lots\n')],
      /history_size: 'lots' is not a number/,
    ],
    [['--config', ini('range.ini', 'ping_interval = 0\n')], /ping_interval: 0 is out of range/],
    [['--config', ini('syntax.ini', '[relay\nhistory_size = 1\n')], /syntax error|relay/],
    [['--config', path.join(dir, 'missing.ini')], /cannot read config/],
    [['--ping_interval', 'abc'], /ping_interval: 'abc' is not a number/],
    [['--history_size', '12x'], /history_size: '12x' is not a number/],
    [['--history_ttl', '0'], /history_ttl: 0 is out of range/],
    [['--max_queued_bytes', '-1'], /max_queued_bytes: -1 is out of range/],
    [['--socket_mode', '0999'], /socket_mode: '0999' is not an octal number/],
    [['--log_level', 'loud'], /log_level: 'loud' is not debug, info, warn or error/],
    [
      ['--retry_min', '5000', '--retry_max', '100'],
      /retry_min \(5000\) is above retry_max \(100\)/,
    ],
    [['--no_such_flag', '1'], /Usage: herald-relay/],
    [['stray-argument'], /unexpected argument 'stray-argument'/],
    [['--socket', '/tmp/' + 'x'.repeat(120)], /socket path must be/],
    [['--listen', 'not-an-address', '--socket', sock], /bad listen address 'not-an-address'/],
    [['--listen', '127.0.0.1:99999', '--socket', sock], /bad listen address/],
  ];
  for (const [args, re] of cases) {
    const r = await runRelayOnce(args);
    assert.notEqual(r.code, 0, `${args.join(' ')} must fail`);
    assert.equal(r.signal, null);
    assert.match(r.stderr, re, `${args.join(' ')}: ${r.stderr}`);
    assert.ok(!SANITIZER_RE.test(r.stderr), r.stderr);
  }
  assert.ok(!fs.existsSync(sock));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a config file is read, and flags override it', async () => {
  const config = '; like php.ini\nhistory_size = 2\n[relay]\nretry_min = 5000\nretry_max = 5000\n';
  const relay = await new Relay({ config, flags: { retry_min: 250, retry_max: 250 } }).start();
  const c = await rawSse(relay.port, '/sse?channel=cfg');
  assert.equal(c.blocks()[0].retry, '250', 'flags win over the file');
  const pub = await new Publisher(relay.socket).connect();
  for (let i = 0; i < 4; i++) await pubOk(pub, 'sse', 'cfg', `c${i}`);
  assert.equal((await relay.metrics())['herald_history_messages'], 2, 'history_size from the file');
  c.destroy();
  await pub.close();
  await relay.stopClean();
});

test('a port in use: non-zero exit with a message, no socket left behind', async () => {
  // The squatter takes a port the kernel picks (free by construction; a
  // port from freePort() could be taken by another process before it binds).
  const squatter = net.createServer();
  squatter.listen(0, '127.0.0.1');
  await once(squatter, 'listening');
  const { port } = squatter.address();
  const dir = tmpdir('herald-port-');
  const sock = path.join(dir, 'relay.sock');
  const r = await runRelayOnce(['--listen', `127.0.0.1:${port}`, '--socket', sock]);
  assert.notEqual(r.code, 0);
  assert.match(
    r.stderr,
    new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: address already in use`),
  );
  assert.ok(!SANITIZER_RE.test(r.stderr), r.stderr);
  assert.ok(!fs.existsSync(sock));
  squatter.close();
  await once(squatter, 'close');
  // The same port held by another relay.
  const first = await new Relay().start();
  const r2 = await runRelayOnce(['--listen', `127.0.0.1:${first.port}`, '--socket', sock]);
  assert.notEqual(r2.code, 0);
  assert.match(r2.stderr, /address already in use/);
  assert.equal((await fetch(first.url('/healthz'))).status, 200);
  await first.stopClean();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('an unusable socket path: non-zero exit with a message that says what is wrong; a non-socket file is left alone', async () => {
  const dir = tmpdir('herald-badsock-');
  const file = path.join(dir, 'plain-file');
  fs.writeFileSync(file, 'precious');
  const port = await freePort();
  const cases = [
    // A missing directory is named as such (libuv says "permission denied").
    [path.join(dir, 'no-such-dir', 'relay.sock'), /cannot listen on .*relay\.sock: the directory .*no-such-dir: No such file or directory/],
    [path.join(file, 'relay.sock'), /cannot listen on .*relay\.sock: .*not a directory/],
    [file, /exists and is not a socket/],
    [dir, /exists and is not a socket/],
  ];
  for (const [sock, re] of cases) {
    const r = await runRelayOnce(['--listen', `127.0.0.1:${port}`, '--socket', sock]);
    assert.notEqual(r.code, 0, sock);
    assert.match(r.stderr, re, r.stderr);
    assert.ok(!SANITIZER_RE.test(r.stderr), r.stderr);
  }
  assert.equal(fs.readFileSync(file, 'utf8'), 'precious');
  // The port was released each time: a relay can use it now.
  const relay = await new Relay({ port }).start();
  await relay.stopClean();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('--version and --help (and -v, -h) print and exit 0', async () => {
  for (const flag of ['--version', '-v']) {
    const r = await runRelayOnce([flag]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^herald-relay \d+\.\d+\.\d+\S*\n$/);
  }
  for (const flag of ['--help', '-h']) {
    const r = await runRelayOnce([flag]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: herald-relay /);
    for (const opt of [
      'config',
      'listen',
      'socket',
      'socket_mode',
      'socket_group',
      'log_level',
      'log_file',
      'history_size',
      'history_ttl',
      'history_max_bytes',
      'ping_interval',
      'header_timeout',
      'max_header_bytes',
      'max_queued_bytes',
      'ws_max_message',
      'max_channels',
      'max_frame_bytes',
      'max_connections',
      'retry_min',
      'retry_max',
      'shutdown_timeout',
      'state_file',
      'drain_ms',
      'cors_origin',
      'version',
      'help',
    ]) {
      assert.match(r.stdout, new RegExp(`--${opt}\\b`), `--help lists --${opt}`);
    }
  }
});

test('the stale socket of a SIGKILLed relay is replaced at start', async () => {
  const socket = sockPath();
  const killed = await new Relay({ socket }).start();
  assert.deepEqual(await killed.stop('SIGKILL'), { code: null, signal: 'SIGKILL' });
  killed.cleanup();
  assert.ok(fs.statSync(socket).isSocket(), 'the killed relay left its socket file');
  const relay = await new Relay({ socket }).start();
  assert.match(relay.log(), /removed stale socket/);
  const sub = await rawSse(relay.port, '/sse?channel=s');
  const pub = await new Publisher(socket).connect();
  await pubOk(pub, 'sse', 's', 'through the new socket');
  assert.equal((await sub.waitEvents(1))[0].data, 'through the new socket');
  sub.destroy();
  await pub.close();
  await relay.stopClean();
  assert.ok(!fs.existsSync(socket));
  fs.rmSync(path.dirname(socket), { recursive: true, force: true });
});

test('a second relay on a live socket refuses, and the first keeps its socket', async () => {
  const socket = sockPath();
  const first = await new Relay({ socket }).start();
  // Port 0: the kernel picks a free one, so the refusal can only be the socket's.
  const r = await runRelayOnce(['--listen', '127.0.0.1:0', '--socket', socket]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /another relay is live on/);
  assert.ok(!SANITIZER_RE.test(r.stderr), r.stderr);
  assert.ok(fs.statSync(socket).isSocket());
  const sub = await rawSse(first.port, '/sse?channel=l');
  const pub = await new Publisher(socket).connect();
  await pubOk(pub, 'sse', 'l', 'first still serves');
  assert.equal((await sub.waitEvents(1))[0].data, 'first still serves');
  sub.destroy();
  await pub.close();
  await first.stopClean();
  fs.rmSync(path.dirname(socket), { recursive: true, force: true });
});
