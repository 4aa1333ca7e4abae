// The Mercure front (/.well-known/mercure) against the real relay: form
// publishes as symfony/mercure sends them (plain fetch), subscribers on the
// npm eventsource client (headers through its fetch option) and on raw
// sockets where EventSource hides the bytes. Exact topics, URI templates
// and `*`; type, retry; resume by Last-Event-ID (header and query) and
// `earliest`; private updates only to subscribers whose JWT allows them,
// never to /sse or herald.v1 subscribers of the topic's channel; bad JWTs
// (HS256 and RS256 relays), bad input and CORS; heartbeats; what PHP
// publishes on a topic's channel. "Nothing arrived" is always proven by a
// sentinel published after, never by waiting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Relay, sse, tmpdir } from './lib/harness.mjs';
import { heraldClient } from './lib/herald.mjs';
import { PhpWorker } from './lib/php.mjs';
import { hs256, rs256, algNone, rsaKeys, mercureClaims, now } from './lib/jwt.mjs';
import {
  HUB,
  KEY,
  mercureFlags,
  mercureChannel,
  pubJwt,
  subJwt,
  publish,
  publishOk,
  subscribe,
  refused,
  rawSubscribe,
  rawHttp,
  query,
} from './lib/mercure.mjs';

const UUID = /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const BOOKS = 'https://example.com/books/{id}';
const OTHER_KEY = 'another-key-0123456789abcdef-xyz';

async function opened(...subs) {
  await Promise.all(subs.map((s) => s.opened));
}

// A herald.v1 subscriber of channel ch.
async function heraldSub(relay, ch) {
  const h = await heraldClient(relay.wsUrl('/ws'));
  h.send({ type: 'subscribe', channel: ch });
  await h.until((m) => m.type === 'subscribed' && m.channel === ch, `subscribed to ${ch}`);
  return h;
}

// The data of a herald.v1 client's messages up to the one with data `data`.
async function heraldDatas(h, data) {
  const msgs = await h.until((m) => m.type === 'message' && m.data === data, `message ${data}`);
  return msgs.filter((m) => m.json.type === 'message').map((m) => m.json.data);
}

test('publish: form fields, the id answered (given or urn:uuid); exact, template and * subscribers; two topics arrive once; type', async () => {
  const relay = await new Relay({ flags: mercureFlags() }).start();
  const T1 = 'https://example.com/books/1';
  const T2 = 'https://example.com/books/2';
  const AUTHOR = 'https://example.com/authors/1';
  const events = ['book.updated'];
  const exact = subscribe(relay, [['topic', T1]], { events });
  const tmpl = subscribe(relay, [['topic', BOOKS]], { events });
  const all = subscribe(relay, [['topic', '*']], { events });
  const both = subscribe(relay, [['topic', T1], ['topic', T2]], { events });
  const matched = subscribe(relay, [['match', T2]], { events });
  await opened(exact, tmpl, all, both, matched);

  const r = await publish(relay, { topic: T1, data: 'one', id: 'urn:test:1' });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.body, 'urn:test:1');
  assert.match(r.headers.get('content-type'), /^text\/plain; charset=utf-8$/i);
  const id2 = await publishOk(relay, { topic: [T1, T2], data: 'two' });
  assert.match(id2, UUID);
  const id3 = await publishOk(relay, { topic: AUTHOR, data: 'author' });
  assert.match(id3, UUID);
  assert.notEqual(id2, id3);
  await publishOk(relay, { topic: T2, data: 'typed', type: 'book.updated', id: 'urn:test:typed' });
  // Multi-line data stays one event.
  await publishOk(relay, { topic: T2, data: 'line 1\nline 2' });
  const end = await publishOk(relay, { topic: [T1, T2, AUTHOR], data: 'end' });

  assert.deepEqual(
    (await exact.until('end')).map((e) => [e.data, e.id]),
    [
      ['one', 'urn:test:1'],
      ['two', id2],
      ['end', end],
    ],
  );
  assert.deepEqual(await tmpl.datas('end'), ['one', 'two', 'typed', 'line 1\nline 2', 'end']);
  assert.deepEqual(await all.datas('end'), ['one', 'two', 'author', 'typed', 'line 1\nline 2', 'end']);
  assert.deepEqual(await both.datas('end'), ['one', 'two', 'typed', 'line 1\nline 2', 'end'], 'two topics, once');
  assert.deepEqual(await matched.datas('end'), ['two', 'typed', 'line 1\nline 2', 'end'], 'match= is exact');
  const typed = all.received.find((e) => e.data === 'typed');
  assert.deepEqual([typed.type, typed.id], ['book.updated', 'urn:test:typed']);
  for (const s of [exact, tmpl, all, both, matched]) s.close();
  await relay.stopClean();
});

