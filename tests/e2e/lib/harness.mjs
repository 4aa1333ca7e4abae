// Test harness for end-to-end tests: starts a real herald-relay on a free
// loopback port with its own ingest socket, publishes real msgpack frames on
// that socket, and collects what real clients (eventsource, ws) receive.
// Processes are stopped by their pid; nothing sleeps as synchronisation.
import { spawn } from 'node:child_process';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { encode, decodeMultiStream } from '@msgpack/msgpack';
import { EventSource } from 'eventsource';
import WebSocket from 'ws';

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
// HERALD_RELAY picks the binary (the suite runs once with the ASan build).
export const RELAY_BIN = process.env.HERALD_RELAY || path.join(ROOT, 'build/herald-relay');

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

// Resolve when fn() returns a truthy value; polls an observable state (not a
// fixed sleep) with a deadline so a broken relay fails the test, not hangs it.
export async function waitFor(fn, what = 'condition', timeoutMs = 10000) {
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

  async start() {
    this.port = this.opts.port || (await freePort());
    const args = ['--listen', `127.0.0.1:${this.port}`, '--socket', this.socket];
    if (this.opts.config) {
      const cfg = path.join(this.dir, 'relay.ini');
      fs.writeFileSync(cfg, this.opts.config);
      args.unshift('--config', cfg);
    }
    for (const [k, v] of Object.entries(this.opts.flags || {})) args.push(`--${k}`, String(v));
    this.proc = spawn(RELAY_BIN, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ASAN_OPTIONS: process.env.ASAN_OPTIONS || 'detect_leaks=1' },
    });
    this.proc.stdout.on('data', (d) => (this.logText += d));
    this.proc.stderr.on('data', (d) => (this.logText += d));
    this.exitPromise = new Promise((resolve) =>
      this.proc.on('exit', (code, signal) => resolve((this.exited = { code, signal }))),
    );
    await waitFor(async () => {
      if (this.exited) throw new Error(`relay exited at start: ${this.logText}`);
      try {
        return (await httpGet(this.port, '/healthz')).status === 200;
      } catch {
        return false;
      }
    }, 'relay /healthz');
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
  // no sanitizer report (the ASan run turns leaks and errors into exit codes).
  async stopClean() {
    const r = await this.stop('SIGTERM');
    const bad = /AddressSanitizer|LeakSanitizer|runtime error:/.test(this.logText);
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

  // Publish with ack; resolves with the relay's reply.
  async pubAck(t, ch, data, extra = {}) {
    const ack = this.nextAck++;
    const p = new Promise((resolve) => this.acks.set(ack, resolve));
    await this.pub(t, ch, data, { ack, ...extra });
    return p;
  }

  async raw(obj) {
    const ack = obj.ack;
    const p = ack !== undefined ? new Promise((resolve) => this.acks.set(ack, resolve)) : null;
    await this.write(this.frame(obj));
    return p;
  }

  close() {
    this.sock.end();
    return this.closed;
  }
}

// An SSE subscriber using the npm eventsource package; records every event.
export function sse(url, { headers = {}, events = [] } = {}) {
  const received = [];
  const waiters = [];
  const es = new EventSource(url, {
    fetch: (input, init) => fetch(input, { ...init, headers: { ...init.headers, ...headers } }),
  });
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
  const waitCount = (n, timeoutMs = 10000) =>
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
        reject(new Error(`timed out: ${received.length}/${n} SSE events`));
      }, timeoutMs);
      waiters.push(check);
      check();
    });
  return { es, received, opened, waitCount, close: () => es.close() };
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
  const waitCount = (n, timeoutMs = 10000) =>
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
        reject(new Error(`timed out: ${received.length}/${n} WS messages`));
      }, timeoutMs);
      waiters.push(check);
      check();
    });
  return { ws, received, closed, waitCount, send: (o) => ws.send(JSON.stringify(o)) };
}
