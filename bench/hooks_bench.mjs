// Application hooks benchmark: herald.v1 clients send `send` envelopes through
// the relay to a real php-fpm pool (pm = static, 4 workers) running a trivial
// hook script that answers ok (with a reply) to every event; each client keeps
// --window sends outstanding and sends the next one when a reply comes back.
//   node bench/hooks_bench.mjs [--clients 64] [--window 16] [--seconds 10] [--warmup 2]
//                              [--batches 64,1] [--workers 4] [--concurrency 4] [--reps 1]
// For each app_batch (64: batching on; 1: one FPM request per message, what
// nchan and Pushpin do) a fresh relay measures, over --seconds after --warmup:
// replies/s, the relay's CPU per message and the FPM pool's (utime + stime
// from /proc, before and after), events per FastCGI request
// (herald_hook_events_total / herald_hook_requests_total), the round trip
// (send -> reply) percentiles, and the errors (application busy/unavailable).
// Everything but the relay and php-fpm is this one Node process.
// Env: HERALD_RELAY (default build/herald-relay), HERALD_EXT (build/herald.so), PHP_FPM.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import WebSocket from '../tests/e2e/node_modules/ws/index.js';
import { Relay, RELAY_BIN, tmpdir } from '../tests/e2e/lib/harness.mjs';
import { startFpm } from '../tests/e2e/lib/fpm.mjs';

const arg = (k, d) => {
  const i = process.argv.indexOf(`--${k}`);
  return i > 0 ? process.argv[i + 1] : d;
};
const CLIENTS = Number(arg('clients', 64));
const WINDOW = Number(arg('window', 16));
const SECONDS = Number(arg('seconds', 10));
const WARMUP = Number(arg('warmup', 2));
const BATCHES = String(arg('batches', '64,1')).split(',').map(Number);
const WORKERS = Number(arg('workers', 4));
const CONCURRENCY = Number(arg('concurrency', 4));
const REPS = Number(arg('reps', 1));
const SECRET = 'hooks-bench-secret-0123456789abcdef';
const TICK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

// The relay must have application hooks (issue 15).
if (!/--app_fastcgi\b/.test(spawnSync(RELAY_BIN, ['--help'], { encoding: 'utf8' }).stdout)) {
  console.error(`${RELAY_BIN} has no application hooks (--app_fastcgi): build a relay with them (make relay)`);
  process.exit(2);
}

const HOOK = `<?php
// The trivial hook: every event ok, with a reply (the client waits for it).
$r = [];
foreach (herald_hook_events() as $e) {
    $r[] = ['id' => $e['id'], 'ok' => true, 'reply' => true];
}
header('Content-Type: application/json');
echo json_encode(['results' => $r]);
`;

// utime + stime of a process, in seconds; of a process and its children
// (the FPM master and its workers) with tree = true.
function cpuOf(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const after = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(after[11]) + Number(after[12])) / TICK; // fields 14 and 15
}
function childrenOf(ppid) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const f = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(f.slice(f.lastIndexOf(')') + 2).split(' ')[1]) === ppid) out.push(Number(d));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}
const treeCpu = (pid) => [pid, ...childrenOf(pid)].reduce((s, p) => s + cpuOf(p), 0);

const sumOf = (m, name) => Object.entries(m).reduce((s, [k, v]) => (k === name || k.startsWith(`${name}{`) ? s + v : s), 0);

function pct(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;
}

// One herald.v1 client in a closed loop: `window` sends in flight.
async function client(url, stats) {
  const ws = new WebSocket(url, 'herald.v1');
  ws.on('error', (e) => stats.wsErrors.push(String(e)));
  await once(ws, 'open');
  const sent = new Map(); // ref -> hrtime
  let ref = 0;
  const next = () => {
    if (stats.stop) return;
    ref++;
    sent.set(ref, process.hrtime.bigint());
    ws.send(`{"type":"send","channel":"bench","data":{"n":${ref}},"ref":${ref}}`);
  };
  ws.on('message', (data) => {
    const env = JSON.parse(data);
    if (env.ref === undefined) return;
    const t0 = sent.get(env.ref);
    sent.delete(env.ref);
    if (env.type === 'reply') {
      stats.replies++;
      if (stats.measuring) stats.lat.push(Number(process.hrtime.bigint() - t0) / 1e3);
    } else {
      stats.errors[env.error] = (stats.errors[env.error] || 0) + 1;
    }
    next();
  });
  for (let i = 0; i < WINDOW; i++) next();
  return ws;
}

