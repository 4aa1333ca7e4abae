// herald.batch=1 under a real php-fpm pool: each request's buffered messages
// go out at the end of that request (the extension's RSHUTDOWN), also after
// exit(), on the worker's one persistent ingest connection; a real
// EventSource gets every message once, each request's in call order.
// Processes stop by their pid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { once } from 'node:events';
import { Relay, ROOT, sse, tmpdir, waitFor } from './lib/harness.mjs';

const EXT = process.env.HERALD_EXT || path.join(ROOT, 'build/herald.so');
const WORKERS = 2;
const REQUESTS = 60;
const PER_REQUEST = 5;

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

// The least of FastCGI (responder, one request per connection) that runs a
// script and returns its output.
function record(type, content) {
  const pad = (8 - (content.length % 8)) % 8;
  const head = Buffer.from([1, type, 0, 1, content.length >> 8, content.length & 0xff, pad, 0]);
  return Buffer.concat([head, content, Buffer.alloc(pad)]);
}

async function fastcgi(socketPath, params) {
  const sock = net.connect(socketPath);
  await once(sock, 'connect');
  const nv = Object.entries(params).map(([k, v]) => {
    const [kb, vb] = [Buffer.from(k), Buffer.from(String(v))];
    return Buffer.concat([Buffer.from([kb.length, vb.length]), kb, vb]); // all < 128 bytes
  });
  sock.write(
    Buffer.concat([
      record(1, Buffer.from([0, 1, 0, 0, 0, 0, 0, 0])),
      record(4, Buffer.concat(nv)),
      record(4, Buffer.alloc(0)),
      record(5, Buffer.alloc(0)),
    ]),
  );
  let buf = Buffer.alloc(0);
  const out = [];
  let ended = false;
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 8) {
      const len = buf.readUInt16BE(4);
      if (buf.length < 8 + len + buf[6]) break;
      if (buf[1] === 6) out.push(buf.subarray(8, 8 + len));
      if (buf[1] === 3) ended = true;
      buf = buf.subarray(8 + len + buf[6]);
    }
  });
  await once(sock, 'close');
  if (!ended) throw new Error('FastCGI connection closed without END_REQUEST');
  const text = Buffer.concat(out).toString();
  return text.slice(text.indexOf('\r\n\r\n') + 4);
}

// Every third request ends with exit() before its echo.
const SCRIPT = `<?php
$n = (int) $_GET['n'];
$ok = true;
for ($k = 0; $k < ${PER_REQUEST}; $k++) {
    $ok = sse_emit('fpmb', "$n.$k") && $ok;
}
echo json_encode(['pid' => getmypid(), 'ok' => $ok]);
if ($n % 3 === 0) {
    exit;
}
echo "\\n";
`;

test('php-fpm with herald.batch=1: every request flushes at its end, one connection per worker, all messages once and in order', async () => {
  const relay = await new Relay().start();
  const dir = tmpdir('herald-fpmb-');
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
      `php_admin_value[herald.socket] = ${relay.socket}`,
      'php_admin_value[herald.batch] = 1',
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
    await waitFor(async () => {
      if (fpmExited) throw new Error(`php-fpm exited: ${fpmLog}`);
      if (!fs.existsSync(fpmSock)) return false;
      return new Promise((resolve) => {
        const s = net.connect(fpmSock);
        s.on('connect', () => (s.destroy(), resolve(true)));
        s.on('error', () => resolve(false));
      });
    }, 'php-fpm socket');

    const es = sse(relay.url('/sse?channel=fpmb'));
    await es.opened;
    const pids = new Set();
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < REQUESTS) {
          const n = next++;
          const body = await fastcgi(fpmSock, {
            GATEWAY_INTERFACE: 'CGI/1.1',
            REQUEST_METHOD: 'GET',
            SCRIPT_FILENAME: script,
            SCRIPT_NAME: '/publish.php',
            QUERY_STRING: `n=${n}`,
            SERVER_PROTOCOL: 'HTTP/1.1',
          });
          const r = JSON.parse(body);
          assert.equal(r.ok, true, `request ${n}`);
          pids.add(r.pid);
        }
      }),
    );

    const got = (await es.waitCount(REQUESTS * PER_REQUEST, 30000)).map((e) => e.data);
    for (let n = 0; n < REQUESTS; n++) {
      const mine = got.filter((d) => d.startsWith(`${n}.`));
      assert.deepEqual(mine, Array.from({ length: PER_REQUEST }, (_, k) => `${n}.${k}`), `request ${n}`);
    }
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(es.received.length, REQUESTS * PER_REQUEST, 'nothing twice');

    const m = await relay.metrics();
    assert.equal(m.herald_ingest_connections_total, pids.size, 'one ingest connection per worker');
    es.close();
  } catch (e) {
    e.message += `\n--- php-fpm log:\n${fpmLog}`;
    throw e;
  } finally {
    if (!fpmExited) process.kill(fpm.pid, 'SIGQUIT');
    await fpmExit;
  }
  await relay.stopClean();
  fs.rmSync(dir, { recursive: true, force: true });
});
