// The Mercure front in cluster mode: two relays through one real
// redis-server. URI-template and `*` subscribers on one relay receive what
// is published through the other's front; private updates cross relays to
// authorised subscribers only (never to anonymous ones or /sse subscribers
// of the channel); a Mercure Last-Event-ID from one relay resumes on the
// other. "Nothing arrived" is proven by a sentinel published after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sse } from './lib/harness.mjs';
import { cluster } from './lib/cluster.mjs';
import { mercureFlags, mercureChannel, subJwt, publishOk, subscribe } from './lib/mercure.mjs';

const flags = mercureFlags();

async function opened(...subs) {
  await Promise.all(subs.map((s) => s.opened));
}

test('cluster: template, * and exact subscribers on relay A receive what is published through relay B', async () => {
  const { relays, stop } = await cluster(2, { flags });
  const [A, B] = relays;
  const tmpl = subscribe(A, [['topic', 'https://example.com/books/{id}']]);
  const star = subscribe(A, [['topic', '*']]);
  const exact = subscribe(A, [['topic', 'https://example.com/books/2']]);
  await opened(tmpl, star, exact);
  const id1 = await publishOk(B, { topic: 'https://example.com/books/1', data: 'b1', id: 'urn:c:b1' });
  await publishOk(B, { topic: 'https://example.com/authors/1', data: 'author' });
  await publishOk(B, { topic: ['https://example.com/books/2', 'https://example.com/books/3'], data: 'b2+b3' });
  await publishOk(A, { topic: 'https://example.com/books/2', data: 'end' });
  const got = await tmpl.until('end');
  assert.deepEqual(got.map((e) => e.data), ['b1', 'b2+b3', 'end']);
  assert.equal(got[0].id, id1);
  assert.deepEqual(await star.datas('end'), ['b1', 'author', 'b2+b3', 'end']);
  assert.deepEqual(await exact.datas('end'), ['b2+b3', 'end']);
  for (const s of [tmpl, star, exact]) s.close();
  await stop();
});

test('cluster: a private update published on B reaches the authorised subscribers of both relays only', async () => {
  const { relays, stop } = await cluster(2, { flags });
  const [A, B] = relays;
  const T = 'https://example.com/users/7/inbox';
  const ok = {
    'A header': subscribe(A, [['topic', T]], { jwt: subJwt([T]) }),
    'A template': subscribe(A, [['topic', 'https://example.com/users/{id}/inbox']], { jwt: subJwt(['https://example.com/users/{id}/inbox']) }),
    'B cookie': subscribe(B, [['topic', T]], { cookie: subJwt([T]) }),
  };
  const no = {
    'A anonymous': subscribe(A, [['topic', T]]),
    'A other topic': subscribe(A, [['topic', T]], { jwt: subJwt(['https://example.com/users/8/inbox']) }),
    'A anonymous template': subscribe(A, [['topic', 'https://example.com/users/{id}/inbox']]),
    'B anonymous *': subscribe(B, [['topic', '*']]),
  };
  const plain = sse(A.url(`/sse?channel=${encodeURIComponent(mercureChannel(T))}`));
  await opened(...Object.values(ok), ...Object.values(no), plain);
  await publishOk(B, { topic: T, data: 'secret', private: 'on' });
  await publishOk(A, { topic: T, data: 'public' });
  for (const [name, s] of Object.entries(ok)) assert.deepEqual(await s.datas('public'), ['secret', 'public'], name);
  for (const [name, s] of Object.entries(no)) assert.deepEqual(await s.datas('public'), ['public'], name);
  await plain.waitCount(1);
  assert.deepEqual(plain.received.map((e) => e.data), ['public'], '/sse on the channel');
  for (const s of [...Object.values(ok), ...Object.values(no), plain]) s.close();
  await stop();
});

test('cluster: a Mercure Last-Event-ID published through one relay resumes on the other', async () => {
  const { relays, stop } = await cluster(2, { flags });
  const [A, B] = relays;
  const T = 'https://example.com/resume/1';
  for (let i = 1; i <= 3; i++) await publishOk(B, { topic: T, data: `r${i}`, id: `urn:r:${i}` });
  const exact = subscribe(A, [['topic', T]], { headers: { 'Last-Event-ID': 'urn:r:1' } });
  const tmpl = subscribe(A, [['topic', 'https://example.com/resume/{n}'], ['lastEventID', 'urn:r:2']]);
  const earliest = subscribe(A, [['topic', T], ['last_event_id', 'earliest']]);
  // A private one in history: replayed to the authorised only.
  const authorised = subscribe(A, [['topic', T], ['last_event_id', 'urn:r:3']], { jwt: subJwt([T]) });
  await opened(exact, tmpl, earliest);
  for (const s of [exact, tmpl, earliest])
    assert.equal((await s.response).headers.get('mercure-last-event-id'), 'urn:r:3');
  await authorised.opened;
  await publishOk(B, { topic: T, data: 'secret', private: 'on', id: 'urn:r:s' });
  await publishOk(A, { topic: T, data: 'r4', id: 'urn:r:4' });
  const got = await exact.until('r4');
  assert.deepEqual(got.map((e) => [e.data, e.id]), [
    ['r2', 'urn:r:2'],
    ['r3', 'urn:r:3'],
    ['r4', 'urn:r:4'],
  ]);
  assert.deepEqual(await tmpl.datas('r4'), ['r3', 'r4']);
  assert.deepEqual(await earliest.datas('r4'), ['r1', 'r2', 'r3', 'r4']);
  assert.deepEqual(await authorised.datas('r4'), ['secret', 'r4']);
  // And back: B resumes from an id A's front gave, private one included.
  const back = subscribe(B, [['topic', T]], { jwt: subJwt([T]), headers: { 'Last-Event-ID': 'urn:r:3' } });
  await back.opened;
  assert.equal((await back.response).headers.get('mercure-last-event-id'), 'urn:r:4');
  await publishOk(B, { topic: T, data: 'r5' });
  assert.deepEqual(await back.datas('r5'), ['secret', 'r4', 'r5']);
  for (const s of [exact, tmpl, earliest, authorised, back]) s.close();
  await stop();
});
