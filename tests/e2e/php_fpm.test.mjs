// A real php-fpm pool publishing through the real relay. The test starts
// php-fpm (a temp pool config, a Unix socket in a temp dir, the extension
// loaded with -d) and sends it many requests over FastCGI with a small
// client below; every script publishes. The relay must see one ingest
// connection per worker, not one per request, and SSE and WebSocket
// subscribers must receive every message. Processes stop by their pid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { once } from 'node:events';
import { Relay, ROOT, sse, wsClient, tmpdir, waitFor } from './lib/harness.mjs';

const EXT = process.env.HERALD_EXT || path.join(ROOT, 'build/herald.so');
const WORKERS = 4;
const REQUESTS = 400;
const CONCURRENCY = 8;

function findFpm() {
  if (process.env.PHP_FPM) return process.env.PHP_FPM;
  for (const name of ['php-fpm8.2', 'php-fpm']) {
    for (const dir of [...(process.env.PATH || '').split(':'), '/usr/sbin', '/usr/local/sbin']) {
      const p = path.join(dir, name);
      if (dir && fs.existsSync(p)) return p;
    }
  }
  throw new Error('php-fpm not found (apt-get install php8.2-fpm, or set PHP_FPM)');
}

// FastCGI (responder role, one request per connection): enough of the
// protocol to send CGI params and read the script's output.
const FCGI_BEGIN_REQUEST = 1;
const FCGI_END_REQUEST = 3;
const FCGI_PARAMS = 4;
const FCGI_STDIN = 5;
const FCGI_STDOUT = 6;
const FCGI_STDERR = 7;

function record(type, content, id = 1) {
  const pad = (8 - (content.length % 8)) % 8;
  const head = Buffer.alloc(8);
  head[0] = 1; // version
  head[1] = type;
  head.writeUInt16BE(id, 2);
  head.writeUInt16BE(content.length, 4);
  head[6] = pad;
  return Buffer.concat([head, content, Buffer.alloc(pad)]);
}

function nameValue(name, value) {
  const len = (n) => {
    if (n < 128) return Buffer.from([n]);
    const b = Buffer.alloc(4);
    b.writeUInt32BE((n | 0x80000000) >>> 0);
    return b;
  };
  const k = Buffer.from(name);
  const v = Buffer.from(String(value));
  return Buffer.concat([len(k.length), len(v.length), k, v]);
}

async function fastcgi(socketPath, params) {
  const sock = net.connect(socketPath);
  await once(sock, 'connect');
  const body = Buffer.concat(Object.entries(params).map(([k, v]) => nameValue(k, v)));
  sock.write(
    Buffer.concat([
      record(FCGI_BEGIN_REQUEST, Buffer.from([0, 1, 0, 0, 0, 0, 0, 0])), // responder, close after
      record(FCGI_PARAMS, body),
      record(FCGI_PARAMS, Buffer.alloc(0)),
      record(FCGI_STDIN, Buffer.alloc(0)),
    ]),
  );
  const out = [];
  const err = [];
  let buf = Buffer.alloc(0);
  let ended = false;
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 8) {
      const type = buf[1];
      const len = buf.readUInt16BE(4);
      const pad = buf[6];
      if (buf.length < 8 + len + pad) break;
      const content = buf.subarray(8, 8 + len);
      if (type === FCGI_STDOUT) out.push(content);
      else if (type === FCGI_STDERR) err.push(content);
      else if (type === FCGI_END_REQUEST) ended = true;
      buf = buf.subarray(8 + len + pad);
    }
  });
  await once(sock, 'close');
  if (!ended) throw new Error('FastCGI connection closed without END_REQUEST');
  const text = Buffer.concat(out).toString();
  const i = text.indexOf('\r\n\r\n');
  return { head: text.slice(0, i), body: text.slice(i + 4), stderr: Buffer.concat(err).toString() };
}

const SCRIPT = `<?php
$n = (int) ($_GET['n'] ?? -1);
$a = sse_emit('fpm', "sse $n");
$b = ws_publish(['fpm', 'fpm.other'], ['n' => $n, 'pid' => getmypid()]);
echo json_encode(['pid' => getmypid(), 'ok' => $a && $b, 'error' => herald_last_error()]);
`;

