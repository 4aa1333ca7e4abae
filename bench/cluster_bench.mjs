// Cluster benchmark: three relays joined through one redis-server on
// loopback, SSE subscribers spread over the three, one publisher per relay.
//   node bench/cluster_bench.mjs [--subs 300] [--rate 1000] [--lat-msgs 3000] [--burst 20000]
// Latency: messages published at a fixed rate, round-robin over the three
// relays' ingest sockets; each carries its send time (process.hrtime, the
// same clock the subscribers read), so publish -> script in Redis -> pub/sub
// -> relay -> SSE bytes read by the subscriber is measured end to end.
// Throughput: a burst published as fast as the publishers write, timed from
// the first write until every subscriber has every message.
// The same runs against one relay without --redis give the baseline.
// Everything (subscribers, publishers) is this one Node process.
import net from 'node:net';
import { Relay, Publisher } from '../tests/e2e/lib/harness.mjs';
import { Redis } from '../tests/e2e/lib/redis.mjs';

const arg = (k, d) => {
  const i = process.argv.indexOf(`--${k}`);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const SUBS = arg('subs', 300);
const RATE = arg('rate', 1000);
const LAT_MSGS = arg('lat-msgs', 3000);
const BURST = arg('burst', 20000);

// A lean SSE reader: counts events and records latency from "data: <ns>".
function subscriber(port, onData) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let tail = '';
    let headDone = false;
    s.setEncoding('latin1');
    s.on('error', reject);
    s.on('connect', () => s.write('GET /sse?channel=bench HTTP/1.1\r\nHost: x\r\n\r\n'));
    s.on('data', (d) => {
      tail += d;
      if (!headDone) {
        const i = tail.indexOf('\r\n\r\n');
        if (i < 0) return;
        headDone = true;
        tail = tail.slice(i + 4);
        resolve(s);
      }
      let j;
      while ((j = tail.indexOf('\n\n')) >= 0) {
        const block = tail.slice(0, j);
        tail = tail.slice(j + 2);
        const k = block.indexOf('data: ');
        if (k >= 0) onData(block.slice(k + 6));
      }
    });
  });
}

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function run(label, relays, pubs, waitSubscribed) {
  let received = 0;
  let lat = [];
  let target = 0;
  let done = null;
  const subs = [];
  const onData = (d) => {
    const sent = BigInt(d.split(':')[1]);
    lat.push(Number(process.hrtime.bigint() - sent) / 1e3);
    if (++received === target && done) done();
  };
  for (let i = 0; i < SUBS; i++)
    subs.push(await subscriber(relays[i % relays.length].port, onData));
  await waitSubscribed();
  const all = (n) => new Promise((r) => ((target = n), (done = r), received >= n && r()));

  // Latency at a fixed rate.
  received = 0;
  lat = [];
  const p = all(LAT_MSGS * SUBS);
  // Paced by a 10 ms timer (RATE/100 messages a tick): the loop stays free
  // to read the subscribers between ticks.
  const perTick = Math.max(1, Math.round(RATE / 100));
  for (let i = 0; i < LAT_MSGS;) {
    await new Promise((r) => setTimeout(r, 10));
    for (let k = 0; k < perTick && i < LAT_MSGS; k++, i++)
      pubs[i % pubs.length].pub('sse', 'bench', `${i}:${process.hrtime.bigint()}`);
  }
  await p;
  lat.sort((a, b) => a - b);
  const latency = { p50: pct(lat, 50), p99: pct(lat, 99), max: lat.at(-1) };

  // Throughput: a burst.
  received = 0;
  lat = [];
  const q = all(BURST * SUBS);
  const b0 = process.hrtime.bigint();
  await Promise.all(
    pubs.map(async (pub, k) => {
      for (let i = k; i < BURST; i += pubs.length)
        await pub.pub('sse', 'bench', `${i}:${process.hrtime.bigint()}`);
    }),
  );
  await q;
  const secs = Number(process.hrtime.bigint() - b0) / 1e9;
  subs.forEach((s) => s.destroy());
  console.log(
    `${label}: ${relays.length} relay(s), ${SUBS} SSE subscribers, ${pubs.length} publisher(s)\n` +
      `  latency at ${RATE} msg/s (${LAT_MSGS} msgs): p50 ${latency.p50.toFixed(0)} us, p99 ${latency.p99.toFixed(0)} us, max ${latency.max.toFixed(0)} us\n` +
      `  burst of ${BURST}: ${(BURST / secs).toFixed(0)} msg/s published and delivered, ${((BURST * SUBS) / secs).toFixed(0)} deliveries/s`,
  );
}

const redis = await new Redis().start();
const relays = [];
for (let i = 0; i < 3; i++)
  relays.push(
    await new Relay({
      flags: { redis: redis.url, log_level: 'warn', max_queued_bytes: 1 << 26 },
    }).start(),
  );
const pubs = [];
for (const r of relays) pubs.push(await new Publisher(r.socket).connect());
await run('cluster (Redis)', relays, pubs, () => redis.subscribers('bench', 3));
for (const p of pubs) await p.close();
for (const r of relays) await r.stop();
await redis.kill();

const single = await new Relay({ flags: { log_level: 'warn', max_queued_bytes: 1 << 26 } }).start();
const spub = [];
for (let i = 0; i < 3; i++) spub.push(await new Publisher(single.socket).connect());
await run('single relay (no Redis)', [single], spub, async () => {});
for (const p of spub) await p.close();
await single.stop();
process.exit(0);