test('the stream as bytes: head, first bytes, id/event/retry fields', async () => {
  const relay = await new Relay({ flags: mercureFlags() }).start();
  const T = 'https://example.com/raw';
  const c = await rawSubscribe(relay, query([['topic', T]]));
  assert.equal(c.head.status, 200);
  assert.match(c.head.headers['content-type'], /^text\/event-stream/);
  assert.equal(c.head.headers['cache-control'], 'private, no-cache, no-store, must-revalidate, max-age=0');
  assert.equal(c.head.headers['x-accel-buffering'], 'no');
  await c.until(() => c.body().startsWith(':\n'), 'the first bytes ":\\n"');
  await publishOk(relay, { topic: T, data: 'a', id: 'urn:raw:1', type: 'kind', retry: '2500' });
  await publishOk(relay, { topic: T, data: 'b', id: 'urn:raw:2' });
  await c.untilData('b');
  const evs = c.blocks().filter((b) => b.data !== undefined);
  assert.deepEqual(
    evs.map((b) => [b.id, b.event, b.retry, b.data]),
    [
      ['urn:raw:1', 'kind', '2500', 'a'],
      ['urn:raw:2', undefined, undefined, 'b'],
    ],
  );
  c.destroy();
  await relay.stopClean();
});

test('resume: Last-Event-ID header, lastEventID / last_event_id / Last-Event-ID query, earliest; Mercure-Last-Event-ID answered', async () => {
  const relay = await new Relay({ flags: mercureFlags() }).start();
  const T = 'https://example.com/resume';
  for (let i = 1; i <= 3; i++) await publishOk(relay, { topic: T, data: `r${i}`, id: `urn:r:${i}` });
  const topic = ['topic', T];
  const subs = {
    header: subscribe(relay, [topic], { headers: { 'Last-Event-ID': 'urn:r:1' } }),
    lastEventID: subscribe(relay, [topic, ['lastEventID', 'urn:r:2']]),
    last_event_id: subscribe(relay, [topic, ['last_event_id', 'urn:r:1']]),
    legacyQuery: subscribe(relay, [topic, ['Last-Event-ID', 'urn:r:2']]),
    earliest: subscribe(relay, [topic, ['last_event_id', 'earliest']]),
    headerWins: subscribe(relay, [topic, ['last_event_id', 'earliest']], { headers: { 'Last-Event-ID': 'urn:r:2' } }),
    template: subscribe(relay, [['topic', 'https://example.com/{x}']], { headers: { 'Last-Event-ID': 'urn:r:1' } }),
    unknown: subscribe(relay, [topic, ['lastEventID', 'urn:never-published']]),
    fresh: subscribe(relay, [topic]),
  };
  await opened(...Object.values(subs));
  for (const [name, s] of Object.entries(subs)) {
    const h = (await s.response).headers.get('mercure-last-event-id');
    assert.equal(h, name === 'fresh' ? null : 'urn:r:3', `${name}: Mercure-Last-Event-ID`);
  }
  await publishOk(relay, { topic: T, data: 'r4', id: 'urn:r:4' });
  const want = {
    header: ['r2', 'r3', 'r4'],
    lastEventID: ['r3', 'r4'],
    last_event_id: ['r2', 'r3', 'r4'],
    legacyQuery: ['r3', 'r4'],
    earliest: ['r1', 'r2', 'r3', 'r4'],
    headerWins: ['r3', 'r4'],
    template: ['r2', 'r3', 'r4'],
    unknown: ['r4'],
    fresh: ['r4'],
  };
  for (const [name, s] of Object.entries(subs)) {
    const got = await s.until('r4');
    assert.deepEqual(got.map((e) => e.data), want[name], name);
    assert.deepEqual(got.map((e) => e.id), want[name].map((d) => `urn:r:${d.slice(1)}`), `${name}: ids`);
    s.close();
  }
  await relay.stopClean();
});

