// scripts/demo.sh (`make demo`) run as a newcomer runs it, on free ports, for
// the browser tests of the demo (demo.test.mjs: the dashboard; chat.test.mjs:
// the chat room over application hooks).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, freePort, tmpdir, launchBrowser, canConnect, request } from './stack.mjs';

export function runDemo(env) {
  const proc = spawn('bash', [path.join(ROOT, 'scripts/demo.sh')], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, like a terminal's foreground job
  });
  const d = { proc, out: '', err: '' };
  proc.stdout.on('data', (c) => (d.out += c));
  proc.stderr.on('data', (c) => (d.err += c));
  d.exit = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  d.closed = new Promise((resolve) => proc.on('close', resolve));
  // Resolves with the dashboard URL the script prints, or fails if it ends
  // first (at 'close': all it printed has been read).
  d.url = new Promise((resolve, reject) => {
    const check = () => {
      const m = /Dashboard\s+(http:\/\/\S+)[\s\S]*\n\s+Chat\s+(http:\/\/\S+)/.exec(d.out);
      if (m) {
        d.chatUrl = m[2];
        resolve(m[1]);
      }
    };
    proc.stdout.on('data', check);
    d.closed.then(async () => reject(new Error(`demo.sh exited ${JSON.stringify(await d.exit)}:\n${d.out}\n${d.err}`)));
  });
  d.url.catch(() => {}); // a test that expects the exit does not await it
  return d;
}

export const portFree = async (port) => !(await canConnect({ host: '127.0.0.1', port }));

// The relay's gauge of one kind of connection.
export async function relayConnections(relayPort, transport) {
  const r = await request(`http://127.0.0.1:${relayPort}/metrics`);
  const m = new RegExp(`^herald_connections\\{transport="${transport.replace('.', '\\.')}"\\} (\\d+)$`, 'm').exec(r.body);
  return m ? Number(m[1]) : 0;
}

export const relayOpen = () => {
  const el = document.getElementById('relay-status');
  return el.dataset.status === 'open' && el.dataset.transport === 'websocket';
};

// scripts/demo.sh on free ports (started again if another process took one).
export async function startDemo(t, { env = {}, viewport = { width: 1400, height: 730 } } = {}) {
  const dir = tmpdir('herald-demo-test-');
  const socket = path.join(dir, 'herald.sock');
  // freePort() released its ports: another process may take one before the
  // demo binds it, and the demo then refuses ("already in use"). It is
  // started again on other ports.
  let demo;
  let relayPort;
  let port;
  let url;
  for (let attempt = 1; ; attempt++) {
    relayPort = await freePort();
    port = await freePort();
    // A faster publisher keeps the test short; the page is the same.
    demo = runDemo({
      DEMO_RELAY_PORT: String(relayPort),
      DEMO_PORT: String(port),
      DEMO_SOCKET: socket,
      HERALD_DEMO_INTERVAL_MS: process.env.HERALD_DEMO_INTERVAL_MS || '250',
      ...env,
    });
    try {
      url = await demo.url;
      break;
    } catch (e) {
      if (attempt >= 10 || !/already in use/i.test(demo.err)) throw e;
    }
  }
  const browser = await launchBrowser({ viewport });
  t.after(async () => {
    await browser.close();
    if (demo.proc.exitCode === null) process.kill(demo.proc.pid, 'SIGTERM');
    await demo.exit;
    fs.rmSync(dir, { recursive: true, force: true });
  });
  assert.equal(url, `http://127.0.0.1:${port}/`);
  assert.ok(fs.existsSync(socket), 'the relay listens on DEMO_SOCKET');
  return { demo, browser, url, chatUrl: demo.chatUrl, port, relayPort, socket };
}
