// PHP processes with the built extension, for the e2e tests: a long-lived
// worker driven one call per line over stdin (PhpWorker), and a script run
// to its end (runPhp). Every step waits for an answer, never for a time.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { ROOT, tmpdir } from './harness.mjs';

export const EXT = process.env.HERALD_EXT || path.join(ROOT, 'build/herald.so');
export const PHP = process.env.PHP || 'php';

// One PHP process: each request line names a function and its arguments
// (JSON; base64 for bytes), each answer line says what it returned.
const DRIVER = `<?php
while (($line = fgets(STDIN)) !== false) {
    $c = json_decode($line, true);
    foreach ($c['ini'] ?? [] as $k => $v) {
        ini_set($k, (string) $v);
    }
    $args = $c['args'];
    if (!empty($c['b64'])) {
        $args[1] = base64_decode($args[1]);
    }
    $t = hrtime(true);
    try {
        $r = @($c['fn'])(...$args);
        $e = herald_last_error();
    } catch (Throwable $x) {
        $r = null;
        $e = get_class($x) . ': ' . $x->getMessage();
    }
    echo json_encode(['result' => $r, 'error' => $e, 'ms' => (hrtime(true) - $t) / 1e6]), "\\n";
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
    this.exit = new Promise((r) => this.proc.on('exit', (code, signal) => r({ code, signal })));
  }

  async call(fn, args, { ini, binary = false } = {}) {
    const req = { fn, args: [...args], ini };
    if (binary) {
      req.args[1] = Buffer.from(args[1]).toString('base64');
      req.b64 = true;
    }
    this.proc.stdin.write(JSON.stringify(req) + '\n');
    const { value, done } = await this.lines.next();
    if (done) throw new Error(`php exited: ${this.stderr}`);
    return JSON.parse(value);
  }

  async stop() {
    this.proc.stdin.end();
    const r = await this.exit;
    fs.rmSync(this.dir, { recursive: true, force: true });
    return r;
  }
}

// Run a PHP script (code, without <?php) to its end with the extension
// loaded; done resolves with {code, stdout, stderr} (warnings go to stderr,
// so stdout is only what the script prints).
export function runPhp(code, ini = {}) {
  const args = ['-n', '-d', `extension=${EXT}`, '-d', 'display_errors=stderr'];
  for (const [k, v] of Object.entries(ini)) args.push('-d', `${k}=${v}`);
  const proc = spawn(PHP, [...args, '-r', code], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => (stdout += d));
  proc.stderr.on('data', (d) => (stderr += d));
  // 'close', not 'exit': only then has all of stdout been read.
  const done = new Promise((resolve) => proc.on('close', (code) => resolve({ code, stdout, stderr })));
  return { proc, done };
}
