// make demo's hint when a port is taken suggests ports that are free: with
// 18000 itself taken (the port the hint used to suggest), it suggests others.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { once } from 'node:events';
import { ROOT, freePort } from './lib/stack.mjs';

const portFree = (port) =>
  new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

test('make demo suggests free ports, not the one that is taken', async () => {
  // 18000 is taken: by this test, or by something else already (just as good).
  const busy = net.createServer();
  // (events.once rejects on 'error': wait with plain listeners.)
  await new Promise((resolve) => {
    busy.once('error', resolve);
    busy.once('listening', resolve);
    busy.listen(18000, '127.0.0.1');
  });
  try {
    const relayPort = await freePort();
    const proc = spawn('bash', [path.join(ROOT, 'scripts/demo.sh')], {
      cwd: ROOT,
      env: { ...process.env, DEMO_RELAY_PORT: String(relayPort), DEMO_PORT: '18000', DEMO_SOCKET: '/nonexistent/x.sock' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    proc.stderr.on('data', (c) => (err += c));
    const [code] = await once(proc, 'close');
    assert.equal(code, 1, err);
    const m = /DEMO_RELAY_PORT=(\d+) DEMO_PORT=(\d+)/.exec(err);
    assert.ok(m, err);
    const [r, p] = [Number(m[1]), Number(m[2])];
    assert.notEqual(p, 18000);
    assert.notEqual(r, p);
    assert.ok(await portFree(r), `suggested relay port ${r} is free`);
    assert.ok(await portFree(p), `suggested page port ${p} is free`);
  } finally {
    busy.close();
  }
});
