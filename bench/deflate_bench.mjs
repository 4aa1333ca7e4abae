// permessage-deflate benchmark: bytes on the wire and relay CPU for a
// dashboard's JSON stream (a metrics object of about 1.5 KB per message,
// values changing from message to message), with and without compression.
//   node bench/deflate_bench.mjs [--subs 200] [--msgs 2000] [--level 6]
// One relay, --subs raw WebSocket subscribers on one channel (raw TCP
// readers that only walk frame headers, so the Node process does no
// inflating), --msgs messages published on the ingest socket, then a
// sentinel with ack; the run ends when every subscriber has every frame.
// Reported per mode: bytes the subscribers read (frames, headers
// included), relay CPU (utime + stime from /proc, 10 ms ticks) and
// relay CPU per delivered message. Modes: no offer (plain), and an offer
// of permessage-deflate (the relay compresses each message once).
import net from 'node:net';
import fs from 'node:fs';
import { Relay, Publisher } from '../tests/e2e/lib/harness.mjs';

const arg = (k, d) => {
  const i = process.argv.indexOf(`--${k}`);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const SUBS = arg('subs', 200);
const MSGS = arg('msgs', 2000);
const LEVEL = arg('level', 6);

// Deterministic "random" metrics.
let seed = 42;
const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
function metrics(n) {
  const hosts = [];
  for (let i = 0; i < 10; i++)
    hosts.push({
      host: `web-${String(i + 1).padStart(2, '0')}.eu-west-1.example.com`,
      cpu: +(rnd() * 100).toFixed(1),
      mem_mb: Math.round(2048 + rnd() * 6000),
      rps: Math.round(rnd() * 1500),
      p50_ms: +(rnd() * 20).toFixed(2),
      p99_ms: +(20 + rnd() * 200).toFixed(2),
      errors: Math.round(rnd() * 5),
    });
  return JSON.stringify({ type: 'dashboard.metrics', seq: n, at: new Date(1764720000000 + n * 1000).toISOString(), cluster: 'prod-eu', hosts });
}

function cpuTicks(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
}

// A raw subscriber: counts frames and bytes after the 101.
function subscriber(port, offer) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const st = { bytes: 0, frames: 0, rsv1: 0, sock: s };
    let head = Buffer.alloc(0);
    let upgraded = false;
    let skip = 0; // payload bytes still to skip
    let hdr = Buffer.alloc(0);
    s.on('error', reject);
    s.on('connect', () =>
      s.write(
        'GET /ws?channel=dash HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
          (offer ? 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n' : '') +
          '\r\n',
      ),
    );
    const walk = (d) => {
      st.bytes += d.length;
      let off = 0;
      while (off < d.length) {
        if (skip > 0) {
          const k = Math.min(skip, d.length - off);
          skip -= k;
          off += k;
          continue;
        }
        hdr = Buffer.concat([hdr, d.subarray(off, off + 10)]);
        const used0 = hdr.length - Math.min(10, d.length - off);
        if (hdr.length < 2) return void (off = d.length);
        let n = hdr[1] & 0x7f;
        let h = 2;
        if (n === 126) h = 4;
        else if (n === 127) h = 10;
        if (hdr.length < h) {
          off = d.length;
          return;
        }
        if (h === 4) n = hdr.readUInt16BE(2);
        else if (h === 10) n = Number(hdr.readBigUInt64BE(2));
        st.frames++;
        if (hdr[0] & 0x40) st.rsv1++;
        off += h - used0;
        hdr = Buffer.alloc(0);
        skip = n;
      }
    };
    s.on('data', (d) => {
      if (upgraded) return walk(d);
      head = Buffer.concat([head, d]);
      const i = head.indexOf('\r\n\r\n');
      if (i < 0) return;
      upgraded = true;
      st.answer = /sec-websocket-extensions: ([^\r]*)/i.exec(head.subarray(0, i).toString())?.[1] ?? '';
      walk(head.subarray(i + 4));
      resolve(st);
    });
  });
}

async function run(offer) {
  const relay = new Relay({ flags: { ws_deflate_level: LEVEL, max_connections_per_ip: 0 } });
  await relay.start();
  const pub = await new Publisher(relay.socket).connect();
  const subs = [];
  for (let i = 0; i < SUBS; i++) subs.push(await subscriber(relay.port, offer));
  seed = 42;
  const bodies = [];
  for (let i = 0; i < MSGS; i++) bodies.push(metrics(i));
  const payload = bodies.reduce((a, b) => a + b.length, 0);
  for (const s of subs) s.bytes = 0;
  const pid = relay.proc.pid;
  const c0 = cpuTicks(pid);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < MSGS; i++) {
    await pub.pub('ws', 'dash', bodies[i], { json: true });
    if (i % 100 === 99) await pub.pubAck('ws', 'dash', '{"sync":1}', { json: true }); // closed loop per 100
  }
  const syncs = Math.floor(MSGS / 100);
  await new Promise((resolve) => {
    const check = () => (subs.every((s) => s.frames >= MSGS + syncs) ? resolve() : setTimeout(check, 5));
    check();
  });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = (cpuTicks(pid) - c0) / 100;
  const bytes = subs.reduce((a, s) => a + s.bytes, 0);
  const out = {
    mode: offer ? `deflate level ${LEVEL}` : 'plain',
    answer: subs[0].answer || '(none)',
    subs: SUBS,
    msgs: MSGS,
    avg_msg_bytes: Math.round(payload / MSGS),
    compressed_frames: subs[0].rsv1,
    wire_bytes_per_sub: Math.round(bytes / SUBS),
    wire_bytes_per_msg: +(bytes / SUBS / (MSGS + syncs)).toFixed(1),
    relay_cpu_s: cpu,
    relay_cpu_us_per_delivery: +((cpu * 1e6) / (SUBS * (MSGS + syncs))).toFixed(2),
    wall_s: +secs.toFixed(2),
  };
  const m = await relay.metrics();
  out.deflate_out_raw = m['herald_ws_deflate_bytes_total{dir="out",kind="raw"}'];
  out.deflate_out_compressed = m['herald_ws_deflate_bytes_total{dir="out",kind="compressed"}'];
  for (const s of subs) s.sock.destroy();
  await pub.close();
  await relay.stopClean();
  return out;
}

const results = [];
for (const offer of [false, true]) results.push(await run(offer));
console.table(results);
const [p, d] = results;
console.log(
  `wire bytes: ${d.wire_bytes_per_msg} vs ${p.wire_bytes_per_msg} per message and subscriber ` +
    `(${(p.wire_bytes_per_msg / d.wire_bytes_per_msg).toFixed(1)}x fewer with deflate); ` +
    `relay CPU: ${d.relay_cpu_s} s vs ${p.relay_cpu_s} s for ${SUBS * (MSGS + Math.floor(MSGS / 100))} deliveries`,
);