test('private updates: only to subscribers whose JWT allows the topic (header or cookie); never to anonymous ones, other topics, /sse or herald.v1 subscribers of its channel', async () => {
  const relay = await new Relay({ flags: mercureFlags() }).start();
  const T = 'https://example.com/users/7/inbox';
  const INBOXES = 'https://example.com/users/{id}/inbox';
  const ok = {
    header: subscribe(relay, [['topic', T]], { jwt: subJwt([T]) }),
    cookie: subscribe(relay, [['topic', T]], { cookie: subJwt([INBOXES]) }),
    template: subscribe(relay, [['topic', INBOXES]], { jwt: subJwt(['*']) }),
    star: subscribe(relay, [['topic', '*']], { jwt: subJwt([T]) }),
  };
  const no = {
    anonymous: subscribe(relay, [['topic', T]]),
    otherTopic: subscribe(relay, [['topic', T]], { jwt: subJwt(['https://example.com/users/8/inbox']) }),
    publishOnly: subscribe(relay, [['topic', T]], { jwt: pubJwt(['*']) }),
    starAnonymous: subscribe(relay, [['topic', '*']]),
  };
  const ch = mercureChannel(T);
  assert.equal(ch, T, 'a plain URL topic is its own channel');
  const plain = sse(relay.url(`/sse?channel=${encodeURIComponent(ch)}`));
  await opened(...Object.values(ok), ...Object.values(no), plain);
  const h = await heraldSub(relay, ch);

  const id = await publishOk(relay, { topic: T, data: 'secret 1', private: 'on' });
  // `private` present with any value (here empty) is private.
  await publishOk(relay, { topic: T, data: 'secret 2', private: '' });
  await publishOk(relay, { topic: T, data: 'public' });

  for (const [name, s] of Object.entries(ok)) {
    assert.deepEqual(await s.datas('public'), ['secret 1', 'secret 2', 'public'], name);
    assert.equal(s.received[0].id, id);
  }
  for (const [name, s] of Object.entries(no)) assert.deepEqual(await s.datas('public'), ['public'], name);
  await plain.waitCount(1);
  assert.deepEqual(plain.received.map((e) => e.data), ['public'], '/sse on the channel');
  assert.deepEqual(await heraldDatas(h, 'public'), ['public'], 'herald.v1 on the channel');

  // History: a resume from earliest replays the private ones to the
  // authorised subscriber only (and the /sse resume never has them).
  const late = subscribe(relay, [['topic', T], ['last_event_id', 'earliest']], { jwt: subJwt([T]) });
  const lateAnon = subscribe(relay, [['topic', T], ['last_event_id', 'earliest']]);
  await opened(late, lateAnon);
  await publishOk(relay, { topic: T, data: 'end' });
  assert.deepEqual(await late.datas('end'), ['secret 1', 'secret 2', 'public', 'end']);
  assert.deepEqual(await lateAnon.datas('end'), ['public', 'end']);

  for (const s of [...Object.values(ok), ...Object.values(no), plain, late, lateAnon]) s.close();
  await h.close();
  await relay.stopClean();
});

test('topic → channel encoding: public updates reach /sse and herald.v1 subscribers of the documented channel', async () => {
  const relay = await new Relay({ flags: mercureFlags() }).start();
  const topics = [
    'https://example.com/search?q=a b&lang=é',
    `https://example.com/long/${'x'.repeat(250)}`, // over 200 bytes: =S + sha256
    'urn:herald:plain-topic_1.2,3;4@host',
  ];
  assert.equal(mercureChannel(topics[0]), 'https://example.com/search=3Fq=3Da=20b=26lang=3D=C3=A9');
  assert.match(mercureChannel(topics[1]), /^=S[0-9a-f]{64}$/);
  assert.equal(mercureChannel(topics[2]), topics[2]);
  for (const T of topics) {
    const ch = mercureChannel(T);
    const plain = sse(relay.url(`/sse?channel=${encodeURIComponent(ch)}`), { events: ['kind'] });
    await plain.opened;
    const h = await heraldSub(relay, ch);
    await publishOk(relay, { topic: T, data: `to ${T}`, type: 'kind' });
    await publishOk(relay, { topic: T, data: 'end' });
    await plain.waitCount(2);
    assert.deepEqual(plain.received.map((e) => [e.type, e.data]), [['kind', `to ${T}`], ['message', 'end']], T);
    assert.deepEqual(await heraldDatas(h, 'end'), [`to ${T}`, 'end'], T);
    plain.close();
    await h.close();
  }
  await relay.stopClean();
});

