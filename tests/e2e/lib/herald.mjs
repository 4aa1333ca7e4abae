// A herald.v1 client (docs/PROTOCOL.md 2.8) on the npm ws package, for the
// e2e tests: every message is kept (text as its exact JSON text and parsed,
// binary as bytes); tests take them in order with take(n) or until(pred),
// never by waiting for time.
import { once } from 'node:events';
import WebSocket from 'ws';
import { DEADLINE_MS } from './harness.mjs';

export async function heraldClient(url, { headers = {}, protocols = ['herald.v1'] } = {}) {
  const ws = new WebSocket(url, protocols, { headers });
  const msgs = [];
  const waiters = [];
  ws.on('message', (d, isBinary) => {
    const buf = Buffer.from(d);
    if (isBinary) msgs.push({ binary: buf });
    else msgs.push({ text: buf.toString(), json: JSON.parse(buf.toString()) });
    for (const w of waiters.slice()) w();
  });
  const closed = new Promise((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  ws.on('error', () => {});
  await once(ws, 'open');
  let pos = 0;
  const wait = (pred, what) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const v = pred();
        if (v === undefined) return;
        waiters.splice(waiters.indexOf(check), 1);
        clearTimeout(timer);
        resolve(v);
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(check), 1);
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(msgs.slice(pos))}`));
      }, DEADLINE_MS);
      waiters.push(check);
      check();
    });
  return {
    ws,
    msgs,
    closed,
    send(o) {
      ws.send(typeof o === 'string' || Buffer.isBuffer(o) ? o : JSON.stringify(o));
    },
    // The next n messages.
    async take(n) {
      const out = await wait(() => (msgs.length >= pos + n ? msgs.slice(pos, pos + n) : undefined), `${n} messages`);
      pos += n;
      return out;
    },
    // The next n messages' JSON texts.
    async texts(n) {
      return (await this.take(n)).map((m) => m.text ?? m.binary.toString('hex'));
    },
    // Every message up to and including the first one pred accepts.
    async until(pred, what = 'a matching message') {
      const out = await wait(() => {
        for (let i = pos; i < msgs.length; i++) if (pred(msgs[i].json, msgs[i])) return msgs.slice(pos, i + 1);
        return undefined;
      }, what);
      pos += out.length;
      return out;
    },
    close() {
      ws.close();
      return closed;
    },
  };
}

// A binary message of the herald.v1 layout: 4-byte big-endian length N, N
// bytes of JSON envelope, payload.
export function binaryLayout(envelope, payload) {
  const j = Buffer.from(typeof envelope === 'string' ? envelope : JSON.stringify(envelope));
  const n = Buffer.alloc(4);
  n.writeUInt32BE(j.length);
  return Buffer.concat([n, j, Buffer.from(payload)]);
}

export function parseBinary(buf) {
  const n = buf.readUInt32BE(0);
  return { envelope: buf.subarray(4, 4 + n).toString(), payload: buf.subarray(4 + n) };
}
