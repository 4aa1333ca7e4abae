// A real redis-server for the cluster tests: started on a free loopback
// port with no persistence, stopped by pid, and a minimal RESP client for
// the few commands the tests need (PUBSUB NUMSUB, DEL, SET, FLUSHALL, ...).
// RedisProxy sits between one relay and Redis and can hold a relay's
// subscriber link (its SUBSCRIBE) until the test releases it, so a test
// can act while a subscription is not yet confirmed, deterministically.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { after } from 'node:test';
import { WORKERS, freePort, waitFor } from './harness.mjs';
import { killQuiet } from './kill.mjs';

export class Redis {
  constructor(port) {
    this.port = port;
    this.exited = null;
  }

  // Ready when this redis-server says so ("Ready to accept connections",
  // printed once it listens): a PING answered on a port that freePort()
  // released could come from another process that took the port meanwhile.
  // A port the harness chose that is taken by then ("Address already in
  // use") is replaced by another; a port the test fixed is not.
  async start() {
    after(() => {
      if (this.proc && !this.exited) killQuiet(this.proc.pid, 'SIGKILL');
    });
    const fixed = this.port;
    for (let attempt = 1; ; attempt++) {
      this.port = fixed || (await freePort());
      try {
        return await this.startOnce();
      } catch (e) {
        if (fixed || attempt >= 10 || !/Address already in use/.test(this.out)) throw e;
        this.exited = null;
      }
    }
  }

  async startOnce() {
    this.out = '';
    this.proc = spawn(
      'redis-server',
      [
        '--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
        ...(this.unixsocket ? ['--unixsocket', this.unixsocket] : []),
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.proc.stdout.on('data', (d) => (this.out += d));
    this.proc.stderr.on('data', (d) => (this.out += d));
    this.proc.on('exit', (code, signal) => (this.exited = { code, signal }));
    this.exitPromise = new Promise((r) =>
      this.proc.on('close', (code, signal) => r({ code, signal })),
    );
    await new Promise((resolve, reject) => {
      const onData = () => {
        if (!/Ready to accept connections/.test(this.out)) return;
        this.proc.stdout.off('data', onData);
        resolve();
      };
      this.proc.stdout.on('data', onData);
      this.exitPromise.then(() => reject(new Error(`redis-server exited at start:\n${this.out}`)));
    });
    return this;
  }

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  // Freeze and thaw the server by pid (SIGSTOP/SIGCONT).
  pause() {
    process.kill(this.proc.pid, 'SIGSTOP');
  }

  resume() {
    process.kill(this.proc.pid, 'SIGCONT');
  }

  async kill(signal = 'SIGKILL') {
    if (!this.exited) killQuiet(this.proc.pid, signal);
    return this.exitPromise;
  }

  // One command on a fresh connection; returns the decoded reply.
  cmd(...args) {
    return new Promise((resolve, reject) => {
      const s = net.connect(this.port, '127.0.0.1');
      let buf = Buffer.alloc(0);
      s.on('error', reject);
      s.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        const r = parse(buf, 0);
        if (r) {
          s.destroy();
          r.value instanceof Error ? reject(r.value) : resolve(r.value);
        }
      });
      const parts = args.map(String);
      s.write(
        `*${parts.length}\r\n` + parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join(''),
      );
    });
  }

  // Wait until n relays subscribe to a Herald channel. One loop subscribes
  // on one connection: with workers > 1 each loop that has clients on the
  // channel subscribes on its own (cluster/broker_redis.c), so a relay
  // counts 1 to workers connections; then at least n, and every relay
  // given (relays, else those of cluster()) has Redis's confirmation of
  // every channel its clients use (herald_redis_subscribing 0).
  async subscribers(channel, n, relays = this.relays || []) {
    const numsub = async () => (await this.cmd('PUBSUB', 'NUMSUB', `herald:m:${channel}`))[1];
    if (n === 0 || WORKERS === '1') {
      await waitFor(async () => (await numsub()) === n, `${n} relays on ${channel}`);
      return;
    }
    await waitFor(async () => {
      if ((await numsub()) < n) return false;
      for (const r of relays)
        if (!r.exited && (await r.metrics()).herald_redis_subscribing !== 0) return false;
      return true;
    }, `${n} relays on ${channel}`);
  }
}

// A TCP proxy to Redis for one relay. With hold() on, a connection that
// sends SUBSCRIBE (the relay's subscriber link; or another marker) has
// everything it sends from then on kept back until release(); replies and
// other links flow.
export class RedisProxy {
  constructor(redis) {
    this.redis = redis;
    this.holding = false;
    this.held = [];
    this.waiters = [];
    this.sockets = new Set();
    this.links = new Set();
  }

  async start() {
    this.server = net.createServer((client) => {
      const up = net.connect(this.redis.port, '127.0.0.1');
      this.sockets.add(client).add(up);
      const link = { marked: false };
      this.links.add(link);
      client.on('data', (d) => {
        if (this.holding && !link.marked && d.includes(this.marker)) link.marked = true;
        if (link.marked && this.holding) {
          this.held.push([up, d]);
          for (const w of this.waiters.splice(0)) w();
        } else {
          up.write(d);
        }
      });
      up.on('data', (d) => client.write(d));
      const close = () => {
        client.destroy();
        up.destroy();
      };
      client.on('close', close).on('error', close);
      up.on('close', close).on('error', close);
    });
    this.server.listen(0, '127.0.0.1');
    await new Promise((r) => this.server.once('listening', r));
    this.port = this.server.address().port;
    after(() => this.stop());
    return this;
  }

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  hold(marker = '\r\nSUBSCRIBE\r\n') {
    this.marker = marker;
    this.holding = true;
  }

  // Resolves once a subscriber link's bytes are being kept back.
  whenHeld() {
    return this.held.length ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }

  release() {
    this.holding = false;
    for (const l of this.links) l.marked = false;
    for (const [up, d] of this.held.splice(0)) up.write(d);
  }

  stop() {
    for (const s of this.sockets) s.destroy();
    this.server.close();
  }
}

function parse(buf, i) {
  const end = buf.indexOf('\r\n', i);
  if (end < 0) return null;
  const line = buf.toString('utf8', i + 1, end);
  const next = end + 2;
  switch (String.fromCharCode(buf[i])) {
    case '+':
      return { value: line, next };
    case '-':
      return { value: new Error(line), next };
    case ':':
      return { value: Number(line), next };
    case '$': {
      const n = Number(line);
      if (n < 0) return { value: null, next };
      if (buf.length < next + n + 2) return null;
      return { value: buf.toString('utf8', next, next + n), next: next + n + 2 };
    }
    case '*': {
      const n = Number(line);
      const out = [];
      let j = next;
      for (let k = 0; k < n; k++) {
        const r = parse(buf, j);
        if (!r) return null;
        out.push(r.value);
        j = r.next;
      }
      return { value: out, next: j };
    }
    default:
      return { value: new Error('bad reply'), next };
  }
}
