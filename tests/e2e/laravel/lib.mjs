// What the Laravel tests share (laravel.test.mjs, browser/echo.test.mjs):
// the Pusher app's settings, PHP processes running the scripts of this
// folder on Debian's php-laravel-framework, and php-fpm serving auth.php
// as the application's /broadcasting/auth.
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import readline from 'node:readline';
import { ROOT, tmpdir } from '../lib/harness.mjs';
import { EXT, PHP } from '../lib/php.mjs';
import { startFpm, fastcgi } from '../lib/fpm.mjs';

export const SCRIPTS = path.join(ROOT, 'tests/e2e/laravel');
export const APP_ID = '1';
export const KEY = 'herald-key';
export const APP_SECRET = 'herald-app-secret';
export const MASTER_KEY = randomBytes(32).toString('base64');

// The connection of config/broadcasting.php, as the scripts read it
// (bootstrap.php's herald_connection()).
export const CONNECTION_ENV = {
  HERALD_PUSHER_KEY: KEY,
  HERALD_PUSHER_SECRET: APP_SECRET,
  HERALD_PUSHER_APP_ID: APP_ID,
  HERALD_MASTER_KEY: MASTER_KEY,
};

// Laravel needs mbstring, a shared extension on Debian: loaded next to
// herald's (-n: nothing from the machine's php.ini). Debian's Illuminate
// autoloaders are found on the include path.
const PHP_INI = { extension: 'mbstring', include_path: '.:/usr/share/php' };

// One PHP process running a script of this folder: a JSON request per line
// in, a JSON answer per line out.
export class LaravelPhp {
  constructor(script, socket, env = {}) {
    const args = ['-n'];
    for (const [k, v] of Object.entries(PHP_INI)) args.push('-d', `${k}=${v}`);
    args.push('-d', `extension=${EXT}`, '-d', `herald.socket=${socket}`, '-d', 'display_errors=stderr');
    this.proc = spawn(PHP, [...args, path.join(SCRIPTS, script)], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...CONNECTION_ENV, ...env },
    });
    this.stderr = '';
    this.proc.stderr.on('data', (d) => (this.stderr += d));
    this.lines = readline.createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]();
    this.proc.on('exit', () => (this.exited = true));
    after(() => {
      if (!this.exited) {
        try {
          process.kill(this.proc.pid, 'SIGKILL');
        } catch {
          /* ended meanwhile */
        }
      }
    });
  }

  async call(req) {
    this.proc.stdin.write(JSON.stringify(req) + '\n');
    const { value, done } = await this.lines.next();
    if (done) throw new Error(`php ended: ${this.stderr}`);
    return JSON.parse(value);
  }

  // A broadcast that must succeed.
  async broadcast(req) {
    assert.deepEqual(await this.call(req), { ok: true }, JSON.stringify(req));
  }

  stop() {
    this.proc.stdin.end();
  }
}

// php-fpm running auth.php for the relay at socket; auth(params, user)
// runs one /broadcasting/auth request (POST) through it and resolves with
// {status, type, body}. The form fields go in the query string, which
// Laravel's $request->input() reads as it reads a form body (the test's
// FastCGI client sends no body). The connection's settings are FastCGI
// params, which PHP's getenv() returns under FPM.
export async function startAuthFpm(socket) {
  const dir = tmpdir('herald-laravel-fpm-');
  const fpm = await startFpm(dir, {
    workers: 2,
    ini: { ...PHP_INI, 'herald.socket': socket, display_errors: 0, log_errors: 1 },
  });
  after(() => fpm.stop('SIGTERM'));
  const script = path.join(SCRIPTS, 'auth.php');
  const auth = async (form, user) => {
    const r = await fastcgi(fpm.sock, {
      ...CONNECTION_ENV,
      GATEWAY_INTERFACE: 'CGI/1.1',
      REQUEST_METHOD: 'POST',
      SCRIPT_FILENAME: script,
      SCRIPT_NAME: '/broadcasting/auth',
      REQUEST_URI: '/broadcasting/auth',
      QUERY_STRING: new URLSearchParams(form).toString(),
      SERVER_NAME: '127.0.0.1',
      SERVER_PORT: '80',
      SERVER_PROTOCOL: 'HTTP/1.1',
      ...(user ? { HTTP_X_TEST_USER: JSON.stringify(user) } : {}),
    });
    const status = Number((/^Status: (\d+)/m.exec(r.head) || [, 200])[1]);
    const type = (/^Content-Type: (.*)$/im.exec(r.head) || [])[1];
    return { status, type, body: r.body, stderr: r.stderr };
  };
  return { fpm, auth, log: fpm.log };
}
