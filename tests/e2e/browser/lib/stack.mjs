// The deployment stack of the browser tests, all real processes on loopback:
// herald-relay (directly or under supervisord), PHP-FPM, nginx, headless
// Chromium. Each server is configured from the files in packaging/, rendered
// with exact replacements (a replacement that no longer matches fails the
// test, so the tests and the packaging files cannot drift apart). Processes
// are stopped by pid. Readiness is what the process itself wrote (the
// relay's start line in its log, nginx's pid file), polled since it goes to
// a file: never a sleep, and never an answer on a port that another process
// may have taken since freePort() released it. A server that finds its
// port taken is started again on another one.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { chromium } from 'playwright-core';
import { ROOT, RELAY_BIN, tmpdir, freePort, waitFor } from '../../lib/harness.mjs';

export { ROOT, RELAY_BIN, tmpdir, freePort, waitFor };

// How many times a server is started again when its port was taken.
const PORT_TRIES = 10;
const TAKEN = /address already in use/i;

export const IS_ROOT = process.getuid() === 0;
export const EXT = process.env.HERALD_EXT || path.join(ROOT, 'build/herald.so');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const PHP_FPM = process.env.PHP_FPM || 'php-fpm8.2';
// Debian's files that the site includes (snippets/fastcgi-php.conf includes fastcgi.conf).
const NGINX_ETC = process.env.NGINX_ETC || '/etc/nginx';

// A temp folder that the servers' unprivileged workers (www-data) can enter.
export function openTmpdir(prefix) {
  const d = tmpdir(prefix);
  fs.chmodSync(d, 0o755);
  return d;
}

// A packaging file with exact replacements [from, to]; each must match.
export function render(rel, pairs = []) {
  let text = fs.readFileSync(path.join(ROOT, rel), 'utf8');
  for (const [from, to] of pairs) {
    if (!text.includes(from)) throw new Error(`${rel}: "${from}" not found (packaging changed?)`);
    text = text.split(from).join(to);
  }
  return text;
}

export function writeFile(file, text, mode = 0o644) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  fs.chmodSync(file, mode);
  return file;
}

// A child process with its output in a log file, stopped by its pid.
export class Proc {
  constructor(name, cmd, args, opts = {}) {
    this.name = name;
    this.logFile = opts.logFile;
    const out = this.logFile ? fs.openSync(this.logFile, 'a') : 'ignore';
    this.proc = spawn(cmd, args, { stdio: ['ignore', out, out], env: opts.env || process.env, cwd: opts.cwd });
    if (typeof out === 'number') fs.closeSync(out);
    this.pid = this.proc.pid;
    this.exited = null;
    // Output goes to a file, not a pipe: 'exit' comes with nothing left to read.
    this.exitPromise = new Promise((resolve) =>
      this.proc.on('exit', (code, signal) => resolve((this.exited = { code, signal }))),
    );
    this.proc.on('error', (e) => (this.error = e));
  }

  log() {
    try {
      return this.logFile ? fs.readFileSync(this.logFile, 'utf8') : '';
    } catch {
      return '';
    }
  }

  alive() {
    if (this.exited) throw new Error(`${this.name} exited (${JSON.stringify(this.exited)}):\n${this.log()}`);
    return true;
  }

  async stop(signal = 'SIGTERM') {
    if (!this.exited) {
      try {
        process.kill(this.pid, signal);
      } catch {
        /* already gone */
      }
    }
    return this.exitPromise;
  }
}

