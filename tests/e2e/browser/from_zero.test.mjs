// docs/OPERATIONS.md, "From zero to a deployed app", run as written: its
// ```sh blocks, in order, in one bash (as a reader pastes them into one
// shell), with PREFIX a scratch folder, free ports, nginx on 127.0.0.1 and
// the relay as www-data (no user is created). What needs the network or
// would change the machine is a stand-in first in PATH: apt-get checks that
// each package it is asked for is installed here; useradd, systemctl and the
// like fail if called at all. The services are waited for by their own
// signals (the relay's start line, PHP-FPM's socket, nginx's pid file,
// supervisord's RUNNING), never a sleep. Then Chromium signs in, step 8's
// command publishes, the page shows the message; anonymous requests for the
// channel are refused with nothing leaked; supervisord is stopped by its pid,
// and nothing outside PREFIX has changed. A port another process took in
// between makes the whole walk start again on other ports.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  ROOT, IS_ROOT, CHROMIUM_ARGS, openTmpdir, freePort, waitFor, canConnect, relayStarts, launchBrowser,
  newPage,
} from './lib/stack.mjs';
import { walkSteps, installTable } from './lib/docs.mjs';

const SITE = 'app.example.com';
const APP_USER = 'alice';
const TAKEN = /address already in use/i;
const PORT_TRIES = 5;

// Stand-ins for the commands that need the network or change the machine.
function shims(dir, logFile) {
  fs.mkdirSync(dir, { recursive: true });
  const write = (name, body) => fs.writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  write(
    'apt-get',
    `echo "apt-get $*" >>'${logFile}'
# No network in a test: "install" checks that each package is installed here.
install=0
for a in "$@"; do
    case "$a" in
    install) install=1 ;;
    -*) ;;
    *) if [ $install = 1 ] && ! dpkg-query -W -f='\${Status}' "$a" 2>/dev/null | grep -q 'ok installed'; then
           echo "apt-get (test stand-in): $a is not installed on this machine" >&2
           exit 100
       fi ;;
    esac
done`,
  );
  for (const name of ['useradd', 'usermod', 'groupadd', 'systemctl', 'service', 'phpenmod', 'certbot']) {
    write(name, `echo "${name} $* (test stand-in: never with a scratch PREFIX)" >&2\nexit 1`);
  }
}

// One bash for the whole walk; block i runs as a sourced file (its output in
// the log between markers) and reports on fd 3 when it is done. set -e: a
// failing command ends the shell, and the test, with the log.
class Shell {
  constructor(dir, env) {
    this.dir = dir;
    this.logFile = path.join(dir, 'walk.log');
    const out = fs.openSync(this.logFile, 'a');
    this.proc = spawn('bash', ['--norc', '--noprofile'], { stdio: ['pipe', out, out, 'pipe'], env, cwd: dir });
    fs.closeSync(out);
    this.done = new Set();
    this.waiters = [];
    let buf = '';
    this.proc.stdio[3].on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        this.done.add(Number(buf.slice(0, i)));
        buf = buf.slice(i + 1);
        for (const w of this.waiters.slice()) w();
      }
    });
    this.exited = null;
    this.proc.on('exit', (code, signal) => {
      this.exited = { code, signal };
      for (const w of this.waiters.slice()) w();
    });
    this.proc.stdin.write('set -euo pipefail\numask 022\n');
    this.n = 0;
  }

  log() {
    return fs.readFileSync(this.logFile, 'utf8');
  }

  // What block i printed.
  output(i) {
    const text = this.log();
    const from = text.indexOf(`@@block ${i}\n`);
    const to = text.indexOf(`@@end ${i}\n`);
    return text.slice(from + `@@block ${i}\n`.length, to);
  }

  run(code) {
    const i = this.n++;
    const file = path.join(this.dir, `block-${i}.sh`);
    fs.writeFileSync(file, code);
    this.proc.stdin.write(`echo "@@block ${i}"; . '${file}' </dev/null 3>&-; echo "@@end ${i}"; echo ${i} >&3\n`);
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.done.has(i)) {
          this.waiters = this.waiters.filter((w) => w !== check);
          resolve(i);
        } else if (this.exited) {
          reject(new Error(`the walk stopped in this block (${JSON.stringify(this.exited)}):\n${code}\n--- output\n${this.log()}`));
        }
      };
      this.waiters.push(check);
      check();
    });
  }

  close() {
    if (!this.exited) this.proc.stdin.end();
  }
}

