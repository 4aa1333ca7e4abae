// The relay's FastCGI pool (relay/src/hooks/fcgi_pool.c) against a real
// php-fpm, through build/tests/fcgi_probe (tests/e2e/helpers/fcgi_probe.c):
// the pool on a loop of its own submits N requests with C in flight and
// prints each answer and then its counters. Covered: every request answered
// with its own body (pm = static: the kept connections are reused; pm =
// ondemand with pm.max_requests = 1: each worker ends after one request and
// the pool moves on to new connections, retrying a kept one found closed);
// FPM not started (DOWN after the timeout); FPM started after the first
// attempt (the retries reach it); a script that outlives the timeout
// (TIMEOUT, and the connection is closed); a script that exits half-way (a
// valid answer) or whose worker is killed half-way (BROKEN); the script's
// stderr. The probe is built with ASan and checks at exit that the pool left
// no handle and no buffer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { ROOT, tmpdir, DEADLINE_MS } from './lib/harness.mjs';
import { startFpm } from './lib/fpm.mjs';
import { killQuiet } from './lib/kill.mjs';

const PROBE = path.join(ROOT, 'build/tests/fcgi_probe');

const SCRIPT = `<?php
$mode = $_GET['mode'] ?? 'echo';
if ($mode === 'wait') {          // until the test creates the file
    while (!file_exists($_GET['f'])) usleep(10000);
    echo 'late';
} elseif ($mode === 'exit') {
    echo 'partial';
    flush();
    exit(3);
} elseif ($mode === 'kill') {    // the worker dies in the middle of the answer
    echo 'partial';
    flush();
    exec('kill -9 ' . getmypid());
    sleep(60);
} elseif ($mode === 'stderr') {
    error_log('hello stderr');
    header('Status: 201 Created');
    echo 'with stderr';
} else {
    header('Content-Type: application/json');
    echo json_encode(['pid' => getmypid(), 'body' => json_decode(file_get_contents('php://input'))]);
}
`;

function setup() {
  const dir = tmpdir('herald-fcgi-');
  const script = path.join(dir, 'hook.php');
  fs.writeFileSync(script, SCRIPT);
  return { dir, script };
}