// One publish per case; status, a reason in the body, WWW-Authenticate on a
// 401, one more refusal counted.
async function expectRefused(relay, what, fn, status, text) {
  const before = (await refused(relay)).total;
  const r = await fn();
  assert.equal(r.status, status, `${what}: status (${r.body})`);
  assert.ok(r.body.trim().length > 0, `${what}: a reason in the body`);
  if (text) assert.match(r.body, text, what);
  if (status === 401) assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer/, `${what}: WWW-Authenticate`);
  assert.equal((await refused(relay)).total, before + 1, `${what}: counted`);
  return r;
}

async function getHub(relay, qs, headers = {}) {
  const ac = new AbortController();
  const res = await fetch(relay.url(`${HUB}?${qs}`), { headers, signal: ac.signal });
  // A stream (a wrong 200) is read no further.
  const body = res.status === 200 ? '' : await res.text();
  ac.abort();
  return { status: res.status, headers: res.headers, body };
}

test('bad JWTs: publish 401 (wrong key, alg none, other alg, RS256 on HS256, expired, not yet valid, tampered, not a JWT, none) and 403 (topic not granted, no claim); subscribe 401; nothing published', async () => {
  const relay = await new Relay({ flags: mercureFlags() }).start();
  const T = 'https://example.com/jwt';
  const sub = subscribe(relay, [['topic', T]]);
  await sub.opened;
  const rsa = rsaKeys();
  const claims = mercureClaims({ publish: ['*'] });
  const [h, , sig] = pubJwt([T]).split('.');
  const tampered = `${h}.${Buffer.from(JSON.stringify(mercureClaims({ publish: ['*'] }))).toString('base64url')}.${sig}`;
  const pub = (jwt, topics = [T]) => () => publish(relay, { topic: topics, data: 'must not arrive' }, { jwt });
  const cases = [
    ['wrong key', pub(pubJwt(['*'], { key: OTHER_KEY })), 401],
    ['alg none', pub(algNone(claims)), 401],
    ['alg HS512 header', pub(hs256(claims, KEY, { alg: 'HS512', typ: 'JWT' })), 401],
    ['RS256 token on an HS256 relay', pub(rs256(claims, rsa.privateKey)), 401],
    ['crit header', pub(hs256(claims, KEY, { alg: 'HS256', crit: ['exp'] })), 401],
    ['expired', pub(pubJwt(['*'], { exp: now() - 3600 })), 401],
    ['not yet valid', pub(pubJwt(['*'], { extra: { nbf: now() + 3600 } })), 401],
    ['tampered payload', pub(tampered), 401],
    ['not a JWT', pub('not-a-jwt'), 401],
    ['payload not JSON', pub(`${h}.${Buffer.from('nope').toString('base64url')}.x`), 401],
    ['publish claim not an array', pub(hs256({ mercure: { publish: '*' }, exp: now() + 60 }, KEY)), 401],
    ['no Authorization', pub(null), 401],
    ['a topic not granted', pub(pubJwt(['https://example.com/other'])), 403],
    ['one of two topics not granted', pub(pubJwt([T]), [T, 'https://example.com/other']), 403],
    ['no mercure claim', pub(hs256({ exp: now() + 3600 }, KEY)), 403],
    ['a subscribe claim only', pub(subJwt(['*'])), 403],
  ];
  for (const [what, fn, status] of cases) await expectRefused(relay, what, fn, status);

  // Subscribe: a JWT that fails is 401 (header or cookie), even with anonymous on.
  const qs = query([['topic', T]]);
  const subCases = [
    ['wrong key', { Authorization: `Bearer ${subJwt([T], { key: OTHER_KEY })}` }],
    ['alg none', { Authorization: `Bearer ${algNone(mercureClaims({ subscribe: ['*'] }))}` }],
    ['expired', { Authorization: `Bearer ${subJwt([T], { exp: now() - 3600 })}` }],
    ['not a JWT', { Authorization: 'Bearer garbage' }],
    ['cookie, wrong key', { Cookie: `mercureAuthorization=${subJwt([T], { key: OTHER_KEY })}` }],
  ];
  for (const [what, headers] of subCases) {
    const r = await expectRefused(relay, `subscribe: ${what}`, () => getHub(relay, qs, headers), 401);
    assert.match(r.headers.get('www-authenticate'), /error="invalid_token"/, what);
  }

  await publishOk(relay, { topic: T, data: 'sentinel' });
  assert.deepEqual(await sub.datas('sentinel'), ['sentinel']);
  sub.close();
  await relay.stopClean();
});

