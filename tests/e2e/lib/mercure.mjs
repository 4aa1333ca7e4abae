// The Mercure front's side of the e2e tests: a relay with it on, publishes
// as plain fetch() form posts (what symfony/mercure sends), subscribers on
// the npm eventsource client with custom headers (Authorization, Cookie,
// Last-Event-ID) through its fetch option, and the topic → channel encoding
// of docs/PROTOCOL.md written again here so the tests check the relay's.
import crypto from 'node:crypto';
import { after } from 'node:test';
import { EventSource } from 'eventsource';
import { DEADLINE_MS, RawClient, httpRequestText, parseResponse, parseSse } from './harness.mjs';
import { hs256, mercureClaims } from './jwt.mjs';

export const HUB = '/.well-known/mercure';
export const KEY = 'mercure-test-key-0123456789abcdef';
export const COOKIE = 'mercureAuthorization';

export const mercureFlags = (extra = {}) => ({ mercure_jwt_key: KEY, mercure_anonymous: 1, ...extra });

// JWTs over KEY (or key): one that may publish to these selectors, one
// that may subscribe to them.
export const pubJwt = (publish = ['*'], { key = KEY, ...o } = {}) => hs256(mercureClaims({ publish, ...o }), key);
export const subJwt = (subscribe, { key = KEY, ...o } = {}) => hs256(mercureClaims({ subscribe, ...o }), key);

// Topic → channel: [A-Za-z0-9_.:@/,;-] kept, every other byte =XX
// (uppercase hex); longer than 200 bytes: =S + sha256 hex of the topic.
export function mercureChannel(topic) {
  let out = '';
  for (const b of Buffer.from(topic, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9_.:@/,;-]/.test(c) ? c : '=' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  if (out.length > 200) out = '=S' + crypto.createHash('sha256').update(topic, 'utf8').digest('hex');
  return out;
}

// A query string from [[name, value], ...] (names may repeat).
export const query = (pairs) => new URLSearchParams(pairs).toString();

// POST the form (pairs, or an object whose array values repeat) to the
// hub; jwt goes in Authorization unless null. Returns status, headers, body.
export async function publish(relay, fields, { jwt = pubJwt(), headers = {}, body } = {}) {
  const pairs = Array.isArray(fields)
    ? fields
    : Object.entries(fields ?? {}).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x]) : [[k, v]]));
  const h = { 'Content-Type': 'application/x-www-form-urlencoded', ...headers };
  if (jwt) h.Authorization = `Bearer ${jwt}`;
  const res = await fetch(relay.url(HUB), { method: 'POST', headers: h, body: body ?? query(pairs) });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

// Publish and fail unless the hub answered 200; returns the id it answered.
export async function publishOk(relay, fields, opts) {
  const r = await publish(relay, fields, opts);
  if (r.status !== 200) throw new Error(`publish answered ${r.status}: ${r.body}`);
  return r.body;
}

// A subscriber on the npm eventsource client. q: pairs or a query string;
// jwt in Authorization, cookie as the mercureAuthorization cookie, headers
// on every request; events: type names to record besides "message".
// response resolves with the first response's status and headers.
export function subscribe(relay, q, { jwt, cookie, headers = {}, events = [] } = {}) {
  const h = { ...headers };
  if (jwt) h.Authorization = `Bearer ${jwt}`;
  if (cookie) h.Cookie = `${COOKIE}=${cookie}`;
  const qs = typeof q === 'string' ? q : query(q);
  let gotResponse;
  const response = new Promise((r) => (gotResponse = r));
  const fetchWith = async (input, init) => {
    const res = await fetch(input, { ...init, headers: { ...init.headers, ...h } });
    gotResponse({ status: res.status, headers: res.headers });
    return res;
  };
  const es = new EventSource(relay.url(`${HUB}?${qs}`), { fetch: fetchWith });
  // A test that fails before close() would leave it reconnecting forever
  // (called from a test, after() hooks that test).
  after(() => es.close());
  const received = [];
  const waiters = [];
  const push = (type) => (e) => {
    received.push({ type, data: e.data, id: e.lastEventId });
    for (const w of waiters.slice()) w();
  };
  es.onmessage = push('message');
  for (const name of events) es.addEventListener(name, push(name));
  const opened = new Promise((resolve, reject) => {
    es.onopen = resolve;
    es.onerror = (e) => {
      if (es.readyState === EventSource.CLOSED) reject(new Error(`EventSource closed: ${e.message ?? e.code}`));
    };
  });
  // Every event up to and including the first whose data is `data`.
  const until = (data, timeoutMs = DEADLINE_MS) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const i = received.findIndex((e) => e.data === data);
        if (i < 0) return;
        waiters.splice(waiters.indexOf(check), 1);
        clearTimeout(timer);
        resolve(received.slice(0, i + 1));
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(check), 1);
        reject(new Error(`timed out waiting for ${JSON.stringify(data)}; got ${JSON.stringify(received)}`));
      }, timeoutMs);
      waiters.push(check);
      check();
    });
  // The data of every event up to the one whose data is `data`.
  const datas = async (data) => (await until(data)).map((e) => e.data);
  return { es, received, opened, response, until, datas, close: () => es.close() };
}

// herald_mercure_refused_total, every reason together, and by reason.
export async function refused(relay) {
  const m = await relay.metrics();
  const by = {};
  let total = 0;
  for (const [k, v] of Object.entries(m)) {
    const r = /^herald_mercure_refused_total(?:\{reason="([^"]*)"\})?$/.exec(k);
    if (!r) continue;
    by[r[1] ?? ''] = v;
    total += v;
  }
  return { total, by };
}

// A subscriber read as raw bytes (what EventSource hides: the head, the
// first bytes, comments, retry:). head resolves once the response head is in.
export async function rawSubscribe(relay, qs, headers = {}) {
  const c = await RawClient.connect(relay.port);
  await c.write(httpRequestText(`${HUB}?${qs}`, headers));
  c.head = await c.until(() => parseResponse(c.text()), 'response head');
  c.body = () => {
    const t = c.text();
    return t.slice(t.indexOf('\r\n\r\n') + 4);
  };
  c.blocks = () => parseSse(c.body());
  c.untilData = (data) =>
    c.until(() => c.blocks().find((b) => b.data === data), `an event with data ${JSON.stringify(data)}`);
  return c;
}

// A request written by hand (a head that promises a body it never sends, a
// body no client would send); resolves with the response once its whole
// body (Content-Length) is in.
export async function rawHttp(relay, head, body = '') {
  const c = await RawClient.connect(relay.port);
  await c.write(head + body);
  const r = await c.until(() => {
    const p = parseResponse(c.text());
    if (!p) return null;
    const n = Number(p.headers['content-length'] ?? 0);
    return Buffer.byteLength(p.body) >= n ? p : null;
  }, 'a whole response');
  c.destroy();
  return r;
}