// Run the probe; onLine(obj) sees each answer as it comes. Resolves with
// the answers, the summary and the exit code; a probe that hangs is killed
// at the deadline and fails the test.
function probe(args, onLine = () => {}) {
  const proc = spawn(PROBE, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  const answers = [];
  let summary = null;
  readline.createInterface({ input: proc.stdout }).on('line', (line) => {
    const o = JSON.parse(line);
    if (o.summary) summary = o;
    else if (!o.started) answers.push(o);
    onLine(o);
  });
  let exited = false;
  const timer = setTimeout(() => {
    if (!exited) killQuiet(proc.pid, 'SIGKILL');
  }, DEADLINE_MS);
  return new Promise((resolve) =>
    proc.on('close', (code, signal) => {
      exited = true;
      clearTimeout(timer);
      resolve({ answers, summary, code, signal, stderr });
    }),
  );
}

function assertClean(r) {
  assert.equal(r.code, 0, `probe exited ${r.code} ${r.signal}: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /AddressSanitizer|LeakSanitizer|runtime error:/);
}

function assertEchoes(r, n) {
  assert.equal(r.answers.length, n);
  const seen = new Set();
  for (const a of r.answers) {
    assert.equal(a.status, 'ok', JSON.stringify(a));
    assert.equal(a.http, 200);
    const body = JSON.parse(a.body);
    assert.deepEqual(body.body, { i: a.i }, 'each request gets its own answer');
    seen.add(a.i);
  }
  assert.equal(seen.size, n);
  return r.answers.map((a) => JSON.parse(a.body).pid);
}

test('pm = static: every request answered, kept connections reused', async () => {
  const { dir, script } = setup();
  const fpm = await startFpm(dir, { workers: 2 });
  try {
    const r = await probe([`unix:${fpm.sock}`, script, '-n', '40', '-c', '2', '-i', '60000']);
    assertClean(r);
    assertEchoes(r, 40);
    // Two requests in flight at most: two connections, each reused.
    assert.ok(r.summary.connects <= 2, JSON.stringify(r.summary));
    assert.equal(r.summary.retries, 0);
    assert.equal(r.summary.ok, 40);
    assert.ok(r.summary.connections >= 1 && r.summary.connections <= 2);
  } finally {
    await fpm.stop();
  }
});

test('pm = ondemand, pm.max_requests = 1: each worker serves one request, the pool follows', async () => {
  const { dir, script } = setup();
  const fpm = await startFpm(dir, { workers: 2, pm: 'ondemand', maxRequests: 1 });
  try {
    const r = await probe([`unix:${fpm.sock}`, script, '-n', '30', '-c', '2', '-i', '60000']);
    assertClean(r);
    const pids = assertEchoes(r, 30);
    assert.equal(new Set(pids).size, 30, 'one worker per request');
    // Every answer needed a new connection; a kept one found closed was
    // retried, never failed.
    assert.equal(r.summary.connects, 30);
    assert.equal(r.summary.ok, 30);
  } finally {
    await fpm.stop();
  }
});

test('FPM not started: DOWN after the timeout, with retries', async () => {
  const { dir, script } = setup();
  const r = await probe([`unix:${path.join(dir, 'none.sock')}`, script, '-n', '3', '-c', '2', '-t', '400']);
  assertClean(r);
  assert.equal(r.answers.length, 3);
  for (const a of r.answers) {
    assert.equal(a.status, 'down');
    assert.match(a.why, /could not connect within 400 ms: no such file or directory/);
  }
  assert.ok(r.summary.retries > 0);
  assert.equal(r.summary.connects, 0);
  assert.equal(r.summary.down, 3);

  // TCP: a port nobody listens on (the FPM socket's folder has no server).
  const t = await probe(['127.0.0.1:1', script, '-t', '300']);
  assertClean(t);
  assert.equal(t.answers[0].status, 'down');
  assert.match(t.answers[0].why, /connection refused/);
});

test('FPM started after the first attempt: the retries reach it', async () => {
  const { dir, script } = setup();
  let fpm = null;
  let starting = null;
  // The probe has tried (the socket does not exist yet) when it prints started.
  const r = await probe([`unix:${path.join(dir, 'fpm.sock')}`, script, '-n', '4', '-c', '2', '-t', '25000'], (o) => {
    if (o.started) starting = startFpm(dir, { workers: 2 }).then((f) => (fpm = f));
  });
  await starting;
  try {
    assertClean(r);
    assertEchoes(r, 4);
    assert.ok(r.summary.retries > 0, JSON.stringify(r.summary));
  } finally {
    if (fpm) await fpm.stop();
  }
});

test('a script that outlives the timeout: TIMEOUT, its connection closed', async () => {
  const { dir, script } = setup();
  const flag = path.join(dir, 'release');
  const fpm = await startFpm(dir, { workers: 1 });
  try {
    const r = await probe(
      [`unix:${fpm.sock}`, script, '-t', '300', '-p', `QUERY_STRING=mode=wait&f=${flag}`],
      (o) => {
        if (o.status) fs.writeFileSync(flag, ''); // releases the worker
      },
    );
    assertClean(r);
    assert.equal(r.answers.length, 1);
    assert.equal(r.answers[0].status, 'timeout');
    assert.match(r.answers[0].why, /no answer within 300 ms/);
    assert.equal(r.summary.connections, 0, 'the timed-out connection is closed');
    assert.equal(r.summary.timeout, 1);
    // The worker is free again: the next request is answered.
    const n = await probe([`unix:${fpm.sock}`, script]);
    assertEchoes(n, 1);
  } finally {
    await fpm.stop();
  }
});

test('a script that exits half-way answers; a worker killed half-way is BROKEN; never a hang', async () => {
  const { dir, script } = setup();
  const fpm = await startFpm(dir, { workers: 1 });
  try {
    const e = await probe([`unix:${fpm.sock}`, script, '-p', 'QUERY_STRING=mode=exit']);
    assertClean(e);
    assert.equal(e.answers[0].status, 'ok');
    assert.equal(e.answers[0].body, 'partial');

    const k = await probe([`unix:${fpm.sock}`, script, '-n', '2', '-p', 'QUERY_STRING=mode=kill']);
    assertClean(k);
    assert.equal(k.answers.length, 2);
    for (const a of k.answers) {
      assert.equal(a.status, 'broken', JSON.stringify(a));
      assert.match(a.why, /connection lost/);
    }

    const s = await probe([`unix:${fpm.sock}`, script, '-p', 'QUERY_STRING=mode=stderr']);
    assertClean(s);
    assert.equal(s.answers[0].status, 'ok');
    assert.equal(s.answers[0].http, 201);
    assert.equal(s.answers[0].body, 'with stderr');
    assert.match(s.answers[0].stderr, /hello stderr/);
  } finally {
    await fpm.stop();
  }
});