test('mercure_anonymous = 0: a subscriber without a JWT is refused 401, one with a JWT is served', async () => {
  const relay = await new Relay({ flags: mercureFlags({ mercure_anonymous: 0 }) }).start();
  const T = 'https://example.com/anon';
  await expectRefused(relay, 'no JWT', () => getHub(relay, query([['topic', T]])), 401);
  const s = subscribe(relay, [['topic', T]], { jwt: subJwt(['https://example.com/nothing']) });
  await s.opened;
  await publishOk(relay, { topic: T, data: 'public' });
  assert.deepEqual(await s.datas('public'), ['public']);
  s.close();
  await relay.stopClean();
});

test('RS256 keys (PEM public key file): RS256 JWTs publish and subscribe; HS256 over the PEM text and another key pair are refused', async () => {
  const dir = tmpdir('herald-mercure-rsa-');
  const rsa = rsaKeys(dir);
  const other = rsaKeys();
  const relay = await new Relay({
    flags: { mercure_jwt_key_file: rsa.file, mercure_jwt_alg: 'RS256', mercure_anonymous: 1 },
  }).start();
  const T = 'https://example.com/rsa';
  const authorised = subscribe(relay, [['topic', T]], { jwt: rs256(mercureClaims({ subscribe: [T] }), rsa.privateKey) });
  const anon = subscribe(relay, [['topic', T]]);
  await opened(authorised, anon);
  const pubRs = rs256(mercureClaims({ publish: [T] }), rsa.privateKey);
  const claims = mercureClaims({ publish: ['*'] });
  for (const [what, jwt] of [
    ['HS256 over the PEM text (alg confusion)', hs256(claims, rsa.publicPem)],
    ['another key pair', rs256(claims, other.privateKey)],
    ['HS256 over the default test key', hs256(claims, KEY)],
  ]) {
    await expectRefused(relay, what, () => publish(relay, { topic: T, data: 'must not arrive' }, { jwt }), 401);
  }
  await expectRefused(
    relay,
    'subscribe with another key pair',
    () => getHub(relay, query([['topic', T]]), { Authorization: `Bearer ${rs256(mercureClaims({ subscribe: [T] }), other.privateKey)}` }),
    401,
  );
  await publishOk(relay, { topic: T, data: 'secret', private: 'on' }, { jwt: pubRs });
  await publishOk(relay, { topic: T, data: 'public' }, { jwt: pubRs });
  assert.deepEqual(await authorised.datas('public'), ['secret', 'public']);
  assert.deepEqual(await anon.datas('public'), ['public']);
  authorised.close();
  anon.close();
  await relay.stopClean();
});