// A pid from a pid file, or 0.
function pidIn(file) {
  try {
    return Number(fs.readFileSync(file, 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

// Alive and not a zombie (supervisord is not our child: whoever adopts it reaps it).
function alive(pid) {
  try {
    return pid > 0 && !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function readOr(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

// What the walk must not touch on this machine: the folders it writes to under PREFIX.
const HOST_DIRS = [
  '/etc/nginx/sites-enabled', '/etc/nginx/sites-available', '/etc/nginx/snippets', '/etc/php/8.2/mods-available',
  '/etc/php/8.2/fpm/conf.d', '/etc/php/8.2/cli/conf.d', '/etc/php/8.2/fpm/pool.d', '/etc/supervisor/conf.d',
  '/etc/herald', '/etc/tmpfiles.d', '/run/herald', '/var/www', '/var/log/herald', '/usr/local/bin', '/run/php',
];
function hostSnapshot() {
  return HOST_DIRS.map((d) => {
    try {
      const names = fs.readdirSync(d).sort();
      return `${d}: ${names.map((n) => `${n}@${fs.lstatSync(path.join(d, n)).mtimeMs}`).join(' ')}`;
    } catch {
      return `${d}: (none)`;
    }
  }).join('\n');
}

class Walk {
  constructor(steps) {
    this.steps = steps;
  }

  async start() {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.startOnce();
      } catch (e) {
        const taken = TAKEN.test(this.serviceLogs());
        await this.stop();
        if (!taken || attempt >= PORT_TRIES) throw e;
      }
    }
  }

  async startOnce() {
    this.dir = openTmpdir('herald-fromzero-');
    this.prefix = path.join(this.dir, 'root');
    fs.mkdirSync(this.prefix, { mode: 0o755 });
    this.ports = { http: await freePort(), https: await freePort(), relay: await freePort() };
    this.password = 'pw-' + Math.random().toString(36).slice(2);
    const shimDir = path.join(this.dir, 'shims');
    this.shimLog = path.join(this.dir, 'shims.log');
    shims(shimDir, this.shimLog);
    const env = { ...process.env };
    // Only what the test sets: nothing of the machine's environment of the same names.
    for (const k of ['SRC', 'SITE', 'LISTEN', 'CERT', 'KEY', 'APP_USER', 'HERALD_GROUP', 'MAKEFLAGS', 'MFLAGS', 'MAKELEVEL']) {
      delete env[k];
    }
    Object.assign(env, {
      PATH: `${shimDir}:${process.env.PATH}`,
      PREFIX: this.prefix,
      SRC: ROOT,
      HTTP_PORT: String(this.ports.http),
      HTTPS_PORT: String(this.ports.https),
      RELAY_PORT: String(this.ports.relay),
      LISTEN: '127.0.0.1',
      HERALD_USER: 'www-data',
      APP_PASSWORD: this.password,
    });
    this.shell = new Shell(this.dir, env);
    this.runs = 0;
    await this.steps0to7();
    return this;
  }

  // Steps 0 to 6, the services, then step 7's checks (this.out[n]: what step n printed).
  async steps0to7() {
    this.out = {};
    this.runs++;
    for (const step of this.steps) {
      if (step.n === 7) await this.waitServices();
      if (step.n === 8) break;
      for (const b of step.blocks) this.out[step.n] = (this.out[step.n] || '') + this.shell.output(await this.shell.run(b));
    }
  }

  at(p) {
    return path.join(this.prefix, p);
  }

  ctl(...args) {
    const r = spawnSync('supervisorctl', ['-c', this.at('etc/supervisor/supervisord.conf'), ...args], { encoding: 'utf8' });
    return (r.stdout || '') + (r.stderr || '');
  }

  serviceLogs() {
    if (!this.prefix) return '';
    const logs = ['var/log/herald/relay.log', 'var/log/nginx/error.log', 'var/log/php8.2-fpm.log', 'var/log/supervisor/supervisord.log'];
    return logs.map((l) => `--- ${l}\n${readOr(this.at(l))}`).join('\n') + `\n--- walk\n${this.shell ? this.shell.log() : ''}`;
  }

  // Each service by its own signal (after a run of the walk on a running
  // stack: a new start of each); a port taken meanwhile fails at once.
  async waitServices() {
    const old = this.pids || {};
    const what = async () => {
      const logs = this.serviceLogs();
      if (TAKEN.test(logs)) throw new Error(`a port was taken:\n${logs}`);
      if (/FATAL|BACKOFF/.test(this.ctl('status'))) throw new Error(`supervisord gave up:\n${this.ctl('status')}\n${logs}`);
      const nginx = pidIn(this.at('run/nginx.pid'));
      const fpm = pidIn(this.at('run/php/php8.2-fpm.pid'));
      return (
        alive(pidIn(this.at('var/run/supervisord.pid'))) &&
        relayStarts(readOr(this.at('var/log/herald/relay.log')), this.ports.relay) >= this.runs &&
        fpm !== old.fpm && alive(fpm) &&
        (await canConnect({ path: this.at('run/php/php8.2-fpm-app.sock') })) &&
        nginx !== old.nginx && alive(nginx) &&
        (this.ctl('status').match(/ RUNNING /g) || []).length === 3 &&
        (this.pids = { nginx, fpm })
      );
    };
    try {
      await waitFor(what, 'the relay, PHP-FPM and nginx under supervisord');
    } catch (e) {
      throw new Error(`${e.message}\n${this.serviceLogs()}`);
    }
  }

  url(p) {
    return `https://${SITE}:${this.ports.https}${p}`;
  }

  async stop() {
    if (!this.prefix) return;
    const pids = [
      pidIn(this.at('var/run/supervisord.pid')),
      pidIn(this.at('run/nginx.pid')),
      pidIn(this.at('run/php/php8.2-fpm.pid')),
    ];
    const relay = Number(this.ctl('pid', 'herald-relay').trim());
    if (relay > 0) pids.push(relay);
    if (alive(pids[0])) process.kill(pids[0], 'SIGTERM');
    // supervisord stops nginx, PHP-FPM and the relay, then exits.
    try {
      await waitFor(() => !pids.some(alive), 'supervisord and its programs to exit');
    } finally {
      for (const p of pids.filter(alive)) process.kill(p, 'SIGKILL');
      this.shell?.close();
      if (!process.env.KEEP_TMP) fs.rmSync(this.dir, { recursive: true, force: true });
      this.prefix = null;
    }
  }
}

const steps = walkSteps();
let walk;
let browsers = [];
after(async () => {
  for (const b of browsers) await b.close();
  await walk?.stop();
});

test('the walk has its steps: 0 to 8 in order, each with commands', () => {
  assert.deepEqual(steps.map((s) => s.n), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  for (const s of steps) assert.ok(s.blocks.length >= 1, `step ${s.n} has a sh block`);
  assert.equal(steps.find((s) => s.n === 8).blocks.length, 1, "step 8 is one command, run once the page is open");
});

test('from zero: the walk as written, then a browser receives a private message and anonymous clients are refused', { skip: !IS_ROOT && 'the walk runs as root' }, async () => {
  const before = hostSnapshot();
  walk = await new Walk(steps).start();

  // apt-get was asked for the packages (the other stand-ins end the walk if called).
  assert.match(readOr(walk.shimLog), /^apt-get install .*nginx php8\.2-fpm/m);
  // Step 7's checks, as the doc says they read.
  const check = walk.out[7];
  assert.match(check, /^herald-relay +RUNNING/m);
  assert.match(check, /^nginx +RUNNING/m);
  assert.match(check, /^php-fpm +RUNNING/m);
  assert.match(check, /^ok$/m);
  assert.ok(check.includes(`${walk.at('run/herald/herald.sock')}: a socket this user may write to`), check);
  assert.match(check, /^403\n401\n$/m, 'anonymous: /sse 403, the hand-off 401');

  // Each packaging file is where the table at the top of OPERATIONS.md says
  // (all but the systemd unit: supervisord runs the relay here).
  for (const r of installTable().filter((x) => x.dest && !x.src.endsWith('.service'))) {
    const dest = r.dest.endsWith('/') && !r.src.endsWith('/') ? r.dest + path.basename(r.src) : r.dest;
    assert.ok(fs.existsSync(walk.at(dest)), `${r.src} is installed as ${dest}`);
  }

  // A browser that knows the site by its name, signed in as the user.
  const args = [...CHROMIUM_ARGS, `--host-resolver-rules=MAP ${SITE} 127.0.0.1`];
  const user = await launchBrowser({ args });
  browsers.push(user);
  const page = await newPage(user, walk.url('/'));
  await page.fill('input[name=user]', APP_USER);
  await page.fill('input[name=password]', walk.password);
  await page.click('button');
  await page.waitForSelector('main[data-channel]');
  assert.equal(await page.textContent('h1'), `Messages for ${APP_USER}`);
  await page.waitForFunction(() => document.getElementById('status').value === 'live');
  assert.equal(page.protocolOf('/herald-subscribe.php'), 'h2');

  // Step 8: published from the command line, shown on the page.
  const i = await walk.shell.run(steps.find((s) => s.n === 8).blocks[0]);
  assert.match(walk.shell.output(i), new RegExp(`^published to user\\.${APP_USER}$`, 'm'));
  const items = () => page.$$eval('#messages li', (li) => li.map((x) => x.textContent));
  await page.waitForFunction(() => document.querySelectorAll('#messages li').length >= 1);
  assert.deepEqual(await items(), [`Hello ${APP_USER}, from the command line`]);
  // The page's button: PHP-FPM publishes (the pool's herald.socket, the socket's group).
  await page.click('#send');
  await page.waitForFunction(() => document.querySelectorAll('#messages li').length >= 2);
  assert.deepEqual((await items())[1], `Hello ${APP_USER}, from PHP-FPM`);
  // Another user's channel: the hand-off refuses it to alice.
  const other = await page.evaluate(async () => (await fetch('/herald-subscribe.php?channel=user.bob')).status);
  assert.equal(other, 403);

  // Anonymous, in another browser: refused everywhere, nothing of alice's messages.
  const anon = await launchBrowser({ args });
  browsers.push(anon);
  const apage = await newPage(anon, walk.url('/'));
  assert.equal(await apage.textContent('h1'), 'Sign in');
  const refused = await apage.evaluate(async (ch) => {
    const es = new EventSource('/herald-subscribe.php?channel=' + ch);
    const esState = await new Promise((r) => (es.onerror = () => es.readyState === EventSource.CLOSED && r('closed')));
    const ws = await new Promise((r) => {
      const w = new WebSocket(`wss://${location.host}/ws?channel=${ch}`);
      w.onopen = () => r('open');
      w.onclose = () => r('closed');
    });
    const get = async (url, headers = {}) => {
      const res = await fetch(url, { headers });
      return [res.status, await res.text()];
    };
    return {
      esState,
      ws,
      handoff: await get('/herald-subscribe.php?channel=' + ch),
      sse: await get('/sse?channel=' + ch + '&last_event_id=0-0'),
      sseHeader: await get('/sse?channel=' + ch, { 'Last-Event-ID': '0-0', 'X-Herald-Handoff': 'guess' }),
      internal: await get('/_herald/sse?channel=' + ch),
    };
  }, `user.${APP_USER}`);
  assert.equal(refused.esState, 'closed');
  assert.equal(refused.ws, 'closed');
  assert.equal(refused.handoff[0], 401);
  assert.equal(refused.sse[0], 403);
  assert.equal(refused.sseHeader[0], 403);
  assert.equal(refused.internal[0], 404);
  for (const [, body] of [refused.handoff, refused.sse, refused.sseHeader, refused.internal]) {
    assert.doesNotMatch(body, /Hello/);
  }
  const statuses = apage.responses.filter((r) => r.url.includes('herald-subscribe.php')).map((r) => r.status);
  assert.ok(statuses.length >= 1 && statuses.every((s) => s === 401), `hand-off answers: ${statuses}`);

  await anon.close();
  browsers = browsers.filter((b) => b !== anon);

  // The walk again, on the running stack: what a server with Debian's
  // supervisor.service takes (update, restart). nginx and the relay read the
  // new hand-off secret, so the page's stream works as before.
  await walk.steps0to7();
  assert.match(walk.out[6], /^herald-relay: started\nphp-fpm: started\nnginx: started$/m);
  assert.match(walk.out[7], /^403\n401\n$/m);
  await page.reload();
  await page.waitForFunction(() => document.getElementById('status').value === 'live');
  await walk.shell.run(steps.find((s) => s.n === 8).blocks[0]);
  await page.waitForFunction(() => document.querySelectorAll('#messages li').length >= 1);
  assert.deepEqual(await items(), [`Hello ${APP_USER}, from the command line`]);

  for (const b of browsers.splice(0)) await b.close();
  await walk.stop();
  walk = null;
  assert.equal(hostSnapshot(), before, 'nothing outside PREFIX changed');
});