export function canConnect(opts) {
  return new Promise((resolve) => {
    const s = net.connect(opts);
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

// An HTTP(S) request that accepts the tests' self-signed certificate.
export function request(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(u, { method, headers, rejectUnauthorized: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }),
      );
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// The first bytes of a response that does not end (an event stream): status,
// headers and the body read until pred(body) holds.
export function requestUntil(url, pred, { headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.get(u, { headers, rejectUnauthorized: false }, (res) => {
      let body = '';
      const done = () => {
        req.destroy();
        resolve({ status: res.statusCode, headers: res.headers, body });
      };
      res.on('data', (c) => {
        body += c;
        if (pred(body)) done();
      });
      res.on('end', done);
    });
    req.on('error', (e) => (e.code === 'ECONNRESET' ? null : reject(e)));
    req.setTimeout(30000, () => reject(new Error(`no answer from ${url}`)));
  });
}

export function selfSignedCert(dir) {
  const crt = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const r = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', crt, '-days', '2', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl: ${r.stderr}`);
  return { crt, key };
}

// ---- herald-relay from packaging/herald/relay.ini ----

// The hand-off secret, made by the packaged script under prefix (once).
export function handoffSecret(prefix) {
  const file = path.join(prefix, 'etc/herald/handoff.secret');
  if (!fs.existsSync(file)) {
    const r = spawnSync('sh', [path.join(ROOT, 'packaging/herald/handoff-secret.sh'), prefix], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`handoff-secret.sh: ${r.stderr}`);
  }
  return { file, snippet: path.join(prefix, 'etc/nginx/snippets/herald-handoff.conf') };
}

// The packaged relay.ini says workers = 0 (one loop per core): the tests pin
// it, HERALD_WORKERS or 2, so that a run does not depend on the machine.
const WORKERS = process.env.HERALD_WORKERS || '2';

export function relayIni({ port, socket, prefix }) {
  const pairs = [
    ['workers = 0', `workers = ${WORKERS}`],
    ['listen = 127.0.0.1:8080', `listen = 127.0.0.1:${port}`],
    ['socket = /run/herald/herald.sock', `socket = ${socket}`],
    ['state_file = /var/lib/herald/relay.state', `state_file = ${socket}.state`],
    ['handoff_secret_file = /etc/herald/handoff.secret', `handoff_secret_file = ${handoffSecret(prefix).file}`],
  ];
  // Only root may hand the socket to another group.
  if (!IS_ROOT) pairs.push(['socket_group = www-data', '; socket_group = www-data']);
  return render('packaging/herald/relay.ini', pairs);
}

// The line the relay logs once its port and socket are open.
export function relayStarts(log, port) {
  return (log.match(new RegExp(`herald-relay \\S+: http://127\\.0\\.0\\.1:${port} `, 'g')) || []).length;
}

export class RelayProc {
  constructor(dir, { port, socket, prefix = dir }) {
    this.dir = dir;
    this.port = port;
    this.socket = socket;
    this.prefix = prefix;
    this.logFile = path.join(dir, 'relay.log');
  }

  async start() {
    for (let attempt = 1; ; attempt++) {
      this.ini = writeFile(
        path.join(this.dir, 'relay.ini'),
        relayIni({ port: this.port, socket: this.socket, prefix: this.prefix }),
      );
      fs.rmSync(this.logFile, { force: true });
      this.proc = new Proc('herald-relay', RELAY_BIN, ['--config', this.ini], {
        logFile: this.logFile,
        env: { ...process.env, ASAN_OPTIONS: process.env.ASAN_OPTIONS || 'detect_leaks=0' },
      });
      try {
        await waitFor(() => this.proc.alive() && relayStarts(this.proc.log(), this.port) >= 1, 'relay start line');
        return this;
      } catch (e) {
        await this.proc.stop('SIGKILL');
        if (attempt >= PORT_TRIES || !TAKEN.test(this.proc.log())) throw e;
        this.port = await freePort();
      }
    }
  }

  stop(sig) {
    return this.proc.stop(sig);
  }
}

// ---- supervisord with packaging/supervisor/herald-relay.conf ----

// The hard descriptor limit this process may give its children ("unlimited": Infinity).
export function hardNofile() {
  const out = spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim();
  return out === 'unlimited' ? Infinity : Number(out);
}

export class Supervisor {
  constructor(dir, { port, socket, prefix = dir }) {
    this.dir = dir;
    this.port = port;
    this.socket = socket;
    this.conf = path.join(dir, 'supervisord.conf');
    this.relayLog = path.join(dir, 'relay.log');
    this.prefix = prefix;
    this.writeConf();
  }

  writeConf() {
    const dir = this.dir;
    const ini = writeFile(
      path.join(dir, 'relay.ini'),
      relayIni({ port: this.port, socket: this.socket, prefix: this.prefix }),
    );
    writeFile(
      path.join(dir, 'conf.d/herald-relay.conf'),
      render('packaging/supervisor/herald-relay.conf', [
        ['command = /usr/local/bin/herald-relay --config /etc/herald/relay.ini', `command = ${RELAY_BIN} --config ${ini}`],
        // The tests run the relay as the user who runs them.
        ['user = herald\n', ''],
        ['stdout_logfile = /var/log/herald/relay.log', `stdout_logfile = ${this.relayLog}`],
      ]),
    );
    writeFile(
      this.conf,
      [
        '[unix_http_server]',
        `file = ${dir}/supervisor.sock`,
        'chmod = 0700',
        '[supervisord]',
        `logfile = ${dir}/supervisord.log`,
        `pidfile = ${dir}/supervisord.pid`,
        `childlogdir = ${dir}`,
        'nodaemon = true',
        '[rpcinterface:supervisor]',
        'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface',
        '[supervisorctl]',
        `serverurl = unix://${dir}/supervisor.sock`,
        '[include]',
        `files = ${dir}/conf.d/*.conf`,
        '',
      ].join('\n'),
    );
  }

  relayLogText() {
    try {
      return fs.readFileSync(this.relayLog, 'utf8');
    } catch {
      return '';
    }
  }

  // How many times a relay has started (logged its start line) so far.
  relayStarts() {
    return relayStarts(this.relayLogText(), this.port);
  }

  // Wait until the relay has started n times in all (a restart: n + 1).
  async waitStarts(n, what = 'relay under supervisord') {
    await waitFor(() => this.proc.alive() && this.relayStarts() >= n, what);
  }

  async start() {
    for (let attempt = 1; ; attempt++) {
      fs.rmSync(this.relayLog, { force: true });
      this.proc = new Proc('supervisord', 'supervisord', ['-n', '-c', this.conf], {
        logFile: path.join(this.dir, 'supervisord.out'),
      });
      // supervisord restarts a relay that exits at start: a taken port shows
      // in the relay's log, and everything starts again on another port.
      try {
        await waitFor(() => {
          this.proc.alive();
          if (TAKEN.test(this.relayLogText())) throw new Error(`port ${this.port} taken:\n${this.relayLogText()}`);
          return this.relayStarts() >= 1;
        }, 'relay under supervisord');
        return this;
      } catch (e) {
        await this.proc.stop('SIGTERM');
        if (attempt >= PORT_TRIES || !TAKEN.test(this.relayLogText())) throw e;
        this.port = await freePort();
        this.writeConf();
      }
    }
  }

  ctl(...args) {
    const r = spawnSync('supervisorctl', ['-c', this.conf, ...args], { encoding: 'utf8' });
    return { code: r.status, out: (r.stdout || '') + (r.stderr || '') };
  }

  // The relay's pid as supervisord reports it (0 when it is not running).
  relayPid() {
    const { out } = this.ctl('pid', 'herald-relay');
    const n = Number(out.trim());
    return Number.isInteger(n) ? n : 0;
  }

  async stop() {
    return this.proc.stop('SIGTERM');
  }
}

// ---- PHP-FPM with packaging/php-fpm/app.conf and packaging/php/herald.ini ----

export class PhpFpm {
  constructor(dir, { relaySocket, root }) {
    this.dir = dir;
    this.listen = path.join(dir, 'php-fpm.sock');
    const sessions = path.join(dir, 'sessions');
    fs.mkdirSync(sessions, { recursive: true });
    fs.chmodSync(sessions, 0o1733);
    this.ini = writeFile(
      path.join(dir, 'php.ini'),
      render('packaging/php/herald.ini', [['extension=herald', `extension=${EXT}`]]) +
        `\nsession.save_path = ${sessions}\ndisplay_errors = Off\nlog_errors = On\n`,
    );
    const poolPairs = [
      ['listen = /run/php/php8.2-fpm-app.sock', `listen = ${this.listen}`],
      [
        'php_admin_value[herald.socket] = /run/herald/herald.sock',
        `php_admin_value[herald.socket] = ${relaySocket}`,
      ],
      ['pm.start_servers = 4', 'pm.start_servers = 2'],
      ['pm.min_spare_servers = 2', 'pm.min_spare_servers = 1'],
      ['pm.max_spare_servers = 6', 'pm.max_spare_servers = 3'],
    ];
    if (!IS_ROOT) {
      poolPairs.push(['user = www-data\ngroup = www-data\n', ''], ['listen.owner = www-data\nlisten.group = www-data\n', '']);
    }
    const pool = writeFile(path.join(dir, 'pool.d/app.conf'), render('packaging/php-fpm/app.conf', poolPairs));
    this.conf = writeFile(
      path.join(dir, 'php-fpm.conf'),
      [
        '[global]',
        `pid = ${dir}/php-fpm.pid`,
        `error_log = ${dir}/php-fpm.log`,
        'daemonize = no',
        `include = ${pool}`,
        '',
      ].join('\n'),
    );
    this.root = root;
  }

  async start() {
    // Only this php.ini: no conf.d of the machine (a second copy of the extension).
    this.proc = new Proc(PHP_FPM, PHP_FPM, ['-F', '-c', this.ini, '-y', this.conf], {
      logFile: path.join(this.dir, 'php-fpm.out'),
      env: { ...process.env, PHP_INI_SCAN_DIR: '' },
    });
    // Its own socket in the stack's folder: polled (php-fpm says it is ready
    // only in its error log file).
    await waitFor(async () => this.proc.alive() && (await canConnect({ path: this.listen })), 'php-fpm socket');
    return this;
  }

  log() {
    let s = this.proc ? this.proc.log() : '';
    try {
      s += fs.readFileSync(path.join(this.dir, 'php-fpm.log'), 'utf8');
    } catch {
      /* none yet */
    }
    return s;
  }

  stop() {
    return this.proc.stop('SIGQUIT');
  }
}

// ---- nginx with packaging/nginx/site.conf and packaging/nginx/herald.conf ----

export class Nginx {
  constructor(dir, { relayPort, fpmSocket, root, http2 = true, cert, prefix }) {
    this.dir = dir;
    this.prefix = prefix;
    this.http2 = http2;
    this.root = root;
    this.relayPort = relayPort;
    this.fpmSocket = fpmSocket;
    this.cert = cert;
  }

  async start() {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.startOnce();
      } catch (e) {
        if (this.proc) await this.proc.stop('SIGKILL');
        if (attempt >= PORT_TRIES || !TAKEN.test(`${this.proc ? this.proc.log() : ''}${this.log()}`)) throw e;
      }
    }
  }

  async startOnce() {
    const d = this.dir;
    this.port = await freePort();
    this.plainPort = await freePort();
    fs.mkdirSync(path.join(d, 'snippets'), { recursive: true });
    fs.copyFileSync(path.join(NGINX_ETC, 'snippets/fastcgi-php.conf'), path.join(d, 'snippets/fastcgi-php.conf'));
    fs.copyFileSync(path.join(NGINX_ETC, 'fastcgi.conf'), path.join(d, 'fastcgi.conf'));
    fs.copyFileSync(path.join(NGINX_ETC, 'mime.types'), path.join(d, 'mime.types'));
    // The Herald snippet as shipped, unchanged.
    fs.copyFileSync(path.join(ROOT, 'packaging/nginx/herald.conf'), path.join(d, 'snippets/herald.conf'));
    fs.copyFileSync(handoffSecret(this.prefix).snippet, path.join(d, 'snippets/herald-handoff.conf'));
    const tls = this.http2 ? 'ssl http2' : 'ssl';
    writeFile(
      path.join(d, 'site.conf'),
      render('packaging/nginx/site.conf', [
        ['server 127.0.0.1:8080;', `server 127.0.0.1:${this.relayPort};`],
        ['listen 80;', `listen 127.0.0.1:${this.plainPort};`],
        ['listen [::]:80;\n', ''],
        ['listen 443 ssl http2;', `listen 127.0.0.1:${this.port} ${tls};`],
        ['listen [::]:443 ssl http2;\n', ''],
        ['/etc/letsencrypt/live/app.example.com/fullchain.pem', this.cert.crt],
        ['/etc/letsencrypt/live/app.example.com/privkey.pem', this.cert.key],
        ['root /var/www/app/public;', `root ${this.root};`],
        ['fastcgi_pass unix:/run/php/php8.2-fpm-app.sock;', `fastcgi_pass unix:${this.fpmSocket};`],
      ]),
    );
    const temp = (n) => `${n}_temp_path ${d}/${n}_temp;`;
    this.accessLog = path.join(d, 'access.log');
    const pidFile = path.join(d, 'nginx.pid');
    writeFile(
      path.join(d, 'nginx.conf'),
      [
        IS_ROOT ? 'user www-data;' : '',
        'worker_processes 1;',
        `error_log ${d}/error.log info;`,
        `pid ${pidFile};`,
        'events { worker_connections 1024; }',
        'http {',
        '  include mime.types;',
        '  default_type application/octet-stream;',
        "  log_format herald '$request_method $uri $status upstream=$upstream_status $server_protocol';",
        `  access_log ${this.accessLog} herald;`,
        `  ${temp('client_body')} ${temp('proxy')} ${temp('fastcgi')} ${temp('uwsgi')} ${temp('scgi')}`,
        '  include site.conf;',
        '}',
        '',
      ].join('\n'),
    );
    const t = spawnSync('nginx', ['-t', '-p', d, '-c', path.join(d, 'nginx.conf'), '-g', 'daemon off;'], {
      encoding: 'utf8',
    });
    if (t.status !== 0) throw new Error(`nginx -t: ${t.stderr}`);
    fs.rmSync(pidFile, { force: true });
    this.proc = new Proc('nginx', 'nginx', ['-p', d, '-c', path.join(d, 'nginx.conf'), '-g', 'daemon off;'], {
      logFile: path.join(d, 'nginx.out'),
    });
    // nginx writes its pid file after it has bound its ports: this nginx
    // has them. Then it serves (the first request may wait for a worker).
    await waitFor(() => {
      this.proc.alive();
      try {
        return Number(fs.readFileSync(pidFile, 'utf8')) === this.proc.pid;
      } catch {
        return false;
      }
    }, 'nginx pid file');
    const r = await request(this.url('/herald-client.js'));
    if (r.status !== 200) throw new Error(`nginx answered ${r.status} for /herald-client.js`);
    return this;
  }

  url(p = '/') {
    return `https://127.0.0.1:${this.port}${p}`;
  }

  wsUrl(p = '/') {
    return `wss://127.0.0.1:${this.port}${p}`;
  }

  accessLines() {
    try {
      return fs.readFileSync(this.accessLog, 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  }

  log() {
    try {
      return fs.readFileSync(path.join(this.dir, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  }

  stop() {
    return this.proc.stop('SIGQUIT');
  }
}

// The test application: tests/e2e/browser/app plus the shipped hand-off
// endpoint and browser client, in a folder the workers can read.
export function assembleApp(dir) {
  const root = path.join(dir, 'public');
  fs.mkdirSync(root, { recursive: true });
  fs.chmodSync(root, 0o755);
  const appSrc = path.join(ROOT, 'tests/e2e/browser/app');
  for (const f of fs.readdirSync(appSrc)) fs.copyFileSync(path.join(appSrc, f), path.join(root, f));
  fs.copyFileSync(path.join(ROOT, 'packaging/app/herald-subscribe.php'), path.join(root, 'herald-subscribe.php'));
  // The shipped browser client, as an application serves it (the classic-script build).
  fs.copyFileSync(path.join(ROOT, 'packages/herald-client/herald-client.global.js'), path.join(root, 'herald-client.js'));
  for (const f of fs.readdirSync(root)) fs.chmodSync(path.join(root, f), 0o644);
  return root;
}

// relay (direct or supervised) + PHP-FPM + nginx, in one temp folder.
export class Stack {
  constructor({ http2 = true, supervised = false } = {}) {
    this.http2 = http2;
    this.supervised = supervised;
    this.dir = openTmpdir('herald-stack-');
  }

  // On a failed start, stop what did start and remove the folder, then fail.
  async start() {
    try {
      return await this.startAll();
    } catch (e) {
      const logs = this.logs();
      await this.stop().catch(() => {});
      throw new Error(`${e.message}\n${logs}`);
    }
  }

  async startAll() {
    const d = this.dir;
    this.relayPort = await freePort();
    this.socket = path.join(d, 'herald.sock');
    this.root = assembleApp(d);
    this.cert = selfSignedCert(d);
    const rdir = path.join(d, 'relay');
    fs.mkdirSync(rdir, { mode: 0o755 });
    // /etc under a scratch prefix: the hand-off secret both nginx and the relay read.
    this.prefix = path.join(d, 'prefix');
    handoffSecret(this.prefix);
    const where = { port: this.relayPort, socket: this.socket, prefix: this.prefix };
    this.relay = this.supervised
      ? new Supervisor(rdir, where)
      : new RelayProc(rdir, where);
    await this.relay.start();
    this.relayPort = this.relay.port; // another one if the first was taken
    const fdir = path.join(d, 'fpm');
    fs.mkdirSync(fdir, { mode: 0o755 });
    this.fpm = await new PhpFpm(fdir, { relaySocket: this.socket, root: this.root }).start();
    const ndir = path.join(d, 'nginx');
    fs.mkdirSync(ndir, { mode: 0o755 });
    this.nginx = await new Nginx(ndir, {
      relayPort: this.relayPort,
      fpmSocket: this.fpm.listen,
      root: this.root,
      http2: this.http2,
      cert: this.cert,
      prefix: this.prefix,
    }).start();
    return this;
  }

  url(p) {
    return this.nginx.url(p);
  }

  // Publish through PHP: a POST to publish.php, served by PHP-FPM via nginx,
  // which calls sse_emit() or ws_publish(). Returns its JSON answer.
  async publish(msg) {
    const r = await request(this.url('/publish.php'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(msg),
    });
    let j;
    try {
      j = JSON.parse(r.body);
    } catch {
      throw new Error(`publish.php answered ${r.status}: ${r.body}\n${this.fpm.log()}`);
    }
    return j;
  }

  async publishOk(msg) {
    const j = await this.publish(msg);
    if (!j.ok) throw new Error(`publish failed: ${JSON.stringify(j)}`);
    return j;
  }

  logs() {
    const relayLog = (() => {
      try {
        return fs.readFileSync(path.join(this.dir, 'relay/relay.log'), 'utf8');
      } catch {
        return '';
      }
    })();
    return `--- relay\n${relayLog}\n--- php-fpm\n${this.fpm?.log() ?? ''}\n--- nginx\n${this.nginx?.log() ?? ''}`;
  }

  async stop() {
    for (const p of [this.nginx, this.fpm, this.relay]) {
      if (p && p.proc && !p.proc.exited) await p.stop();
    }
    if (!process.env.KEEP_TMP) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---- Chromium ----

export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// A fresh profile in its own folder; every page (tab) of it shares the
// browser's connection pool, like tabs of one user.
export async function launchBrowser(opts = {}) {
  const profile = tmpdir('herald-chromium-');
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
    ignoreHTTPSErrors: true,
    viewport: { width: 1280, height: 860 },
    ...opts,
  });
  ctx.pageErrors = [];
  ctx.on('page', (p) => p.on('pageerror', (e) => ctx.pageErrors.push(String(e))));
  const close = ctx.close.bind(ctx);
  ctx.close = async () => {
    await close();
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return ctx;
}

// A tab that records every response's protocol as Chromium saw it
// (DevTools Network events: also for streams that never end, which
// resource timing only lists once they do).
export async function newPage(ctx, url) {
  const page = await ctx.newPage();
  page.responses = [];
  const cdp = await ctx.newCDPSession(page);
  cdp.on('Network.responseReceived', (e) =>
    page.responses.push({ url: e.response.url, status: e.response.status, protocol: e.response.protocol, type: e.type }),
  );
  await cdp.send('Network.enable');
  page.protocolOf = (part) => {
    const r = page.responses.find((x) => x.url.includes(part));
    return r ? r.protocol : null;
  };
  if (url) await page.goto(url);
  return page;
}
