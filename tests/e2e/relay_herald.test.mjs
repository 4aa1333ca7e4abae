// The herald.v1 WebSocket subprotocol (docs/PROTOCOL.md 2.8) on a real
// relay with the npm ws client: negotiation (and raw mode without it), every
// envelope as exact JSON text, the binary layout byte for byte, JSON values
// embedded, a message on two channels once per channel, per-channel resume
// with since (exact, or gap), every refusal of the error table (its reason
// counted, the connection going on, another one undisturbed), send and
// presence errors, ping/pong, tokens per subscribe. "Nothing else arrived"
// is proven by a sentinel published after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Relay, Publisher, rawWs, wsClient, pubOk, waitFor } from './lib/harness.mjs';
import { heraldClient, binaryLayout, parseBinary } from './lib/herald.mjs';
import { SECRET, sign, now, token } from './lib/token.mjs';

const msg = (ch, id, data, event) =>
  JSON.stringify({ type: 'message', channel: ch, id, ...(event ? { event } : {}), data });

async function setup(flags = {}) {
  const relay = await new Relay({ flags }).start();
  const pub = await new Publisher(relay.socket).connect();
  const stop = async () => {
    await pub.close();
    await relay.stopClean();
  };
  return { relay, pub, stop };
}

// The position a fresh subscription starts from, as a new subscribe says.
async function position(relay, ch = 'pos-probe') {
  const c = await heraldClient(relay.wsUrl('/ws'));
  c.send({ type: 'subscribe', channel: ch });
  const [m] = await c.take(1);
  await c.close();
  return m.json.id;
}

test('negotiation: herald.v1 when offered (101 names it), raw mode otherwise', async () => {
  const { relay, pub, stop } = await setup();
  const offered = await rawWs(relay.port, '/ws', { 'Sec-WebSocket-Protocol': 'chat, herald.v1' });
  assert.equal(offered.response.status, 101);
  assert.equal(offered.response.headers['sec-websocket-protocol'], 'herald.v1');
  const other = await rawWs(relay.port, '/ws', { 'Sec-WebSocket-Protocol': 'chat' });
  assert.equal(other.response.status, 101);
  assert.equal(other.response.headers['sec-websocket-protocol'], undefined);
  const none = await rawWs(relay.port, '/ws');
  assert.equal(none.response.headers['sec-websocket-protocol'], undefined);
  for (const x of [offered, other, none]) x.destroy();

  const h = await heraldClient(relay.wsUrl('/ws?channel=n'));
  assert.equal(h.ws.protocol, 'herald.v1');
  const raw = await wsClient(relay.wsUrl('/ws?channel=n'));
  assert.equal(raw.ws.protocol, '');
  const [sub] = await h.take(1);
  assert.match(sub.text, /^\{"type":"subscribed","channel":"n","id":"[0-9a-f]+-\d+"\}$/);
  const a = await pubOk(pub, 'ws', 'n', 'hi');
  assert.deepEqual(await h.texts(1), [msg('n', a.id, 'hi')]);
  assert.deepEqual(await raw.waitCount(1), [{ data: 'hi', isBinary: false }]);
  // A raw client still gets raw replies; herald.v1 answers envelopes.
  raw.send({ type: 'subscribe', channel: 'm' });
  assert.equal((await raw.waitCount(2))[1].data, '{"type":"subscribed","channel":"m"}');
  const m = await relay.metrics();
  assert.equal(m['herald_connections{transport="herald.v1"}'], 1);
  assert.equal(m['herald_connections{transport="ws"}'], 1);
  assert.equal(m['herald_messages_delivered_total{transport="herald.v1"}'], 1);
  await h.close();
  raw.ws.close();
  await stop();
});