test('separate publisher and subscriber keys: each role accepts only its own key', async () => {
  const PK = 'publisher-key-0123456789abcdef';
  const SK = 'subscriber-key-0123456789abcdef';
  const relay = await new Relay({
    flags: { mercure_publisher_jwt_key: PK, mercure_subscriber_jwt_key: SK, mercure_anonymous: 1 },
  }).start();
  const T = 'https://example.com/roles';
  const good = subscribe(relay, [['topic', T]], { jwt: subJwt([T], { key: SK }) });
  await good.opened;
  await expectRefused(relay, 'publish with the subscriber key', () => publish(relay, { topic: T, data: 'x' }, { jwt: pubJwt(['*'], { key: SK }) }), 401);
  await expectRefused(
    relay,
    'subscribe with the publisher key',
    () => getHub(relay, query([['topic', T]]), { Authorization: `Bearer ${subJwt([T], { key: PK })}` }),
    401,
  );
  await publishOk(relay, { topic: T, data: 'secret', private: 'on' }, { jwt: pubJwt(['*'], { key: PK }) });
  await publishOk(relay, { topic: T, data: 'public' }, { jwt: pubJwt(['*'], { key: PK }) });
  assert.deepEqual(await good.datas('public'), ['secret', 'public']);
  good.close();
  await relay.stopClean();
});

test('bad input: 400 / 413 with a reason, counted; subscribers undisturbed', async () => {
  const relay = await new Relay({ flags: mercureFlags({ mercure_max_body_bytes: 8192 }) }).start();
  const T = 'https://example.com/input';
  const sub = subscribe(relay, [['topic', T]]);
  const tmpl = subscribe(relay, [['topic', 'https://example.com/{x}']]);
  await opened(sub, tmpl);
  const form = (body) => () => publish(relay, null, { body });
  const head = (len) =>
    `POST ${HUB} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${pubJwt()}\r\n` +
    `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${len}\r\n\r\n`;
  const raw = (h, b) => async () => {
    const r = await rawHttp(relay, h, b);
    return { status: r.status, body: r.body, headers: new Headers(r.headers) };
  };
  const cases = [
    // subscribe
    ['malformed selector', () => getHub(relay, 'topic={'), 400, /invalid topic selector/],
    ['malformed template', () => getHub(relay, query([['topic', 'https://example.com/{id']])), 400, /invalid topic selector/],
    ['no topic', () => getHub(relay, ''), 400, /Missing "topic" parameter/],
    ['match_urlpattern', () => getHub(relay, query([['match_urlpattern', 'https://example.com/*']])), 400],
    ['101 selectors', () => getHub(relay, query(Array.from({ length: 101 }, (_, i) => ['topic', `t${i}`]))), 400],
    // publish
    ['oversized form body (Content-Length, no body sent)', raw(head(8193)), 413],
    ['oversized form body', () => publish(relay, { topic: T, data: 'x'.repeat(9000) }), 413],
    ['publish without topic', () => publish(relay, { data: 'x' }), 400, /Missing "topic" parameter/],
    ['bad retry', () => publish(relay, { topic: T, data: 'x', retry: 'abc' }), 400, /Invalid "retry" parameter/],
    ['negative retry', () => publish(relay, { topic: T, data: 'x', retry: '-1' }), 400, /Invalid "retry" parameter/],
    ['bad escape in the form', form(`topic=${encodeURIComponent(T)}&data=%zz`), 400],
    ['data not UTF-8', form(`topic=${encodeURIComponent(T)}&data=%FF%FE`), 400],
    ['id "earliest"', () => publish(relay, { topic: T, data: 'x', id: 'earliest' }), 400],
    ['id starting with #', () => publish(relay, { topic: T, data: 'x', id: '#frag' }), 400],
    ['id with a newline', () => publish(relay, { topic: T, data: 'x', id: 'a\nid: forged' }), 400],
    ['type "mercure"', () => publish(relay, { topic: T, data: 'x', type: 'mercure' }), 400],
    ['type with a control character', () => publish(relay, { topic: T, data: 'x', type: 'a\u0001' }), 400],
    ['topic with a control character', () => publish(relay, { topic: `${T}\u0000`, data: 'x' }), 400],
    ['topic over 2048 bytes', () => publish(relay, { topic: `https://example.com/${'y'.repeat(2049)}`, data: 'x' }), 400],
    ['33 topics', () => publish(relay, { topic: Array.from({ length: 33 }, (_, i) => `${T}/${i}`), data: 'x' }), 400],
  ];
  for (const [what, fn, status, text] of cases) await expectRefused(relay, what, fn, status, text);
  const { by } = await refused(relay);
  assert.ok(Object.keys(by).length >= 2, `refusals counted by reason: ${JSON.stringify(by)}`);

  // Data is optional; an empty update is an update.
  await publishOk(relay, { topic: T });
  await publishOk(relay, { topic: T, data: 'next' });
  assert.deepEqual(await sub.datas('next'), ['', 'next']);
  assert.deepEqual(await tmpl.datas('next'), ['', 'next']);
  sub.close();
  tmpl.close();
  await relay.stopClean();
});

