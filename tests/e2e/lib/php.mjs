// PHP processes with the built extension, for the e2e tests: a long-lived
// worker driven one call per line over stdin (PhpWorker), and a script run
// to its end (runPhp). Every step waits for an answer, never for a time.
import { spawn } from 'node:child_process';
import { after } from 'node:test';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { ROOT, tmpdir } from './harness.mjs';
import { killQuiet } from './kill.mjs';

export const EXT = process.env.HERALD_EXT || path.join(ROOT, 'build/herald.so');
export const PHP = process.env.PHP || 'php';

// One PHP process: each request line names a function and its arguments
// (JSON; base64 for bytes), each answer line says what it returned.
const DRIVER = `<?php
/* What phpinfo() says about this connection's shared ring. */
function herald_ring_state(): string
{
    ob_start();
    phpinfo(INFO_MODULES);
    return preg_match('/^Shared ring => (.*)$/m', ob_get_clean(), $m) ? $m[1] : 'NOT FOUND';
}
/* This thread's run-queue delay so far, in ns (0 where the kernel keeps none). */
function runq_ns(): int
{
    $s = @file_get_contents('/proc/thread-self/schedstat');
    return $s === false ? 0 : (int) explode(' ', $s)[1];
}
while (($line = fgets(STDIN)) !== false) {
    $c = json_decode($line, true);
    foreach ($c['ini'] ?? [] as $k => $v) {
        ini_set($k, (string) $v);
    }
    $args = $c['args'];
    if (!empty($c['b64'])) {
        $args[1] = base64_decode($args[1]);
    }
    $q = runq_ns();
    $t = hrtime(true);
    try {
        $r = @($c['fn'])(...$args);
        $e = herald_last_error();
    } catch (Throwable $x) {
        $r = null;
        $e = get_class($x) . ': ' . $x->getMessage();
    }
    $ns = hrtime(true) - $t;
    /* ownMs: the call's time less the time this thread waited for a CPU,
     * which a busy machine adds and the extension has no part in. */
    echo json_encode(['result' => $r, 'error' => $e, 'ms' => $ns / 1e6, 'ownMs' => ($ns - (runq_ns() - $q)) / 1e6]), "\\n";
}
`;

export class PhpWorker {
  constructor(socket, ini = {}) {
    this.dir = tmpdir('herald-php-');
    const script = path.join(this.dir, 'driver.php');
    fs.writeFileSync(script, DRIVER);
    const args = ['-n', '-d', `extension=${EXT}`, '-d', `herald.socket=${socket}`];
    for (const [k, v] of Object.entries(ini)) args.push('-d', `${k}=${v}`);
    this.proc = spawn(PHP, [...args, script], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.stderr = '';
    this.proc.stderr.on('data', (d) => (this.stderr += d));
    this.lines = readline.createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]();
    // 'close', not 'exit': the process has ended and its stdout and stderr
    // have been read to their end (at 'exit' they may still hold data).
    this.closed = new Promise((r) => this.proc.on('close', (code, signal) => r({ code, signal })));
    // A test that fails before stop() leaves the driver waiting on stdin,
    // which would keep the test file from ending: it is killed by pid.
    // (Created in a test, after() hooks that test.)
    this.proc.on('exit', () => (this.exited = true));
    after(() => {
      if (!this.exited) killQuiet(this.proc.pid, 'SIGKILL');
    });
  }

  async call(fn, args, { ini, binary = false } = {}) {
    const req = { fn, args: [...args], ini };
    if (binary) {
      req.args[1] = Buffer.from(args[1]).toString('base64');
      req.b64 = true;
    }
    this.proc.stdin.write(JSON.stringify(req) + '\n');
    const { value, done } = await this.lines.next();
    if (done) {
      const { code, signal } = await this.closed; // all of stderr, not what came so far
      throw new Error(`php exited (${code ?? signal}): ${this.stderr}`);
    }
    return JSON.parse(value);
  }

  // Publish on channel ch until the relay's answer to this worker's ring
  // request is in: the extension reads it on a later call only (each of
  // the first sends looks, then fewer), and stops asking at 10 s, so this
  // ends either way. Returns the ring state and how many calls it took.
  async ringReady(ch) {
    for (let calls = 1; ; calls++) {
      const r = await this.call('sse_emit', [ch, `warm ${calls}`]);
      if (r.result !== true) throw new Error(`sse_emit: ${r.error}`);
      const state = (await this.call('herald_ring_state', [])).result;
      if (!state.startsWith('asked')) return { state, calls };
    }
  }

  async stop() {
    this.proc.stdin.end();
    const r = await this.closed;
    fs.rmSync(this.dir, { recursive: true, force: true });
    return r;
  }
}

// Run a PHP script (code, without <?php) to its end with the extension
// loaded; done resolves with {code, signal, stdout, stderr} (warnings go to
// stderr, so stdout is only what the script prints). It resolves at the
// child's 'close': 'exit' can come before its stdout has been read, and the
// output is read when the promise resolves, not when the child ended.
export function runPhp(code, ini = {}) {
  const args = ['-n', '-d', `extension=${EXT}`, '-d', 'display_errors=stderr'];
  for (const [k, v] of Object.entries(ini)) args.push('-d', `${k}=${v}`);
  const proc = spawn(PHP, [...args, '-r', code], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => (stdout += d));
  proc.stderr.on('data', (d) => (stderr += d));
  const done = new Promise((resolve) =>
    proc.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { proc, done };
}