test('message envelopes: sse_emit, ws_publish text and binary, herald_publish, JSON values, exact bytes', async () => {
  const { relay, pub, stop } = await setup({ secret: SECRET, publish_api: 1 });
  const h = await heraldClient(relay.wsUrl('/ws'));
  h.send({ type: 'subscribe', channel: 'e', ref: 7 });
  const [sub] = await h.texts(1);
  const pos = JSON.parse(sub).id;
  assert.equal(sub, `{"type":"subscribed","channel":"e","id":"${pos}","ref":7}`);

  const s = await pubOk(pub, 'sse', 'e', 'line1\nline2 "q" \\ é', { event: 'note' });
  const w = await pubOk(pub, 'ws', 'e', 'text frame');
  const bin = Buffer.from([0, 1, 2, 0xff, 0x7b]);
  const b = await pubOk(pub, 'ws', 'e', bin);
  const all = await pubOk(pub, 'all', 'e', 'to everyone');
  const js = await pubOk(pub, 'all', 'e', '{"order":7,"total":12.5,"tags":["a"]}', { json: true });
  const jsev = await pubOk(pub, 'sse', 'e', '[1,null,true]', { json: true, event: 'arr' });
  const jstr = await pubOk(pub, 'all', 'e', '"a string value"', { json: true });
  // POST /publish: an object is a JSON value, a string stays a string.
  const PUB = sign({ alg: 'HS256', typ: 'JWT' }, { publish: ['e'], exp: now() + 300 });
  const post = async (body) => {
    const res = await fetch(`http://127.0.0.1:${relay.port}/publish`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${PUB}` },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 200);
    return (await res.json()).ids[0];
  };
  const p1 = await post({ channel: 'e', data: { hello: 'world', n: [1, 2] } });
  const p2 = await post({ channel: 'e', data: '{"not":"parsed"}', event: 'raw' });
  const end = await pubOk(pub, 'ws', 'e', 'end');

  const got = await h.take(10);
  assert.equal(got[0].text, `{"type":"message","channel":"e","id":"${s.id}","event":"note","data":"line1\\nline2 \\"q\\" \\\\ é"}`);
  assert.equal(got[1].text, msg('e', w.id, 'text frame'));
  // Binary: 4-byte length, the envelope without data, the payload as is.
  const env = `{"type":"message","channel":"e","id":"${b.id}"}`;
  const expected = Buffer.concat([Buffer.from([0, 0, 0, env.length]), Buffer.from(env), bin]);
  assert.equal(got[2].binary.toString('hex'), expected.toString('hex'));
  assert.deepEqual(parseBinary(got[2].binary), { envelope: env, payload: bin });
  assert.equal(got[3].text, msg('e', all.id, 'to everyone'));
  assert.equal(
    got[4].text,
    `{"type":"message","channel":"e","id":"${js.id}","data":{"order":7,"total":12.5,"tags":["a"]}}`,
  );
  assert.equal(got[5].text, `{"type":"message","channel":"e","id":"${jsev.id}","event":"arr","data":[1,null,true]}`);
  assert.equal(got[6].text, `{"type":"message","channel":"e","id":"${jstr.id}","data":"a string value"}`);
  assert.equal(got[7].text, `{"type":"message","channel":"e","id":"${p1}","data":{"hello":"world","n":[1,2]}}`);
  assert.equal(got[8].text, `{"type":"message","channel":"e","id":"${p2}","event":"raw","data":"{\\"not\\":\\"parsed\\"}"}`);
  // The sentinel: nothing else came between.
  assert.equal(got[9].text, msg('e', end.id, 'end'));
  const m = await relay.metrics();
  assert.equal(m['herald_messages_delivered_total{transport="herald.v1"}'], 10);
  await h.close();
  await stop();
});

test('a message published to several channels of a connection arrives once per channel, one id', async () => {
  const { relay, pub, stop } = await setup();
  const h = await heraldClient(relay.wsUrl('/ws?channel=a&channel=b&channel=c'));
  await h.take(3);
  const h2 = await heraldClient(relay.wsUrl('/ws?channel=b'));
  await h2.take(1);
  const both = await pubOk(pub, 'all', ['a', 'b', 'x'], 'both');
  const sentinel = await pubOk(pub, 'ws', 'c', 'sentinel');
  const got = await h.until((j) => j.data === 'sentinel');
  assert.deepEqual(
    got.map((m) => m.text),
    [msg('a', both.id, 'both'), msg('b', both.id, 'both'), msg('c', sentinel.id, 'sentinel')],
  );
  const again = await pubOk(pub, 'ws', ['b', 'a'], 'again');
  assert.deepEqual(await h2.texts(2), [msg('b', both.id, 'both'), msg('b', again.id, 'again')]);
  const got2 = await h.take(2);
  assert.deepEqual(got2.map((m) => m.json.channel).sort(), ['a', 'b']);
  assert.ok(got2.every((m) => m.json.id === again.id));
  await h.close();
  await h2.close();
  await stop();
});

test('subscribe with since: the missed messages once and in order, then live; unsubscribe', async () => {
  const { relay, pub, stop } = await setup();
  const first = await pubOk(pub, 'sse', 'r', 'm1');
  const m2 = await pubOk(pub, 'ws', 'r', 'm2');
  await pubOk(pub, 'sse', 'other', 'not r');
  const m3 = await pubOk(pub, 'all', ['r', 'other'], 'm3');
  const m4 = await pubOk(pub, 'sse', 'r', 'm4', { event: 'ev' });
  const h = await heraldClient(relay.wsUrl('/ws?channel=live'));
  await h.take(1);
  // Two resumes sent back to back, and a live channel in between.
  h.send({ type: 'subscribe', channel: 'r', since: first.id, ref: 'r1' });
  h.send({ type: 'subscribe', channel: 'other', since: m2.id });
  assert.deepEqual(await h.texts(4), [
    `{"type":"subscribed","channel":"r","id":"${first.id}","ref":"r1"}`,
    msg('r', m2.id, 'm2'),
    msg('r', m3.id, 'm3'),
    msg('r', m4.id, 'm4', 'ev'),
  ]);
  const other = await h.take(3);
  assert.equal(other[0].text, `{"type":"subscribed","channel":"other","id":"${m2.id}"}`);
  assert.equal(other[1].json.data, 'not r');
  assert.equal(other[2].text, msg('other', m3.id, 'm3'));
  const live = await pubOk(pub, 'all', ['r', 'live', 'other'], 'live');
  const got = await h.take(3);
  assert.deepEqual(got.map((m) => m.json.channel).sort(), ['live', 'other', 'r']);
  // Resuming from the last id: nothing missed, no gap.
  h.send({ type: 'subscribe', channel: 'r', since: live.id });
  assert.deepEqual(await h.texts(1), [`{"type":"subscribed","channel":"r","id":"${live.id}"}`]);
  h.send({ type: 'unsubscribe', channel: 'r', ref: 9 });
  assert.deepEqual(await h.texts(1), ['{"type":"unsubscribed","channel":"r","ref":9}']);
  h.send({ type: 'unsubscribe', channel: 'never' });
  assert.deepEqual(await h.texts(1), ['{"type":"unsubscribed","channel":"never"}']);
  const after = await pubOk(pub, 'all', 'r', 'after unsubscribe');
  const s = await pubOk(pub, 'all', 'live', 'sentinel');
  assert.deepEqual(await h.texts(1), [msg('live', s.id, 'sentinel')]);
  const m = await relay.metrics();
  assert.equal(m['herald_resumes_total{result="exact"}'], 3);
  assert.equal(m['herald_resumes_total{result="gap"}'], 0);
  // last_event_id in the query resumes every query channel like a since.
  const q = await heraldClient(relay.wsUrl(`/ws?channel=r&channel=other&last_event_id=${m3.id}`));
  assert.deepEqual(await q.texts(5), [
    `{"type":"subscribed","channel":"r","id":"${m3.id}"}`,
    msg('r', m4.id, 'm4', 'ev'),
    msg('r', live.id, 'live'),
    msg('r', after.id, 'after unsubscribe'),
    `{"type":"subscribed","channel":"other","id":"${m3.id}"}`,
  ]);
  assert.deepEqual(await q.texts(1), [msg('other', live.id, 'live')]);
  await q.close();
  await h.close();
  await stop();
});

test('gap: a foreign id, an id from the future, history evicted', async () => {
  const { relay, pub, stop } = await setup({ history_size: 2 });
  const e1 = await pubOk(pub, 'sse', 'g', 'e1');
  await pubOk(pub, 'sse', 'g', 'e2');
  const e3 = await pubOk(pub, 'sse', 'g', 'e3');
  const e4 = await pubOk(pub, 'ws', 'g', 'e4');
  const h = await heraldClient(relay.wsUrl('/ws'));
  // Evicted: the gap (no id, a replay follows), then what history holds.
  h.send({ type: 'subscribe', channel: 'g', since: e1.id });
  assert.deepEqual(await h.texts(4), [
    `{"type":"subscribed","channel":"g","id":"${e1.id}"}`,
    `{"type":"gap","channel":"g","since":"${e1.id}"}`,
    msg('g', e3.id, 'e3'),
    msg('g', e4.id, 'e4'),
  ]);
  // Foreign on an empty channel: the gap names the position to resume from.
  h.send({ type: 'subscribe', channel: 'empty', since: '0-0' });
  assert.deepEqual(await h.texts(2), [
    '{"type":"subscribed","channel":"empty","id":"0-0"}',
    `{"type":"gap","channel":"empty","since":"0-0","id":"${e4.id}"}`,
  ]);
  // Foreign on a channel with history: gap, then everything it holds.
  const h2 = await heraldClient(relay.wsUrl('/ws'));
  h2.send({ type: 'subscribe', channel: 'g', since: 'abc-5' });
  assert.deepEqual(await h2.texts(4), [
    '{"type":"subscribed","channel":"g","id":"abc-5"}',
    '{"type":"gap","channel":"g","since":"abc-5"}',
    msg('g', e3.id, 'e3'),
    msg('g', e4.id, 'e4'),
  ]);
  // Ahead of the relay (its epoch, a seq it never gave).
  const future = `${e1.id.split('-')[0]}-999999`;
  h2.send({ type: 'subscribe', channel: 'empty', since: future });
  assert.deepEqual(await h2.texts(2), [
    `{"type":"subscribed","channel":"empty","id":"${future}"}`,
    `{"type":"gap","channel":"empty","since":"${future}","id":"${e4.id}"}`,
  ]);
  const s = await pubOk(pub, 'all', ['g', 'empty'], 'live');
  assert.deepEqual(await h.texts(2), [msg('g', s.id, 'live'), msg('empty', s.id, 'live')]);
  assert.equal((await relay.metrics())['herald_resumes_total{result="gap"}'], 4);
  await h.close();
  await h2.close();
  await stop();
});

test('ping/pong, send and presence answered with errors, ref echoed', async () => {
  const { relay, stop } = await setup();
  const h = await heraldClient(relay.wsUrl('/ws'));
  h.send({ type: 'ping', ref: 'p1' });
  h.send({ type: 'ping' });
  h.send({ type: 'ping', ref: 9007199254740992 });
  h.send({ type: 'send', channel: 'orders', data: { hello: 1 }, ref: 2 });
  h.send({ type: 'send', data: 'x' });
  h.send({ type: 'presence', channel: 'orders', ref: 3 });
  h.send({ type: 'ping', ref: 'x', future_key: [1, 2] });
  assert.deepEqual(await h.texts(7), [
    '{"type":"pong","ref":"p1"}',
    '{"type":"pong"}',
    '{"type":"pong","ref":9007199254740992}',
    '{"type":"error","ref":2,"error":"no application hooks"}',
    '{"type":"error","error":"no application hooks"}',
    '{"type":"error","ref":3,"channel":"orders","error":"not a presence channel"}',
    '{"type":"pong","ref":"x"}',
  ]);
  await h.close();
  await stop();
});

// Each row of the error table: the input, the exact answer, the reason.
const ROWS = [
  ['not json', 'nope', '{"type":"error","error":"envelope is not a JSON object"}', 'not_json'],
  ['a JSON array', '[1,2]', '{"type":"error","error":"envelope is not a JSON object"}', 'not_json'],
  ['a duplicate key', '{"type":"ping","type":"ping"}', '{"type":"error","error":"envelope is not a JSON object"}', 'not_json'],
  ['no type', '{"channel":"a"}', '{"type":"error","error":"unknown type"}', 'unknown_type'],
  ['type not a string', '{"type":1,"ref":4}', '{"type":"error","ref":4,"error":"unknown type"}', 'unknown_type'],
  ['unknown type', '{"type":"hello"}', '{"type":"error","error":"unknown type"}', 'unknown_type'],
  ['no channel', '{"type":"subscribe"}', '{"type":"error","error":"channel must be a string"}', 'channel'],
  ['channel a number', '{"type":"unsubscribe","channel":5}', '{"type":"error","error":"channel must be a string"}', 'channel'],
  ['bad channel name', '{"type":"subscribe","channel":"a b","ref":"r"}', '{"type":"error","ref":"r","channel":"a b","error":"invalid channel name"}', 'channel'],
  ['presence bad name', '{"type":"presence","channel":"","ref":1}', '{"type":"error","ref":1,"channel":"","error":"invalid channel name"}', 'channel'],
  ['since a number', '{"type":"subscribe","channel":"a","since":5}', '{"type":"error","channel":"a","error":"since is not an event id"}', 'since'],
  ['since not an id', '{"type":"subscribe","channel":"a","since":"yesterday"}', '{"type":"error","channel":"a","error":"since is not an event id"}', 'since'],
  ['ref a float', '{"type":"ping","ref":1.5}', '{"type":"error","error":"invalid ref"}', 'ref'],
  ['ref an object', '{"type":"ping","ref":{}}', '{"type":"error","error":"invalid ref"}', 'ref'],
  ['ref past 2^53', '{"type":"ping","ref":9007199254740993}', '{"type":"error","error":"invalid ref"}', 'ref'],
  ['ref too long', `{"type":"ping","ref":"${'x'.repeat(63)}"}`, '{"type":"error","error":"invalid ref"}', 'ref'],
  ['send without data', '{"type":"send","channel":"a","ref":5}', '{"type":"error","ref":5,"channel":"a","error":"send needs data"}', 'send'],
  ['binary too short', Buffer.from([0, 0, 1]), '{"type":"error","error":"binary frame layout: shorter than 4 bytes"}', 'binary_layout'],
  ['binary length past the frame', Buffer.concat([Buffer.from([0, 0, 0, 9]), Buffer.from('{}')]), '{"type":"error","error":"binary frame layout: the length passes the frame"}', 'binary_layout'],
  ['binary envelope not an object', binaryLayout('[1]', 'x'), '{"type":"error","error":"binary frame layout: the envelope is not a JSON object"}', 'binary_layout'],
];

test('every refusal of the error table: exact error, counted by reason, the connection goes on, others undisturbed', async () => {
  const { relay, pub, stop } = await setup({ max_channels: 2 });
  const h = await heraldClient(relay.wsUrl('/ws?channel=keep'));
  const other = await heraldClient(relay.wsUrl('/ws?channel=keep'));
  await h.take(1);
  await other.take(1);
  const count = async (reason) => (await relay.metrics())[`herald_ws_envelope_errors_total{reason="${reason}"}`];
  for (const [what, input, answer, reason] of ROWS) {
    const before = await count(reason);
    h.send(input);
    h.send({ type: 'ping', ref: what });
    assert.deepEqual(await h.texts(2), [answer, JSON.stringify({ type: 'pong', ref: what })], what);
    assert.equal(await count(reason), before + 1, `${what}: counted as ${reason}`);
  }
  // A binary send carries its payload as data: no error for that row.
  h.send(binaryLayout({ type: 'send', ref: 'b' }, Buffer.from([1, 2])));
  assert.deepEqual(await h.texts(1), ['{"type":"error","ref":"b","error":"no application hooks"}']);
  // Past max_channels (keep is one; a second fits, a third does not).
  h.send({ type: 'subscribe', channel: 'two' });
  h.send({ type: 'subscribe', channel: 'three', ref: 3 });
  h.send({ type: 'subscribe', channel: 'two' }); // again: fine at the limit
  assert.deepEqual((await h.take(3)).map((m) => m.text.replace(/"id":"[^"]+"/, '"id":I')), [
    '{"type":"subscribed","channel":"two","id":I}',
    '{"type":"error","ref":3,"channel":"three","error":"too many channels"}',
    '{"type":"subscribed","channel":"two","id":I}',
  ]);
  assert.equal(await count('too_many_channels'), 1);
  // A private channel without a token (this relay has no secret).
  h.send({ type: 'subscribe', channel: 'private-x' });
  assert.deepEqual(await h.texts(1), [
    '{"type":"error","channel":"private-x","error":"private channels are not configured (no secret)"}',
  ]);
  assert.equal(await count('auth'), 1);
  // Still subscribed to what it had; the other connection saw none of it.
  const s = await pubOk(pub, 'all', ['keep', 'two'], 'sentinel');
  assert.deepEqual(await h.texts(2), [msg('keep', s.id, 'sentinel'), msg('two', s.id, 'sentinel')]);
  assert.deepEqual(await other.texts(1), [msg('keep', s.id, 'sentinel')]);
  assert.equal(other.msgs.length, 2);
  assert.equal((await relay.metrics())['herald_ws_protocol_errors_total'], 0);
  await h.close();
  await other.close();
  await stop();
});

test('X-Herald-Fixed-Channels: subscribe and unsubscribe refused, query channels kept', async () => {
  const { relay, pub, stop } = await setup();
  const h = await heraldClient(relay.wsUrl('/ws?channel=f'), { headers: { 'X-Herald-Fixed-Channels': '1' } });
  await h.take(1);
  h.send({ type: 'subscribe', channel: 'g', ref: 1 });
  h.send({ type: 'unsubscribe', channel: 'f' });
  assert.deepEqual(await h.texts(2), [
    '{"type":"error","ref":1,"channel":"g","error":"channels are fixed on this connection"}',
    '{"type":"error","channel":"f","error":"channels are fixed on this connection"}',
  ]);
  assert.equal((await relay.metrics())['herald_ws_envelope_errors_total{reason="fixed"}'], 2);
  const s = await pubOk(pub, 'all', ['g', 'f'], 'still f');
  assert.deepEqual(await h.texts(1), [msg('f', s.id, 'still f')]);
  await h.close();
  await stop();
});

test('tokens: checked per subscribe, a subscribe token replaces the connection token (refresh)', async () => {
  const { relay, pub, stop } = await setup({ secret: SECRET });
  const up = token(['private-a']);
  const h = await heraldClient(relay.wsUrl(`/ws?channel=private-a&token=${up}`));
  await h.take(1);
  const refused = (ch, error, ref) =>
    JSON.stringify({ type: 'error', ...(ref ? { ref } : {}), channel: ch, error });
  h.send({ type: 'subscribe', channel: 'private-b', ref: 1 });
  h.send({ type: 'subscribe', channel: 'private-b', token: token(['private-a'], { ttl: -3600 }) });
  h.send({ type: 'subscribe', channel: 'private-b', token: 'not.a.token' });
  h.send({ type: 'subscribe', channel: 'private-b', token: 5 });
  assert.deepEqual(await h.texts(4), [
    refused('private-b', 'token does not allow this channel', 1),
    refused('private-b', 'token expired'),
    refused('private-b', 'invalid token'),
    refused('private-b', 'invalid token'),
  ]);
  // A token of its own: taken, and kept for later subscribes.
  h.send({ type: 'subscribe', channel: 'private-b', token: token(['private-b', 'private-c']), ref: 2 });
  const [ok] = await h.take(1);
  assert.equal(ok.json.type, 'subscribed');
  assert.equal(ok.json.ref, 2);
  h.send({ type: 'subscribe', channel: 'private-c' });
  assert.equal((await h.take(1))[0].json.type, 'subscribed');
  // It replaced the upgrade's token: private-a is no longer allowed.
  h.send({ type: 'subscribe', channel: 'private-a' });
  assert.deepEqual(await h.texts(1), [refused('private-a', 'token does not allow this channel')]);
  // A public channel needs none, whatever the token.
  h.send({ type: 'subscribe', channel: 'public', token: 'garbage' });
  assert.equal((await h.take(1))[0].json.type, 'subscribed');
  // The refused subscribe left private-a as it was (still subscribed).
  const s = await pubOk(pub, 'all', ['private-a', 'private-b'], 'secret');
  const got = await h.take(2);
  assert.deepEqual(got.map((m) => m.json.channel).sort(), ['private-a', 'private-b']);
  const m = await relay.metrics();
  assert.equal(m['herald_ws_envelope_errors_total{reason="auth"}'], 5);
  assert.ok(got.every((x) => x.json.id === s.id));
  await h.close();
  await stop();
});

test('tokens: a subscribe refused past max_channels does not keep its token', async () => {
  const { relay, stop } = await setup({ secret: SECRET, max_channels: 1 });
  const h = await heraldClient(relay.wsUrl('/ws?channel=one'));
  await h.take(1);
  h.send({ type: 'subscribe', channel: 'private-z', token: token(['private-*']) });
  assert.deepEqual(await h.texts(1), [
    '{"type":"error","channel":"private-z","error":"too many channels"}',
  ]);
  h.send({ type: 'unsubscribe', channel: 'one' });
  h.send({ type: 'subscribe', channel: 'private-z' });
  assert.deepEqual(await h.texts(2), [
    '{"type":"unsubscribed","channel":"one"}',
    '{"type":"error","channel":"private-z","error":"token required"}',
  ]);
  await h.close();
  await stop();
});

test('heartbeat and control frames as raw WebSocket: an idle herald.v1 connection is pinged, a ping gets its pong', async () => {
  // ping_interval 3: the relay drops a WebSocket silent for 3 intervals, so
  // this leaves a loaded machine 9 s to get the client's pongs back (with 1,
  // a starved test process was cut as dead and waited for nothing).
  const { relay, pub, stop } = await setup({ ping_interval: 3 });
  const h = await heraldClient(relay.wsUrl('/ws?channel=hb'));
  await h.take(1);
  const pinged = new Promise((resolve) => h.ws.once('ping', resolve));
  const ponged = new Promise((resolve) => h.ws.once('pong', (d) => resolve(d.toString())));
  h.ws.ping('payload');
  assert.equal(await ponged, 'payload');
  await pinged;
  const s = await pubOk(pub, 'all', 'hb', 'after the ping');
  assert.deepEqual(await h.texts(1), [msg('hb', s.id, 'after the ping')]);
  assert.equal(h.msgs.length, 2);
  await h.close();
  await stop();
});

test('drain: a herald.v1 connection is closed with 1001 at shutdown', async () => {
  const relay = await new Relay({ flags: { drain_ms: 0 } }).start();
  const h = await heraldClient(relay.wsUrl('/ws?channel=d'));
  await h.take(1);
  const stopped = relay.stopClean();
  assert.equal((await h.closed).code, 1001);
  await stopped;
});

export { position };
