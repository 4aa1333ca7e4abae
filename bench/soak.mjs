#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// soak.mjs: a bounded soak of herald-relay. Thousands of subscribers (SSE and
// WebSocket, spread over worker processes), one steady publisher on the
// ingest socket with acks, and churn: every second some SSE subscribers drop
// their connection and come back with Last-Event-ID. Every message carries
// its channel's sequence number, so each subscriber knows exactly what it
// missed. Reports the relay's RSS over time (flat, or not), /metrics at the
// end, and the lost, duplicated and rejected message counts (zero, or not).
//
//   node bench/soak.mjs [--subs 4000] [--ws-share 0.25] [--channels 50]
//        [--rate 200] [--seconds 180] [--churn 30] [--procs 4] [--history 200]
//        [--warmup 60]
//        [--relay build/herald-relay] [--json out.json]
//
// Exit status 0 only if nothing was lost, duplicated or rejected.
import { fork, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const require = createRequire(path.join(ROOT, 'tests/e2e/package.json'));
const { encode, decodeMultiStream } = require('@msgpack/msgpack');

function args() {
  const o = {
    subs: 4000, 'ws-share': 0.25, channels: 50, rate: 200, seconds: 180, churn: 30, procs: 4,
    history: 200, warmup: 60,
    relay: path.join(ROOT, 'build/herald-relay'), json: '',
  };
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i += 2) {
    const k = a[i].replace(/^--/, '');
    if (!(k in o)) throw new Error(`unknown option ${a[i]}`);
    o[k] = typeof o[k] === 'number' ? Number(a[i + 1]) : a[i + 1];
  }
  return o;
}

// ---------------------------------------------------------------- worker --
// Holds its share of subscribers; talks to the parent over IPC.

