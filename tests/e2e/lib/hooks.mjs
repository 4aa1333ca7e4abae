// Application hooks (Contract 5) end to end: a real php-fpm pool running a
// hook script from tests/e2e/hooks/, a real relay that is its FastCGI client
// (app_* options), and herald.v1 clients whose user is a cookie the hook
// reads. The scripts are copied into the test's own folder, so what they
// write (events.log, gate files) stays there. Nothing waits for time: a
// slow hook blocks on a gate file the test creates (gate()), and the test
// knows it is running from the file it writes first (started()).
import { after } from 'node:test';
import fs from 'node:fs';
import path from 'node:path';
import { Relay, Publisher, tmpdir, waitFor, ROOT, DEADLINE_MS } from './harness.mjs';
import { startFpm } from './fpm.mjs';
import { heraldClient } from './herald.mjs';
import { SECRET } from './token.mjs';

export const HOOK_SCRIPTS = path.join(ROOT, 'tests/e2e/hooks');

// Start php-fpm (fpm: {workers, pm, maxRequests}) and a relay whose hooks
// run `script` in it; flags are the relay's, on top of the hook options.
export async function startHooks({ script = 'app.php', flags = {}, fpm = {} } = {}) {
  const dir = tmpdir('herald-hooks-');
  for (const f of fs.readdirSync(HOOK_SCRIPTS)) {
    if (f.endsWith('.php')) fs.copyFileSync(path.join(HOOK_SCRIPTS, f), path.join(dir, f));
  }
  const relay = new Relay({
    flags: {
      secret: SECRET,
      app_fastcgi: `unix:${path.join(dir, 'fpm.sock')}`,
      app_script: path.join(dir, script),
      // As OPERATIONS 10 sizes it: no more requests in flight than workers
      // (a kept connection pins one; a fourth would wait in FPM's backlog).
      app_concurrency: fpm.workers ?? 2,
      ...flags,
    },
  });
  const fpmOpts = {
    workers: fpm.workers ?? 2,
    pm: fpm.pm ?? 'static',
    maxRequests: fpm.maxRequests ?? 0,
    ini: {
      'herald.socket': relay.socket,
      'herald.secret': SECRET,
      // An uncaught exception is a 500 with an empty body, as in production.
      display_errors: 0,
      ...(fpm.ini || {}),
    },
  };
  const env = { dir, relay, pool: null, pub: null, clients: [] };
  // A test that fails half-way still ends its php-fpm (by pid), or the
  // file would wait on it forever.
  after(async () => {
    if (env.pool) await env.pool.stop('SIGTERM');
  });
  env.pool = await startFpm(dir, fpmOpts);
  await relay.start();
  env.pub = await new Publisher(relay.socket).connect();

  // php-fpm stopped by its pid (SIGTERM: the workers end at once, a held
  // FastCGI connection breaks), and started again on the same socket.
  env.stopFpm = async (signal = 'SIGTERM') => {
    const p = env.pool;
    env.pool = null;
    await p.stop(signal);
  };
  env.startFpm = async () => {
    env.pool = await startFpm(dir, fpmOpts);
  };
  env.fpmLog = () => (env.pool ? env.pool.log() : '');

  // A herald.v1 client; user names the cookie the hook reads at connect.
  env.client = async (user, { path: p = '/ws', headers = {} } = {}) => {
    const c = await heraldClient(relay.wsUrl(p), {
      headers: { ...(user ? { cookie: `user=${user}` } : {}), ...headers },
    });
    env.clients.push(c);
    return c;
  };

  // Let the hook's block behaviour go on past gate `name`; started(name)
  // resolves once a hook is blocked on it.
  env.gate = (name) => fs.writeFileSync(path.join(dir, `${name}.go`), '');
  env.started = (name) => waitFor(() => fs.existsSync(path.join(dir, `${name}.started`)), `hook blocked on ${name}`);

  // Every event the hook saw, in the order its requests appended them
  // (one JSON line each: the event plus the worker's pid and batch size).
  env.events = () => {
    const f = path.join(dir, 'events.log');
    if (!fs.existsSync(f)) return [];
    return fs
      .readFileSync(f, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  };
  env.waitEvent = (pred, what = 'a hook event') => waitFor(() => env.events().find(pred), what);

  env.metrics = () => relay.metrics();

  // What to print when a wait timed out: the hook and presence metrics,
  // the relay's log and php-fpm's (a failure explains itself in CI).
  env.diagnose = async () => {
    let m = {};
    try {
      m = await relay.metrics();
    } catch (e) {
      m = { error: String(e) };
    }
    const mine = Object.entries(m).filter(([k]) => /hook|presence|connections/.test(k));
    return [
      'metrics: ' + JSON.stringify(Object.fromEntries(mine)),
      'relay log (tail): ' + relay.log().slice(-4000),
      'php-fpm log (tail): ' + env.fpmLog().slice(-2000),
      'hook events (tail): ' + JSON.stringify(env.events().slice(-20)),
    ].join('\n');
  };

  env.stop = async () => {
    for (const c of env.clients) c.ws.terminate();
    await env.pub.close();
    if (env.pool) await env.stopFpm('SIGQUIT');
    await relay.stopClean();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return env;
}

// Send {"type":"send"} to the application and resolve with its answer to
// this ref (a reply or an error envelope), taking every message up to it.
let nextRef = 1;
export async function ask(c, data, { channel } = {}) {
  const ref = nextRef++;
  c.send({ type: 'send', ...(channel ? { channel } : {}), data, ref });
  const got = await c.until(
    (j) => j && j.ref === ref && (j.type === 'reply' || j.type === 'error'),
    `the answer to send ref ${ref}`,
  );
  return got.at(-1).json;
}

// Send without waiting: the ref to look for later.
export function sendRef(c, data, { channel } = {}) {
  const ref = nextRef++;
  c.send({ type: 'send', ...(channel ? { channel } : {}), data, ref });
  return ref;
}

// Wait for the answer to ref among everything c received (not only what
// until() has not consumed yet).
export function answer(c, ref) {
  return waitFor(() => c.msgs.find((m) => m.json && m.json.ref === ref && m.json.type !== 'subscribed')?.json, `answer to ref ${ref}`);
}

// The sum of one metric's series whose labels match re (all of them by default).
export function sum(m, name, re = /.*/) {
  let n = 0;
  for (const [k, v] of Object.entries(m)) {
    if ((k === name || k.startsWith(`${name}{`)) && re.test(k)) n += v;
  }
  return n;
}

// A GET's status only; the body is dropped (a stream that should have been
// refused would never end).
export async function status(port, p, headers = {}) {
  const res = await fetch(`http://127.0.0.1:${port}${p}`, { headers });
  await res.body?.cancel();
  return res.status;
}

// An EventSource's open, or a failure past the deadline (a response the
// client cannot read never opens it, nor closes it).
export function opened(es, what = 'the SSE stream to open') {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), DEADLINE_MS);
  });
  return Promise.race([es.opened, deadline]).finally(() => clearTimeout(timer));
}
