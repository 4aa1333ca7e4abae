// The application's direct messages (Contract 5): herald_send() to one
// connection by the id the hook received, herald_send_user() to every
// connection of one user. They arrive as a herald.v1 reply without ref, on
// those connections only: the others get nothing before a sentinel
// published to everyone after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pubOk } from './lib/harness.mjs';
import { startHooks, ask } from './lib/hooks.mjs';

test('herald_send reaches one connection, herald_send_user every connection of that user', async () => {
  const h = await startHooks({ flags: { app_events: 'connect,message' } });
  const ana1 = await h.client('ana');
  const ana2 = await h.client('ana');
  const bob = await h.client('bob');
  for (const c of [ana1, ana2, bob]) {
    c.send({ type: 'subscribe', channel: 'lobby' });
    await c.until((j) => j.type === 'subscribed');
  }
  const who = (await ask(ana1, 'who am i')).data;
  assert.equal(who.user, 'ana');
  assert.match(who.conn, /^\d+\.\d+$/);
  const who2 = (await ask(ana2, 'and me')).data;
  assert.notEqual(who2.conn, who.conn);
  assert.equal(who2.conn.split('.')[0], who.conn.split('.')[0], 'one relay id');

  // bob's message makes the hook send to ana's first tab.
  assert.equal((await ask(bob, { do: 'send', conn: who.conn, data: 'private hello' })).data, true);
  const s1 = await pubOk(h.pub, 'all', 'lobby', 'sentinel 1');
  const sentinel1 = `{"type":"message","channel":"lobby","id":"${s1.id}","data":"sentinel 1"}`;
  const isS1 = (j) => j.type === 'message' && j.data === 'sentinel 1';
  assert.deepEqual(
    (await ana1.until(isS1)).map((m) => m.text),
    ['{"type":"reply","data":"private hello"}', sentinel1],
  );
  assert.deepEqual(
    (await ana2.until(isS1)).map((m) => m.text),
    [sentinel1],
  );
  assert.deepEqual(
    (await bob.until(isS1)).map((m) => m.text),
    [sentinel1],
  );

  // To the user: both of ana's tabs, not bob; a JSON value stays one.
  assert.equal((await ask(bob, { do: 'send_user', user: 'ana', data: { n: 1 } })).data, true);
  const s2 = await pubOk(h.pub, 'all', 'lobby', 'sentinel 2');
  const sentinel2 = `{"type":"message","channel":"lobby","id":"${s2.id}","data":"sentinel 2"}`;
  const isS2 = (j) => j.type === 'message' && j.data === 'sentinel 2';
  for (const c of [ana1, ana2]) {
    assert.deepEqual(
      (await c.until(isS2)).map((m) => m.text),
      ['{"type":"reply","data":{"n":1}}', sentinel2],
    );
  }
  assert.deepEqual(
    (await bob.until(isS2)).map((m) => m.text),
    [sentinel2],
  );

  // A connection gone: the send goes nowhere, nobody else gets it.
  await ana1.close();
  await ask(bob, { do: 'send', conn: who.conn, data: 'too late' });
  const s3 = await pubOk(h.pub, 'all', 'lobby', 'sentinel 3');
  for (const c of [ana2, bob]) {
    const got = await c.until((j) => j.type === 'message' && j.data === 'sentinel 3');
    assert.deepEqual(
      got.map((m) => m.json.id),
      [s3.id],
    );
  }
  await h.stop();
});

// except (Laravel's toOthers(), Pusher's socket_id): herald_publish() with the
// sender's connection id reaches every other subscriber of the channel, on
// every transport, and not the sender; the sentinel after proves the
// sender got nothing.
test('herald_publish with except: everyone but the sender', async () => {
  const h = await startHooks({ flags: { app_events: 'connect,message' } });
  const ana = await h.client('ana');
  const bob = await h.client('bob');
  for (const c of [ana, bob]) {
    c.send({ type: 'subscribe', channel: 'lobby' });
    await c.until((j) => j.type === 'subscribed');
  }
  const r = await ask(ana, { do: 'to_others', data: { text: 'hi all' }, event: 'said' }, { channel: 'lobby' });
  assert.equal(r.data, true);
  const s = await pubOk(h.pub, 'all', 'lobby', 'sentinel');
  const isS = (j) => j.type === 'message' && j.data === 'sentinel';
  assert.deepEqual(
    (await bob.until(isS)).map((m) => [m.json.event, m.json.data]),
    [['said', { text: 'hi all' }], [undefined, 'sentinel']],
  );
  assert.deepEqual(
    (await ana.until(isS)).map((m) => m.json.id),
    [s.id],
    'the sender gets nothing but the sentinel',
  );
  await h.stop();
});
