// Test harness for end-to-end tests: starts a real herald-relay on a free
// loopback port with its own ingest socket, publishes real msgpack frames on
// that socket, and collects what real clients (eventsource, ws) receive.
// Processes are stopped by their pid; nothing sleeps as synchronisation.
import { spawn } from 'node:child_process';
import { after } from 'node:test';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { encode, decodeMultiStream } from '@msgpack/msgpack';
import { EventSource } from 'eventsource';
import WebSocket from 'ws';
import { killQuiet } from './kill.mjs';

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
// HERALD_RELAY picks the binary (the suite runs once with the ASan build).
export const RELAY_BIN = process.env.HERALD_RELAY || path.join(ROOT, 'build/herald-relay');
// Every relay a test starts runs HERALD_WORKERS event loops (default 1),
// passed explicitly as --workers (the relay's own default is the number of
// cores, which would make a run depend on the machine), unless the test
// sets workers itself, in its flags or its configuration file.
export const WORKERS = process.env.HERALD_WORKERS || '1';
const WORKERS_INI = /^[ \t]*workers[ \t]*[=:]/m;
export function workersArgs(args, configText = '') {
  if (args.includes('--workers') || args.some((a) => a.startsWith('--workers='))) return [];
  if (WORKERS_INI.test(configText)) return [];
  return ['--workers', WORKERS];
}
// The environment of a relay: sanitizer options unless the run sets them.
// TSAN_OPTIONS: exitcode 66 (a report fails stopClean through the exit
// code, as LeakSanitizer's does), every report printed, not only the first.
export function relayEnv() {
  return {
    ...process.env,
    ASAN_OPTIONS: process.env.ASAN_OPTIONS || 'detect_leaks=1',
    TSAN_OPTIONS:
      process.env.TSAN_OPTIONS ||
      `halt_on_error=0:exitcode=66:second_deadlock_stack=1:suppressions=${path.join(ROOT, 'tests/tsan.supp')}`,
  };
}

export function tmpdir(prefix = 'herald-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function freePort() {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  srv.close();
  await once(srv, 'close');
  return port;
}

// Deadlines in this file only turn a hang into a failure; no test expects
// one to pass. They are far above what anything takes on a busy machine
// (a relay's own 5 s timers included), and below the runner's 120 s.
export const DEADLINE_MS = 30000;