function worker() {
  const subs = [];
  let cfg;
  let stopping = false;

  class Sub {
    constructor(i, channel, ws) {
      Object.assign(this, { i, channel, ws, last: 0, lastId: null, got: 0, lost: 0, dup: 0 });
      this.reconnects = 0;
      this.gaps = 0;
    }

    connect() {
      const s = net.connect(cfg.port, '127.0.0.1');
      this.sock = s;
      this.buf = Buffer.alloc(0);
      this.head = false;
      s.setNoDelay(true);
      s.on('error', () => {});
      s.on('data', (d) => this.onData(d));
      s.on('close', () => {
        if (this.sock === s && !stopping && !this.dropping) {
          this.unexpected = (this.unexpected || 0) + 1;
          setTimeout(() => this.connect(), 200);
        }
      });
      s.on('connect', () => {
        if (this.ws) {
          s.write(
            `GET /ws?channel=${this.channel} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n` +
              'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
              'Sec-WebSocket-Version: 13\r\n\r\n',
          );
        } else {
          const last = this.lastId ? `Last-Event-ID: ${this.lastId}\r\n` : '';
          s.write(`GET /sse?channel=${this.channel} HTTP/1.1\r\nHost: x\r\n${last}\r\n`);
        }
      });
    }

    // Churn: drop the connection, come back after up to 500 ms with the id.
    drop() {
      if (this.ws || !this.head || this.dropping) return;
      this.dropping = true;
      this.sock.destroy();
      this.reconnects++;
      setTimeout(() => {
        this.dropping = false;
        this.connect();
      }, Math.random() * 500);
    }

    onMessage(text) {
      const m = /^seq:(\d+)$/.exec(text);
      if (!m) return;
      const seq = Number(m[1]);
      this.got++;
      // Every subscriber is connected before the first publish, so the
      // first message it sees must be 1.
      if (this.last === 0 && seq > 1) this.lost += seq - 1;
      if (this.last && seq <= this.last) this.dup++;
      else if (this.last && seq > this.last + 1) this.lost += seq - this.last - 1;
      if (seq > this.last) this.last = seq;
    }

    onData(d) {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      if (!this.head) {
        const i = this.buf.indexOf('\r\n\r\n');
        if (i < 0) return;
        const status = this.buf.subarray(0, 12).toString();
        if (!/^HTTP\/1\.1 (200|101)/.test(status)) this.badStatus = (this.badStatus || 0) + 1;
        this.head = true;
        this.buf = this.buf.subarray(i + 4);
      }
      if (this.ws) this.parseWs();
      else this.parseSse();
    }

    parseSse() {
      for (;;) {
        const i = this.buf.indexOf('\n\n');
        if (i < 0) return;
        const block = this.buf.subarray(0, i).toString();
        this.buf = this.buf.subarray(i + 2);
        let data;
        let event = 'message';
        for (const line of block.split('\n')) {
          if (line.startsWith('id: ')) this.lastId = line.slice(4);
          else if (line.startsWith('data: ')) data = line.slice(6);
          else if (line.startsWith('event: ')) event = line.slice(7);
        }
        if (event === 'herald.gap') this.gaps++;
        else if (data !== undefined) this.onMessage(data);
      }
    }

    parseWs() {
      for (;;) {
        if (this.buf.length < 2) return;
        const op = this.buf[0] & 0x0f;
        let len = this.buf[1] & 0x7f;
        let off = 2;
        if (len === 126) {
          if (this.buf.length < 4) return;
          len = this.buf.readUInt16BE(2);
          off = 4;
        } else if (len === 127) {
          if (this.buf.length < 10) return;
          len = Number(this.buf.readBigUInt64BE(2));
          off = 10;
        }
        if (this.buf.length < off + len) return;
        const payload = this.buf.subarray(off, off + len);
        this.buf = this.buf.subarray(off + len);
        if (op === 1) this.onMessage(payload.toString());
        else if (op === 9) {
          // Pong, masked with a zero key (a client must mask).
          const f = Buffer.alloc(6 + payload.length);
          f[0] = 0x8a;
          f[1] = 0x80 | payload.length;
          payload.copy(f, 6);
          this.sock.write(f);
        }
      }
    }
  }

  process.on('message', (msg) => {
    if (msg.type === 'start') {
      cfg = msg;
      for (const s of msg.subs) subs.push(new Sub(s.i, s.channel, s.ws));
      let n = 0;
      // Connect in batches so the listener's backlog is not the test.
      const step = () => {
        for (let k = 0; k < 200 && n < subs.length; k++) subs[n++].connect();
        if (n < subs.length) setImmediate(step);
      };
      step();
      const ready = setInterval(() => {
        if (subs.every((s) => s.head)) {
          clearInterval(ready);
          process.send({ type: 'ready' });
        }
      }, 50);
    } else if (msg.type === 'churn') {
      const sse = subs.filter((s) => !s.ws);
      for (let k = 0; k < msg.n && sse.length; k++) sse[Math.floor(Math.random() * sse.length)].drop();
    } else if (msg.type === 'finish') {
      // Wait until every subscriber has its channel's last message.
      const final = msg.final;
      const deadline = Date.now() + 30000;
      const check = setInterval(() => {
        const done = subs.every((s) => s.last >= final[s.channel]);
        if (!done && Date.now() < deadline) return;
        clearInterval(check);
        stopping = true;
        const r = { got: 0, lost: 0, dup: 0, gaps: 0, reconnects: 0, unexpected: 0, badStatus: 0, short: 0 };
        for (const s of subs) {
          r.got += s.got;
          r.lost += s.lost;
          r.dup += s.dup;
          r.gaps += s.gaps;
          r.reconnects += s.reconnects;
          r.unexpected += s.unexpected || 0;
          r.badStatus += s.badStatus || 0;
          // Still behind at the deadline: the rest counts as lost.
          if (s.last < final[s.channel]) r.short += final[s.channel] - s.last;
          s.sock.destroy();
        }
        process.send({ type: 'result', r }, () => process.exit(0));
      }, 100);
    }
  });
}

// ---------------------------------------------------------------- parent --

function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