async function run(fpm, script, batch) {
  const relay = await new Relay({
    flags: {
      app_fastcgi: `unix:${fpm.sock}`,
      app_script: script,
      app_events: 'message',
      app_concurrency: CONCURRENCY,
      app_batch: batch,
      secret: SECRET,
      ws_max_messages_per_sec: 1000000,
      log_level: 'warn',
    },
  }).start();
  const stats = { replies: 0, errors: {}, lat: [], wsErrors: [], stop: false, measuring: false };
  const clients = [];
  for (let i = 0; i < CLIENTS; i++) clients.push(await client(relay.wsUrl('/ws'), stats));
  await new Promise((r) => setTimeout(r, WARMUP * 1000));

  const m0 = await relay.metrics();
  const r0 = stats.replies;
  const e0 = Object.values(stats.errors).reduce((a, b) => a + b, 0);
  const relayCpu0 = cpuOf(relay.proc.pid);
  const fpmCpu0 = treeCpu(fpm.pid);
  const t0 = process.hrtime.bigint();
  stats.measuring = true;
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  stats.measuring = false;
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const relayCpu = cpuOf(relay.proc.pid) - relayCpu0;
  const fpmCpu = treeCpu(fpm.pid) - fpmCpu0;
  const replies = stats.replies - r0;
  const errors = Object.values(stats.errors).reduce((a, b) => a + b, 0) - e0;
  const m1 = await relay.metrics();

  stats.stop = true;
  for (const ws of clients) ws.terminate();
  await relay.stopClean();

  const events = sumOf(m1, 'herald_hook_events_total') - sumOf(m0, 'herald_hook_events_total');
  const requests = sumOf(m1, 'herald_hook_requests_total') - sumOf(m0, 'herald_hook_requests_total');
  const failures = sumOf(m1, 'herald_hook_failures_total') - sumOf(m0, 'herald_hook_failures_total');
  const lat = stats.lat.sort((a, b) => a - b);
  return {
    batch,
    clients: CLIENTS,
    window: WINDOW,
    workers: WORKERS,
    concurrency: CONCURRENCY,
    seconds: +wall.toFixed(2),
    msgs_per_s: Math.round(replies / wall),
    relay_cpu_us_per_msg: +((relayCpu * 1e6) / replies).toFixed(2),
    relay_cpu_pct: +((relayCpu / wall) * 100).toFixed(1),
    fpm_cpu_us_per_msg: +((fpmCpu * 1e6) / replies).toFixed(1),
    events_per_request: +(events / requests).toFixed(2),
    requests,
    errors,
    failures,
    error_kinds: stats.errors,
    rtt_us: { p50: Math.round(pct(lat, 50)), p99: Math.round(pct(lat, 99)) },
  };
}

const dir = tmpdir('herald-hooks-bench-');
fs.chmodSync(dir, 0o755);
const script = path.join(dir, 'hook.php');
fs.writeFileSync(script, HOOK);
const fpm = await startFpm(dir, { workers: WORKERS, ini: { 'herald.secret': SECRET } });
fpm.pid = Number(fs.readdirSync('/proc').find((d) => {
  // startFpm keeps the child to itself: find the master by its config path.
  try {
    return /^\d+$/.test(d) && fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(path.join(dir, 'fpm.conf'));
  } catch {
    return false;
  }
}));
const results = [];
try {
  console.error(`# ${CLIENTS} clients x ${WINDOW} in flight, php-fpm static ${WORKERS}, app_concurrency ${CONCURRENCY}, ${SECONDS} s after ${WARMUP} s warm-up`);
  for (let rep = 0; rep < REPS; rep++) {
    for (const batch of BATCHES) {
      const r = await run(fpm, script, batch);
      results.push(r);
      console.log(JSON.stringify(r));
    }
  }
} finally {
  await fpm.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}

// Medians per app_batch, as docs/BENCHMARKS.md shows them.
const med = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.error('| app_batch | msg/s | relay CPU µs/msg | FPM CPU µs/msg | events/request | RTT p50 / p99 µs | errors |');
console.error('|---:|---:|---:|---:|---:|---:|---:|');
for (const b of BATCHES) {
  const rs = results.filter((r) => r.batch === b);
  const m = (k) => med(rs.map((r) => r[k]));
  console.error(
    `| ${b} | ${m('msgs_per_s')} | ${m('relay_cpu_us_per_msg')} | ${m('fpm_cpu_us_per_msg')} | ${m('events_per_request')} | ` +
      `${med(rs.map((r) => r.rtt_us.p50))} / ${med(rs.map((r) => r.rtt_us.p99))} | ${rs.reduce((s, r) => s + r.errors, 0)} |`,
  );
}