test('CORS: preflight answered 204 for a listed origin; streams carry the CORS headers; publishing with the cookie only from a listed origin', async () => {
  const APP = 'http://app.example';
  const relay = await new Relay({ flags: mercureFlags({ mercure_cors_origins: `${APP},http://other.example` }) }).start();
  const T = 'https://example.com/cors';
  const preflight = (origin, method = 'GET') =>
    fetch(relay.url(`${HUB}?topic=x`), {
      method: 'OPTIONS',
      headers: { Origin: origin, 'Access-Control-Request-Method': method, 'Access-Control-Request-Headers': 'authorization,last-event-id' },
    });
  for (const method of ['GET', 'POST']) {
    const r = await preflight(APP, method);
    assert.equal(r.status, 204, method);
    assert.equal(r.headers.get('access-control-allow-origin'), APP);
    assert.equal(r.headers.get('access-control-allow-credentials'), 'true');
    const allowed = (r.headers.get('access-control-allow-headers') ?? '').toLowerCase();
    for (const hdr of ['authorization', 'last-event-id', 'cache-control', 'content-type']) assert.ok(allowed.includes(hdr), `${hdr} in ${allowed}`);
    const methods = r.headers.get('access-control-allow-methods') ?? '';
    assert.match(methods, /GET/);
    assert.match(methods, /POST/);
  }
  const evil = await preflight('http://evil.example');
  assert.notEqual(evil.headers.get('access-control-allow-origin'), 'http://evil.example');
  assert.notEqual(evil.headers.get('access-control-allow-origin'), '*');

  const s = subscribe(relay, [['topic', T]], { headers: { Origin: APP } });
  await s.opened;
  const h = (await s.response).headers;
  assert.equal(h.get('access-control-allow-origin'), APP);
  assert.equal(h.get('access-control-allow-credentials'), 'true');
  // A refused subscribe too: a page can read why.
  const bad = await fetch(relay.url(`${HUB}?topic=%7B`), { headers: { Origin: APP } });
  assert.equal(bad.status, 400);
  assert.equal(bad.headers.get('access-control-allow-origin'), APP);
  await bad.text();

  // The cookie publishes only from a listed origin (Origin, else Referer's).
  const cookie = { Cookie: `mercureAuthorization=${pubJwt([T])}` };
  const viaCookie = (headers) => () => publish(relay, { topic: T, data: 'must not arrive' }, { jwt: null, headers: { ...cookie, ...headers } });
  await expectRefused(relay, 'cookie from an unlisted origin', viaCookie({ Origin: 'http://evil.example' }), 401);
  await expectRefused(relay, 'cookie with no origin', viaCookie({}), 401);
  await expectRefused(relay, 'cookie from an unlisted Referer', viaCookie({ Referer: 'http://evil.example/page' }), 401);
  let r = await viaCookie({ Origin: APP })();
  assert.equal(r.status, 200, r.body);
  assert.equal(r.headers.get('access-control-allow-origin'), APP, 'the publish answer carries CORS too (a page reads the id)');
  const id1 = r.body;
  r = await viaCookie({ Referer: `${APP}/some/page` })();
  assert.equal(r.status, 200, r.body);
  await publishOk(relay, { topic: T, data: 'end' });
  const got = await s.until('end');
  assert.deepEqual(got.map((e) => e.id).slice(0, 1), [id1]);
  assert.equal(got.length, 3);
  s.close();
  await relay.stopClean();
});