// Resolve when fn() returns a truthy value; polls an observable state (not a
// fixed sleep) with a deadline so a broken relay fails the test, not hangs it.
// Only for states nothing announces (a /metrics counter, a file, /proc).
export async function waitFor(fn, what = 'condition', timeoutMs = DEADLINE_MS) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function httpGet(port, p, headers = {}) {
  const res = await fetch(`http://127.0.0.1:${port}${p}`, { headers });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

// Send raw bytes and collect the whole response until the relay closes.
export async function rawRequest(port, bytes, { end = false } = {}) {
  const sock = net.connect(port, '127.0.0.1');
  await once(sock, 'connect');
  const chunks = [];
  sock.on('data', (d) => chunks.push(d));
  sock.write(bytes);
  if (end) sock.end();
  await once(sock, 'close');
  return Buffer.concat(chunks).toString('latin1');
}

export class Relay {
  constructor(opts = {}) {
    this.opts = opts;
    this.dir = tmpdir();
    this.socket = opts.socket || path.join(this.dir, 'herald.sock');
    this.logText = '';
    this.exited = null;
  }

  // Start on opts.port, or on a port freePort() found. Such a port is free
  // only until the relay binds it: another process (a test run in another
  // checkout) may take it in between; the relay then exits with "address
  // already in use" and is started again on another port.
  async start() {
    // A relay still running when its test ends (the test failed before its
    // stopClean) is killed by pid, so one failure never hangs the file.
    // (Called from a test, after() hooks that test.)
    after(() => {
      if (this.proc && !this.exited) killQuiet(this.proc.pid, 'SIGKILL');
    });
    for (let attempt = 1; ; attempt++) {
      this.port = this.opts.port || (await freePort());
      try {
        return await this.startOnce();
      } catch (e) {
        const taken = new RegExp(`http: cannot listen on 127\\.0\\.0\\.1:${this.port}: address already in use`);
        if (this.opts.port || attempt >= 10 || !taken.test(this.logText)) throw e;
        this.logText = '';
        this.exited = null;
      }
    }
  }

  async startOnce() {
    const args = ['--listen', `127.0.0.1:${this.port}`, '--socket', this.socket];
    if (this.opts.config) {
      const cfg = path.join(this.dir, 'relay.ini');
      fs.writeFileSync(cfg, this.opts.config);
      args.unshift('--config', cfg);
    }
    const flags = this.opts.flags || {};
    for (const [k, v] of Object.entries(flags)) args.push(`--${k}`, String(v));
    args.push(...workersArgs(args, this.opts.config));
    this.proc = spawn(RELAY_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: relayEnv() });
    this.proc.stdout.on('data', (d) => (this.logText += d));
    this.proc.stderr.on('data', (d) => (this.logText += d));
    // exited is set at 'exit' (the pid is gone: never kill it again);
    // exitPromise resolves at 'close', once all the relay printed has been
    // read, so a sanitizer report or a last log line is never cut off.
    this.proc.on('exit', (code, signal) => (this.exited = { code, signal }));
    this.exitPromise = new Promise((resolve) =>
      this.proc.on('close', (code, signal) => resolve({ code, signal })),
    );
    // Ready when this relay says so: "herald-relay <version>: http://<listen>"
    // comes after its port and its ingest socket are open. (A 200 from
    // /healthz could come from another process on a port taken meanwhile.)
    const ready = new RegExp(`herald-relay \\S+: http://127\\.0\\.0\\.1:${this.port} `);
    const fail = () => new Error(`relay exited at start: ${this.logText}`);
    if (flags.log_file) {
      // The line goes to the file: no event for it, so look at the file.
      await waitFor(async () => {
        if (this.exited) {
          await this.exitPromise;
          throw fail();
        }
        return fs.existsSync(flags.log_file) && ready.test(fs.readFileSync(flags.log_file, 'utf8'));
      }, 'relay start line in its log file');
    } else if (/^(warn|warning|error)$/i.test(String(flags.log_level || ''))) {
      // The start line is not logged at this level: poll the port instead.
      await waitFor(async () => {
        if (this.exited) {
          await this.exitPromise;
          throw fail();
        }
        try {
          return (await httpGet(this.port, '/healthz')).status === 200;
        } catch {
          return false;
        }
      }, 'relay /healthz');
    } else {
      await new Promise((resolve, reject) => {
        const onData = () => {
          if (!ready.test(this.logText)) return;
          this.proc.stdout.off('data', onData);
          this.proc.stderr.off('data', onData);
          resolve();
        };
        this.proc.stdout.on('data', onData);
        this.proc.stderr.on('data', onData);
        this.exitPromise.then(() => reject(fail()));
      });
    }
    return this;
  }

  url(p) {
    return `http://127.0.0.1:${this.port}${p}`;
  }

  wsUrl(p) {
    return `ws://127.0.0.1:${this.port}${p}`;
  }

  log() {
    return this.logText;
  }

  // SIGSTOP, then wait until the kernel shows the relay stopped (state T in
  // /proc; nothing announces it): a signal is delivered asynchronously, and
  // a relay still running for a moment would read what the test sends next.
  async pause() {
    const pid = this.proc.pid;
    process.kill(pid, 'SIGSTOP');
    await waitFor(() => /^\d+ \(.*\) [Tt]/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')), 'relay stopped');
  }

  async metrics() {
    const { body } = await httpGet(this.port, '/metrics');
    const out = {};
    for (const line of body.split('\n')) {
      if (!line || line.startsWith('#')) continue;
      const i = line.lastIndexOf(' ');
      out[line.slice(0, i)] = Number(line.slice(i + 1));
    }
    return out;
  }

  // Stop by pid with a signal and wait for the exit; returns {code, signal}.
  async stop(signal = 'SIGTERM') {
    if (!this.exited && this.proc) {
      process.kill(this.proc.pid, signal);
    }
    const r = await this.exitPromise;
    return r;
  }

  // Stop with SIGTERM and fail unless the relay exited 0 and its log shows
  // no sanitizer report (the ASan run turns leaks and errors into exit codes,
  // the TSan run races too: exit code 66).
  async stopClean(signal = 'SIGTERM') {
    const r = await this.stop(signal);
    const bad = SANITIZER_RE.test(this.logText);
    if (r.code !== 0 || bad) {
      throw new Error(`relay did not exit cleanly (${JSON.stringify(r)}):\n${this.logText}`);
    }
    this.cleanup();
    return r;
  }

  cleanup() {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// A publisher connection on the ingest socket, like one PHP worker.
export class Publisher {
  constructor(socketPath) {
    this.socketPath = socketPath;
    this.acks = new Map();
    this.replies = [];
    this.waiters = [];
    this.nextAck = 1;
  }

  async connect() {
    this.sock = net.connect(this.socketPath);
    await once(this.sock, 'connect');
    this.closed = new Promise((r) => this.sock.on('close', r));
    this.sock.on('error', () => {});
    // Replies (acks) are a stream of msgpack values, like the requests.
    (async () => {
      try {
        for await (const value of decodeMultiStream(this.sock, { useBigInt64: false })) {
          this.replies.push(value);
          if (value.op === 'ack' && this.acks.has(value.ack)) {
            this.acks.get(value.ack)(value);
            this.acks.delete(value.ack);
          }
        }
      } catch {
        /* connection closed by the relay: tests look at this.closed */
      }
    })();
    return this;
  }

  write(bytes) {
    return new Promise((resolve, reject) =>
      this.sock.write(bytes, (err) => (err ? reject(err) : resolve())),
    );
  }

  frame(obj) {
    return Buffer.from(encode(obj, { useBigInt64: true }));
  }

  // Publish without ack; ts is the CLOCK_MONOTONIC time like the extension sends.
  pub(t, ch, data, extra = {}) {
    const f = { op: 'pub', t, ch, data, ts: process.hrtime.bigint(), ...extra };
    return this.write(this.frame(f));
  }

  // The relay's reply to ack; rejects after timeoutMs so a lost reply fails
  // the test instead of hanging it.
  waitAck(ack, timeoutMs = DEADLINE_MS) {
    const key = typeof ack === 'bigint' ? Number(ack) : ack;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.acks.delete(key);
        reject(new Error(`no reply to ack ${ack} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.acks.set(key, (v) => {
        clearTimeout(timer);
        resolve(v);
      });
    });
  }

  // Publish with ack; resolves with the relay's reply.
  async pubAck(t, ch, data, extra = {}) {
    const ack = this.nextAck++;
    const p = this.waitAck(ack);
    await this.pub(t, ch, data, { ack, ...extra });
    return p;
  }

  async raw(obj) {
    const ack = obj.ack;
    const p = ack !== undefined ? this.waitAck(ack) : null;
    await this.write(this.frame(obj));
    return p;
  }

  close() {
    this.sock.end();
    return this.closed;
  }
}

// waitCount(n) for a client that pushes into received and calls every
// function in waiters on each arrival: resolves with the first n items.
function countWaiter(received, waiters, what) {
  return (n, timeoutMs = DEADLINE_MS) =>
    new Promise((resolve, reject) => {
      const check = () => {
        if (received.length >= n) {
          waiters.splice(waiters.indexOf(check), 1);
          clearTimeout(timer);
          resolve(received.slice(0, n));
        }
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(check), 1);
        reject(new Error(`timed out: ${received.length}/${n} ${what}`));
      }, timeoutMs);
      waiters.push(check);
      check();
    });
}

// An SSE subscriber using the npm eventsource package; records every event.
// With droppable: true, drop() ends the current response as a dropped
// connection would (the EventSource then reconnects by itself), and
// requests records the headers of every request it made (Last-Event-ID).
export function sse(url, { headers = {}, events = [], droppable = false } = {}) {
  const received = [];
  const waiters = [];
  const requests = [];
  let current = null;
  const plainFetch = (input, init) =>
    fetch(input, { ...init, headers: { ...init.headers, ...headers } });
  const droppableFetch = async (input, init) => {
    requests.push({ ...init.headers, ...headers });
    const res = await plainFetch(input, init);
    if (!res.body) return res;
    const reader = res.body.getReader();
    let ctl;
    const body = new ReadableStream({
      start(c) {
        ctl = c;
      },
      async pull(c) {
        const { done, value } = await reader.read().catch(() => ({ done: true }));
        try {
          if (done) c.close();
          else c.enqueue(value);
        } catch {
          /* already ended by drop() */
        }
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    });
    current = {
      end() {
        try {
          ctl.close();
        } catch {
          /* already ended */
        }
        reader.cancel().catch(() => {});
      },
    };
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
  const es = new EventSource(url, { fetch: droppable ? droppableFetch : plainFetch });
  const push = (type) => (e) => {
    received.push({ type, data: e.data, id: e.lastEventId });
    for (const w of waiters.slice()) w();
  };
  es.onmessage = push('message');
  for (const name of events) es.addEventListener(name, push(name));
  const opened = new Promise((resolve, reject) => {
    es.onopen = resolve;
    es.onerror = (e) => {
      if (es.readyState === EventSource.CLOSED) reject(e);
    };
  });
  const waitCount = countWaiter(received, waiters, 'SSE events');
  const drop = () => current && current.end();
  return { es, received, opened, waitCount, requests, drop, close: () => es.close() };
}

// A WebSocket subscriber using the npm ws package; records messages.
export async function wsClient(url, opts = {}) {
  const ws = new WebSocket(url, opts);
  const received = [];
  const waiters = [];
  ws.on('message', (data, isBinary) => {
    received.push({ data: isBinary ? data : data.toString(), isBinary });
    for (const w of waiters.slice()) w();
  });
  const closed = new Promise((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  ws.on('error', () => {});
  await once(ws, 'open');
  const waitCount = countWaiter(received, waiters, 'WS messages');
  return { ws, received, closed, waitCount, send: (o) => ws.send(JSON.stringify(o)) };
}

// ---- raw clients: bytes on the wire, for what real clients hide ----

// Resolve when pred() holds, re-checking on each of the emitter's events.
function awaitState(emitter, events, pred, what, timeoutMs, failWhen) {
  return new Promise((resolve, reject) => {
    let timer;
    const done = (fn, v) => {
      clearTimeout(timer);
      for (const e of events) emitter.off(e, check);
      fn(v);
    };
    const check = () => {
      let v;
      try {
        v = pred();
      } catch (err) {
        return done(reject, err);
      }
      if (v) return done(resolve, v);
      if (failWhen && failWhen()) done(reject, new Error(`${what}: connection closed first`));
    };
    timer = setTimeout(() => done(reject, new Error(`timed out waiting for ${what}`)), timeoutMs);
    for (const e of events) emitter.on(e, check);
    check();
  });
}

// A TCP client that keeps every byte it receives; tests await conditions
// on them (until) rather than sleeping.
export class RawClient {
  static async connect(port) {
    const sock = net.connect(port, '127.0.0.1');
    await once(sock, 'connect');
    return new RawClient(sock);
  }

  constructor(sock) {
    this.sock = sock;
    this.chunks = [];
    this.isClosed = false;
    this.isEnded = false;
    sock.on('data', (d) => this.chunks.push(d));
    sock.on('error', (e) => (this.error = e));
    this.ended = new Promise((r) => sock.on('end', () => r((this.isEnded = true))));
    this.closed = new Promise((r) => sock.on('close', () => r((this.isClosed = true))));
  }

  // Everything received so far (joined only when asked: streams can be big).
  get buf() {
    if (this.chunks.length !== 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0];
  }

  write(bytes) {
    return new Promise((resolve, reject) =>
      this.sock.write(bytes, (err) => (err ? reject(err) : resolve())),
    );
  }

  text() {
    return this.buf.toString('utf8');
  }

  // Resolve with pred()'s value once it is truthy; fail if the connection
  // closes first (unless pred becomes true with the last bytes).
  until(pred, what = 'data', timeoutMs = DEADLINE_MS) {
    return awaitState(this.sock, ['data', 'close'], pred, what, timeoutMs, () => this.isClosed);
  }

  untilText(s, timeoutMs) {
    return this.until(() => this.text().includes(s), JSON.stringify(s), timeoutMs);
  }

  end() {
    this.sock.end();
  }

  destroy() {
    this.sock.destroy();
  }
}

export function httpRequestText(p, headers = {}, { method = 'GET', version = '1.1' } = {}) {
  let req = `${method} ${p} HTTP/${version}\r\nHost: 127.0.0.1\r\n`;
  for (const [k, v] of Object.entries(headers)) req += `${k}: ${v}\r\n`;
  return req + '\r\n';
}

// Split a raw response into status, headers (lower-case names) and body.
export function parseResponse(text) {
  const i = text.indexOf('\r\n\r\n');
  if (i < 0) return null;
  const lines = text.slice(0, i).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3}) /.exec(lines[0]);
  const headers = {};
  for (const l of lines.slice(1)) {
    const c = l.indexOf(':');
    headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
  }
  return { status: m ? Number(m[1]) : null, statusLine: lines[0], headers, body: text.slice(i + 4) };
}

// Parse an event stream body into its blocks (complete ones only), each a
// list of [field, value] in wire order plus the WHATWG view of it.
export function parseSse(body) {
  const blocks = [];
  const parts = body.split('\n\n');
  parts.pop(); // incomplete (or empty) tail
  for (const part of parts) {
    const fields = [];
    for (const line of part.split('\n')) {
      if (line.startsWith(':')) {
        fields.push([':', line.slice(1).trimStart()]);
        continue;
      }
      const c = line.indexOf(':');
      const name = c < 0 ? line : line.slice(0, c);
      let value = c < 0 ? '' : line.slice(c + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      fields.push([name, value]);
    }
    const get = (n) => fields.filter(([f]) => f === n).map(([, v]) => v);
    const data = get('data');
    blocks.push({
      fields,
      raw: part + '\n\n',
      id: get('id').at(-1),
      event: get('event').at(-1),
      retry: get('retry').at(-1),
      data: data.length ? data.join('\n') : undefined,
      comment: fields.length > 0 && fields.every(([f]) => f === ':'),
    });
  }
  return blocks;
}

// An SSE stream read as raw bytes: the response head, then parsed blocks.
export async function rawSse(port, p, headers = {}) {
  const c = await RawClient.connect(port);
  // Blocks are parsed as they complete (once each), so long streams stay cheap.
  const blocks = [];
  const events = [];
  let head = null;
  let tail = Buffer.alloc(0);
  c.sock.on('data', (d) => {
    tail = tail.length ? Buffer.concat([tail, d]) : d;
    if (head === null) {
      const i = tail.indexOf('\r\n\r\n');
      if (i < 0) return;
      head = tail.subarray(0, i + 4).toString('latin1');
      tail = tail.subarray(i + 4);
    }
    const end = tail.lastIndexOf('\n\n');
    if (end < 0) return;
    for (const b of parseSse(tail.subarray(0, end + 2).toString('utf8'))) {
      blocks.push(b);
      if (b.data !== undefined) events.push(b);
    }
    tail = tail.subarray(end + 2);
  });
  await c.write(httpRequestText(p, headers));
  c.response = () => parseResponse(c.text());
  c.blocks = () => blocks;
  // Blocks with data (events a browser dispatches).
  c.events = () => events;
  c.waitEvents = (n, timeoutMs) =>
    c.until(() => events.length >= n && events.slice(), `${n} SSE events`, timeoutMs);
  await c.until(() => head !== null && blocks.length >= 1, 'SSE response and first block');
  return c;
}

// ---- raw WebSocket: build and read RFC 6455 frames by hand ----

export function wsFrame(opcode, payload = Buffer.alloc(0), opts = {}) {
  const { fin = true, rsv = 0, mask = true, len } = opts;
  payload = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const n = len ?? payload.length;
  let head;
  if (n <= 125 && !opts.ext16 && !opts.ext64) {
    head = Buffer.from([0, n]);
  } else if (n <= 0xffff && !opts.ext64) {
    head = Buffer.from([0, 126, n >> 8, n & 0xff]);
  } else {
    head = Buffer.alloc(10);
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  head[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f);
  if (!mask) return Buffer.concat([head, payload]);
  head[1] |= 0x80;
  const key = opts.maskKey || Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  return Buffer.concat([head, key, body]);
}

export function closePayload(code, reason = '') {
  const r = Buffer.isBuffer(reason) ? reason : Buffer.from(reason);
  const b = Buffer.alloc(2 + r.length);
  b.writeUInt16BE(code, 0);
  r.copy(b, 2);
  return b;
}

// Server frames after the 101 head (servers never mask).
export function parseWsFrames(buf) {
  const frames = [];
  let off = 0;
  for (;;) {
    if (buf.length - off < 2) break;
    const b0 = buf[off];
    const b1 = buf[off + 1];
    let n = b1 & 0x7f;
    let h = 2;
    if (n === 126) {
      if (buf.length - off < 4) break;
      n = buf.readUInt16BE(off + 2);
      h = 4;
    } else if (n === 127) {
      if (buf.length - off < 10) break;
      n = Number(buf.readBigUInt64BE(off + 2));
      h = 10;
    }
    const masked = (b1 & 0x80) !== 0;
    if (masked) h += 4;
    if (buf.length - off < h + n) break;
    const payload = buf.subarray(off + h, off + h + n);
    const f = { fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, payload };
    if (f.opcode === 8) {
      f.code = n >= 2 ? payload.readUInt16BE(0) : null;
      f.reason = n > 2 ? payload.subarray(2).toString() : '';
    } else if (f.opcode === 1) {
      f.text = payload.toString();
    }
    frames.push(f);
    off += h + n;
  }
  frames.consumed = off;
  return frames;
}

export const WS_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
export const WS_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo='; // RFC 6455 1.3

export function wsHandshake(p = '/ws', headers = {}) {
  return httpRequestText(p, {
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': WS_KEY,
    'Sec-WebSocket-Version': '13',
    ...headers,
  });
}

// A WebSocket spoken by hand: send any frame, read the server's frames.
export async function rawWs(port, p = '/ws', headers = {}) {
  const c = await RawClient.connect(port);
  await c.write(wsHandshake(p, headers));
  await c.until(() => parseResponse(c.buf.toString('latin1')), 'WebSocket handshake response');
  const headLen = c.buf.indexOf('\r\n\r\n') + 4;
  c.response = parseResponse(c.buf.subarray(0, headLen).toString('latin1'));
  // Frames are parsed as they complete (once each).
  const frames = [];
  let tail = c.buf.subarray(headLen);
  const feed = () => {
    const fr = parseWsFrames(tail);
    frames.push(...fr);
    tail = tail.subarray(fr.consumed);
  };
  feed();
  c.sock.on('data', (d) => {
    tail = tail.length ? Buffer.concat([tail, d]) : d;
    feed();
  });
  c.frames = () => frames;
  c.send = (opcode, payload, opts) => c.write(wsFrame(opcode, payload, opts));
  c.sendText = (s, opts) => c.send(1, Buffer.from(s), opts);
  c.sendJson = (o) => c.sendText(JSON.stringify(o));
  // The first frame (from index `from`) that matches pred.
  c.waitFrame = (pred = () => true, what = 'a WebSocket frame', from = 0, timeoutMs) =>
    c.until(() => c.frames().slice(from).find(pred), what, timeoutMs);
  c.waitClose = async () => {
    const f = await c.waitFrame((x) => x.opcode === 8, 'a close frame');
    await c.closed;
    return f;
  };
  return c;
}

// ---- processes ----

// Run the relay binary to completion (bad configurations, --help); resolves
// with its exit and everything it printed. Workers pinned as in Relay (a
// configuration file named by --config is read for its own workers line).
export async function runRelayOnce(args, { timeoutMs = 20000 } = {}) {
  const ci = args.indexOf('--config');
  let configText = '';
  try {
    if (ci >= 0) configText = fs.readFileSync(args[ci + 1], 'utf8');
  } catch {
    /* a missing file is the test's point: the relay says so */
  }
  args = [...args, ...workersArgs(args, configText)];
  const proc = spawn(RELAY_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: relayEnv() });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => (stdout += d));
  proc.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => process.kill(proc.pid, 'SIGKILL'), timeoutMs);
  const [code, signal] = await once(proc, 'close'); // after exit and the end of its output
  clearTimeout(timer);
  return { code, signal, stdout, stderr };
}

export const SANITIZER_RE = /AddressSanitizer|LeakSanitizer|ThreadSanitizer|runtime error:/;

// Publish with ack and fail the test unless the relay accepted the frame.
export async function pubOk(pub, t, ch, data, extra) {
  const r = await pub.pubAck(t, ch, data, extra);
  if (!r.ok) throw new Error(`publish refused: ${r.error}`);
  return r;
}
