// A real php-fpm pool for the end-to-end tests, and the least of FastCGI
// (responder role, one request per connection) needed to run a script in
// it: CGI params in, the script's output out. The pool listens on a Unix
// socket in the test's own folder, loads build/herald.so, and is stopped
// by its pid.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { once } from 'node:events';
import { ROOT, waitFor } from './harness.mjs';
import { killQuiet } from './kill.mjs';

export const EXT = process.env.HERALD_EXT || path.join(ROOT, 'build/herald.so');

export function findFpm() {
  if (process.env.PHP_FPM) return process.env.PHP_FPM;
  for (const name of ['php-fpm8.2', 'php-fpm']) {
    for (const dir of [...(process.env.PATH || '').split(':'), '/usr/sbin', '/usr/local/sbin']) {
      const p = path.join(dir, name);
      if (dir && fs.existsSync(p)) return p;
    }
  }
  throw new Error('php-fpm not found (apt-get install php8.2-fpm, or set PHP_FPM)');
}

// Start a pool of `workers` in dir (pm = static, or pm = ondemand with
// `pm: 'ondemand'`; pm.max_requests = `maxRequests`, 0: unlimited) with these
// php_admin_value INI settings; resolves once its socket accepts (polled: php-fpm's "ready to
// handle connections" goes to its error log file, not to a pipe). stop()
// sends SIGQUIT by pid and waits for the exit; log() is php-fpm's output and
// error log.
export async function startFpm(dir, { workers, ini = {}, pm = 'static', maxRequests = 0 }) {
  const sock = path.join(dir, 'fpm.sock');
  const errorLog = path.join(dir, 'fpm.log');
  const asRoot = process.getuid() === 0;
  const conf = path.join(dir, 'fpm.conf');
  fs.writeFileSync(
    conf,
    [
      '[global]',
      `error_log = ${errorLog}`,
      'daemonize = no',
      '[herald]',
      `listen = ${sock}`,
      ...(asRoot ? ['user = root', 'group = root'] : []),
      `pm = ${pm}`,
      `pm.max_children = ${workers}`,
      `pm.max_requests = ${maxRequests}`,
      ...Object.entries(ini).map(([k, v]) => `php_admin_value[${k}] = ${v}`),
      'catch_workers_output = yes',
      '',
    ].join('\n'),
  );
  const proc = spawn(
    findFpm(),
    ['-n', '-d', `extension=${EXT}`, '-y', conf, '-F', ...(asRoot ? ['-R'] : [])],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  // exited at 'exit' (never signal a reaped pid); stop() resolves at
  // 'close', once php-fpm's output has been read to its end.
  let exited = null;
  proc.on('exit', (code, signal) => (exited = { code, signal }));
  const closed = new Promise((r) => proc.on('close', (code, signal) => r({ code, signal })));
  const log = () => out + (fs.existsSync(errorLog) ? fs.readFileSync(errorLog, 'utf8') : '');
  // (Or the signal given: SIGTERM ends the workers at once.)
  const stop = async (signal = 'SIGQUIT') => {
    if (!exited) killQuiet(proc.pid, signal);
    return closed;
  };
  try {
    await waitFor(async () => {
      if (exited) {
        await closed;
        throw new Error(`php-fpm exited: ${log()}`);
      }
      if (!fs.existsSync(sock)) return false;
      return new Promise((resolve) => {
        const s = net.connect(sock);
        s.on('connect', () => (s.destroy(), resolve(true)));
        s.on('error', () => resolve(false));
      });
    }, 'php-fpm socket');
  } catch (e) {
    await stop();
    throw e;
  }
  return { sock, log, stop };
}

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

// Run one request; resolves with the response head, body and stderr.
export async function fastcgi(socketPath, params) {
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