test('heartbeat: a comment after mercure_heartbeat idle seconds; updates still flow after it', async () => {
  const relay = await new Relay({ flags: mercureFlags({ mercure_heartbeat: 1 }) }).start();
  const T = 'https://example.com/beat';
  const c = await rawSubscribe(relay, query([['topic', T]]));
  // The first bytes are ":\n"; a heartbeat is another comment line.
  await c.until(() => c.body().split('\n').filter((l) => l === ':').length >= 2, 'a heartbeat comment');
  assert.ok(c.body().startsWith(':\n'));
  await publishOk(relay, { topic: T, data: 'after' });
  const b = await c.untilData('after');
  assert.equal(b.data, 'after');
  c.destroy();
  await relay.stopClean();
});

test("PHP: herald_publish on a topic's channel reaches its exact-topic Mercure subscribers (Herald id), not template ones", async () => {
  const relay = await new Relay({ flags: mercureFlags() }).start();
  const T = 'https://example.com/php/orders?id=7';
  const exact = subscribe(relay, [['topic', T]], { events: ['order'] });
  // A template that matches T ({?id} is "?id=7").
  const tmpl = subscribe(relay, [['topic', 'https://example.com/php/orders{?id}']], { events: ['order'] });
  const star = subscribe(relay, [['topic', '*']], { events: ['order'] });
  await opened(exact, tmpl, star);
  const php = new PhpWorker(relay.socket);
  let r = await php.call('herald_publish', [mercureChannel(T), { status: 'shipped' }, 'order']);
  assert.deepEqual([r.result, r.error], [true, null]);
  r = await php.call('herald_publish', [mercureChannel(T), 'plain']);
  assert.deepEqual([r.result, r.error], [true, null]);
  await publishOk(relay, { topic: T, data: 'sentinel' });
  const got = await exact.until('sentinel');
  assert.deepEqual(got.map((e) => [e.type, e.data]), [
    ['order', '{"status":"shipped"}'],
    ['message', 'plain'],
    ['message', 'sentinel'],
  ]);
  assert.match(got[0].id, /^[0-9A-Za-z]+-\d+$/, 'a Herald position');
  assert.deepEqual(await tmpl.datas('sentinel'), ['sentinel']);
  assert.deepEqual(await star.datas('sentinel'), ['sentinel']);
  // A Herald id resumes there: the next one and the sentinel.
  const resumed = subscribe(relay, [['topic', T]], { headers: { 'Last-Event-ID': got[0].id } });
  await resumed.opened;
  assert.deepEqual(await resumed.datas('sentinel'), ['plain', 'sentinel']);
  for (const s of [exact, tmpl, star, resumed]) s.close();
  await php.stop();
  await relay.stopClean();
});

test('PHP: herald_mercure_publish reaches template subscribers with its id, type and privacy; herald_mercure_channel agrees with the relay', async () => {
  const relay = await new Relay({ flags: mercureFlags() }).start();
  const php = new PhpWorker(relay.socket);
  const T = 'https://example.com/php/books/1';
  for (const topic of [T, 'https://example.com/php/books/1?x=é', `https://example.com/${'z'.repeat(300)}`]) {
    const r = await php.call('herald_mercure_channel', [topic]);
    assert.equal(r.result, mercureChannel(topic), topic);
  }
  const tmpl = subscribe(relay, [['topic', 'https://example.com/php/books/{id}']], { events: ['book'] });
  const authorised = subscribe(relay, [['topic', T]], { jwt: subJwt([T]), events: ['book'] });
  await opened(tmpl, authorised);
  let r = await php.call('herald_mercure_publish', [[T], 'from php', false, 'urn:php:1', 'book', 3000]);
  assert.deepEqual([r.result, r.error], ['urn:php:1', null]);
  r = await php.call('herald_mercure_publish', [T, 'private from php', true]);
  assert.match(r.result, UUID);
  const privId = r.result;
  // The sentinel through the same publisher: "nothing else arrived" needs
  // no cross-publisher order (that is relay_workers_order's).
  await php.call('herald_mercure_publish', [T, 'sentinel']);
  const got = await authorised.until('sentinel');
  assert.deepEqual(got.map((e) => [e.type, e.data, e.id]).slice(0, 2), [
    ['book', 'from php', 'urn:php:1'],
    ['message', 'private from php', privId],
  ]);
  assert.deepEqual(await tmpl.datas('sentinel'), ['from php', 'sentinel']);
  tmpl.close();
  authorised.close();
  await php.stop();
  await relay.stopClean();
});