test('php-fpm: many requests publish, one ingest connection per worker, every message arrives', async () => {
  const relay = await new Relay().start();
  const dir = tmpdir('herald-fpm-');
  const script = path.join(dir, 'publish.php');
  fs.writeFileSync(script, SCRIPT);
  const fpmSock = path.join(dir, 'fpm.sock');
  const asRoot = process.getuid() === 0;
  fs.writeFileSync(
    path.join(dir, 'fpm.conf'),
    [
      '[global]',
      `error_log = ${path.join(dir, 'fpm.log')}`,
      'daemonize = no',
      '[herald]',
      `listen = ${fpmSock}`,
      ...(asRoot ? ['user = root', 'group = root'] : []),
      'pm = static',
      `pm.max_children = ${WORKERS}`,
      'pm.max_requests = 0',
      `php_admin_value[herald.socket] = ${relay.socket}`,
      'php_admin_value[herald.timeout_ms] = 2000',
      'catch_workers_output = yes',
      '',
    ].join('\n'),
  );
  const fpm = spawn(
    findFpm(),
    ['-n', '-d', `extension=${EXT}`, '-y', path.join(dir, 'fpm.conf'), '-F', ...(asRoot ? ['-R'] : [])],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let fpmLog = '';
  fpm.stdout.on('data', (d) => (fpmLog += d));
  fpm.stderr.on('data', (d) => (fpmLog += d));
  let fpmExited = null;
  const fpmExit = new Promise((r) => fpm.on('exit', (code, signal) => r((fpmExited = { code, signal }))));

  try {
    // Ready once its socket accepts a connection.
    await waitFor(async () => {
      if (fpmExited) throw new Error(`php-fpm exited: ${fpmLog}`);
      if (!fs.existsSync(fpmSock)) return false;
      return new Promise((resolve) => {
        const s = net.connect(fpmSock);
        s.on('connect', () => (s.destroy(), resolve(true)));
        s.on('error', () => resolve(false));
      });
    }, 'php-fpm socket');

    const es = sse(relay.url('/sse?channel=fpm'));
    await es.opened;
    const ws = await wsClient(relay.wsUrl('/ws?channel=fpm&channel=fpm.other'));

    const params = (n) => ({
      GATEWAY_INTERFACE: 'CGI/1.1',
      SERVER_PROTOCOL: 'HTTP/1.1',
      REQUEST_METHOD: 'GET',
      SCRIPT_FILENAME: script,
      SCRIPT_NAME: '/publish.php',
      REQUEST_URI: `/publish.php?n=${n}`,
      QUERY_STRING: `n=${n}`,
      CONTENT_LENGTH: 0,
      SERVER_NAME: 'localhost',
      REMOTE_ADDR: '127.0.0.1',
    });
    const results = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < REQUESTS) {
          const n = next++;
          const r = await fastcgi(fpmSock, params(n));
          let parsed;
          try {
            parsed = JSON.parse(r.body);
          } catch {
            throw new Error(`request ${n}: ${r.head}\n${r.body}\n${r.stderr}\n${fpmLog}`);
          }
          results.push({ n, ...parsed });
        }
      }),
    );

    assert.equal(results.length, REQUESTS);
    const failed = results.filter((r) => !r.ok);
    assert.deepEqual(failed, [], 'every publish returned true');
    const pids = new Set(results.map((r) => r.pid));
    assert.ok(pids.size >= 2 && pids.size <= WORKERS, `requests served by ${pids.size} workers`);

    // Every message arrives: one SSE event per request, and one WebSocket
    // message per request although it went to two of the client's channels.
    const got = await es.waitCount(REQUESTS, 30000);
    assert.deepEqual(
      got.map((e) => e.data).sort(),
      Array.from({ length: REQUESTS }, (_, n) => `sse ${n}`).sort(),
    );
    const wgot = await ws.waitCount(REQUESTS, 30000);
    assert.deepEqual(
      wgot.map((m) => JSON.parse(m.data).n).sort((a, b) => a - b),
      Array.from({ length: REQUESTS }, (_, n) => n),
    );
    for (const m of wgot) assert.ok(pids.has(JSON.parse(m.data).pid));

    // One ingest connection per worker that served a request, kept across
    // its requests: nothing per request, no reconnects.
    const m = await relay.metrics();
    assert.equal(m.herald_ingest_connections, pids.size, 'open ingest connections');
    assert.equal(m.herald_ingest_connections_total, pids.size, 'ingest connections ever accepted');

    es.close();
    ws.ws.close();
  } catch (e) {
    e.message += `\n--- php-fpm log:\n${fpmLog}${fs.existsSync(path.join(dir, 'fpm.log')) ? fs.readFileSync(path.join(dir, 'fpm.log')) : ''}`;
    throw e;
  } finally {
    if (!fpmExited) process.kill(fpm.pid, 'SIGQUIT');
    await fpmExit;
  }
  // Workers closed their connections when php-fpm stopped.
  await waitFor(async () => (await relay.metrics()).herald_ingest_connections === 0, 'ingest connections closed');
  await relay.stopClean();
  fs.rmSync(dir, { recursive: true, force: true });
});