async function metrics(port) {
  const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out = {};
  for (const line of body.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return out;
}

async function freePort() {
  const srv = net.createServer().listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  srv.close();
  return port;
}

async function main() {
  const o = args();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-soak-'));
  const socket = path.join(dir, 'herald.sock');
  const port = await freePort();
  // History long enough to cover a churned client's absence (at most 0.5 s)
  // at this rate, and short enough to fill within the warm-up, after which
  // memory should stay flat.
  const relay = spawn(
    o.relay,
    ['--listen', `127.0.0.1:${port}`, '--socket', socket, '--history_size', String(o.history),
      '--max_channels', '4', '--log_level', 'warn', '--workers', '1'],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
    } catch {
      /* not up yet */
    }
    if (i > 200) throw new Error('relay did not start');
    await new Promise((r) => setTimeout(r, 25));
  }

  // Subscribers: round-robin over channels; the first ws-share are WebSocket.
  const nWs = Math.round(o.subs * o['ws-share']);
  const all = [];
  for (let i = 0; i < o.subs; i++) all.push({ i, channel: `soak-${i % o.channels}`, ws: i < nWs });
  const workers = [];
  for (let p = 0; p < o.procs; p++) {
    const w = fork(new URL(import.meta.url).pathname, ['--worker'], { stdio: 'inherit' });
    w.ready = new Promise((r) => w.on('message', (m) => m.type === 'ready' && r()));
    w.result = new Promise((r) => w.on('message', (m) => m.type === 'result' && r(m.r)));
    w.send({ type: 'start', port, subs: all.filter((s) => s.i % o.procs === p) });
    workers.push(w);
  }
  await Promise.all(workers.map((w) => w.ready));
  const t0 = Date.now();
  const rss = [{ t: 0, kib: rssKiB(relay.pid) }];
  console.error(`soak: ${o.subs} subscribers (${nWs} WebSocket) on ${o.channels} channels, ` +
    `${o.rate} msg/s for ${o.seconds} s, churn ${o.churn} SSE/s; relay RSS ${rss[0].kib} KiB`);

  // Publisher: one ingest connection, every frame with an ack.
  const pub = net.connect(socket);
  await once(pub, 'connect');
  const pending = new Map();
  let acked = 0;
  let nacked = 0;
  (async () => {
    for await (const v of decodeMultiStream(pub)) {
      if (v.op !== 'ack') continue;
      pending.delete(v.ack);
      if (v.ok) acked++;
      else nacked++;
    }
  })().catch(() => {});
  const seq = {};
  for (let c = 0; c < o.channels; c++) seq[`soak-${c}`] = 0;
  let sent = 0;
  let ack = 0;
  const total = o.rate * o.seconds;
  const tick = 20; // ms: publish in small bursts at the steady rate
  const startPub = Date.now();
  let lastChurn = startPub;
  let lastRss = startPub;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((Date.now() - startPub) / 1000) * o.rate));
    const frames = [];
    while (sent < due) {
      const ch = `soak-${sent % o.channels}`;
      seq[ch]++;
      ack++;
      pending.set(ack, true);
      // Both transports: every channel is published for SSE and WS alike.
      frames.push(encode({ op: 'pub', t: 'sse', ch, data: `seq:${seq[ch]}`, ack }));
      ack++;
      pending.set(ack, true);
      frames.push(encode({ op: 'pub', t: 'ws', ch, data: `seq:${seq[ch]}`, ack }));
      sent++;
    }
    if (frames.length) pub.write(Buffer.concat(frames));
    const now = Date.now();
    if (now - lastChurn >= 1000) {
      lastChurn = now;
      const per = Math.ceil(o.churn / o.procs);
      for (const w of workers) w.send({ type: 'churn', n: per });
    }
    if (now - lastRss >= 5000) {
      lastRss = now;
      rss.push({ t: Math.round((now - t0) / 1000), kib: rssKiB(relay.pid) });
    }
    await new Promise((r) => setTimeout(r, tick));
  }
  // Every frame answered: accepted or explicitly refused.
  for (let i = 0; pending.size && i < 1000; i++) await new Promise((r) => setTimeout(r, 10));
  const final = { ...seq };
  for (const w of workers) w.send({ type: 'finish', final });
  const results = await Promise.all(workers.map((w) => w.result));
  rss.push({ t: Math.round((Date.now() - t0) / 1000), kib: rssKiB(relay.pid) });
  const m = await metrics(port);
  const sum = {};
  for (const r of results) for (const [k, v] of Object.entries(r)) sum[k] = (sum[k] || 0) + v;
  pub.end();
  relay.kill('SIGTERM');
  const [code] = await once(relay, 'exit');
  fs.rmSync(dir, { recursive: true, force: true });

  const steady = rss.filter((x) => x.t >= o.warmup);
  const report = {
    subscribers: o.subs, websocket: nWs, channels: o.channels, rate_per_s: o.rate,
    seconds: o.seconds, churn_per_s: o.churn, frames_published: 2 * total,
    frames_acked: acked, frames_nacked: nacked, frames_unanswered: pending.size,
    messages_received: sum.got, lost: sum.lost + sum.short, duplicated: sum.dup,
    gap_events: sum.gaps, sse_reconnects: sum.reconnects,
    unexpected_disconnects: sum.unexpected, bad_status: sum.badStatus,
    history_messages: m.herald_history_messages,
    rss_kib: rss, rss_steady_min_kib: Math.min(...steady.map((x) => x.kib)),
    rss_steady_max_kib: Math.max(...steady.map((x) => x.kib)),
    slow_consumer_disconnects: m.herald_slow_consumer_disconnects_total,
    resumes_exact: m['herald_resumes_total{result="exact"}'],
    resumes_gap: m['herald_resumes_total{result="gap"}'],
    relay_exit: code,
  };
  const text = JSON.stringify(report, null, 2);
  if (o.json) fs.writeFileSync(o.json, text + '\n');
  console.log(text);
  const ok = report.lost === 0 && report.duplicated === 0 && report.frames_nacked === 0 &&
    report.frames_unanswered === 0 && report.gap_events === 0 && code === 0;
  process.exit(ok ? 0 : 1);
}

if (process.argv.includes('--worker')) worker();
else main().catch((e) => {
  console.error(e);
  process.exit(2);
});
