// A client that vanishes without a FIN (unplugged, out of coverage) is freed
// by TCP_USER_TIMEOUT (tcp_user_timeout_ms), not after the kernel's ~15
// minutes of retransmissions. The relay and the client (curl) run in a
// network namespace of this test's own, where nftables drops what the
// client sends: the relay's heartbeats are never acknowledged and the relay
// closes the connection ("connection timed out" in its log). Needs root,
// iproute2 and nftables (scripts/install-deps.sh).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import path from 'node:path';
import { RELAY_BIN, tmpdir, workersArgs, relayEnv, SANITIZER_RE } from './lib/harness.mjs';

const ns = `herald-dp-${process.pid}`;
const inNs = (...cmd) => execFileSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8' });

function spawnInNs(cmd, args) {
  const p = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: relayEnv() });
  p.out = '';
  p.stdout.on('data', (d) => (p.out += d));
  p.stderr.on('data', (d) => (p.out += d));
  p.done = new Promise((r) => p.on('close', (code, signal) => r({ code, signal })));
  return p;
}

// Resolve once the process has printed text (or fail if it ends first).
function printed(p, text) {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (p.out.includes(text)) {
        p.stdout.off('data', check);
        p.stderr.off('data', check);
        resolve();
      }
    };
    p.stdout.on('data', check);
    p.stderr.on('data', check);
    p.done.then(() => reject(new Error(`ended before printing ${JSON.stringify(text)}:\n${p.out}`)));
    check();
  });
}

test('a client whose packets vanish is freed after tcp_user_timeout_ms', async () => {
  execFileSync('ip', ['netns', 'add', ns]);
  after(() => execFileSync('ip', ['netns', 'del', ns]));
  inNs('ip', 'link', 'set', 'lo', 'up');
  const dir = tmpdir();
  const port = 18400 + (process.pid % 1000);
  const relay = spawnInNs(RELAY_BIN, [
    '--listen', `127.0.0.1:${port}`, '--socket', path.join(dir, 'h.sock'),
    '--log_level', 'debug', '--ping_interval', '1', '--tcp_user_timeout_ms', '2000', ...workersArgs([]),
  ]);
  after(() => relay.exitCode === null && relay.kill('SIGKILL'));
  await printed(relay, 'herald-relay 0.1.0: http://');
  const client = spawnInNs('curl', ['-sN', `http://127.0.0.1:${port}/sse?channel=gone`]);
  after(() => client.exitCode === null && client.kill('SIGKILL'));
  await printed(client, 'retry:');
  // The client's port, then drop everything it sends to the relay.
  const line = inNs('ss', '-Htn', 'state', 'established', `( dport = :${port} )`).trim();
  const cport = line.split(/\s+/)[2].split(':').pop();
  inNs('nft', 'add', 'table', 'inet', 'herald');
  inNs('nft', 'add', 'chain', 'inet', 'herald', 'in', '{ type filter hook input priority 0 ; }');
  inNs('nft', 'add', 'rule', 'inet', 'herald', 'in', 'tcp', 'sport', cport, 'tcp', 'dport',
    String(port), 'drop');
  await printed(relay, 'closed: connection timed out');
  const m = inNs('curl', '-s', `http://127.0.0.1:${port}/metrics`);
  assert.match(m, /^herald_connections\{transport="sse"\} 0$/m);
  client.kill('SIGKILL');
  relay.kill('SIGTERM');
  const r = await relay.done;
  assert.equal(r.code, 0, relay.out);
  assert.doesNotMatch(relay.out, SANITIZER_RE);
});
