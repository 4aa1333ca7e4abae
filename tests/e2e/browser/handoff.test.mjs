// The hand-off (packaging/app/herald-subscribe.php + the internal locations
// of packaging/nginx/herald.conf): the application checks its own session
// and answers X-Accel-Redirect; nginx proxies the same request to the relay
// with the channels the application allowed. No token anywhere.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, launchBrowser, newPage, request, requestUntil } from './lib/stack.mjs';

let stack;
let browser;
before(async () => {
  stack = await new Stack({ http2: true }).start();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await stack?.stop();
});

const waitGot = (page, name, n) =>
  page.waitForFunction(([k, m]) => (window.T.got[k] || []).length >= m, [name, n], { timeout: 30000 });

test('logged in: EventSource and WebSocket through the hand-off receive the allowed channels', async () => {
  const page = await newPage(browser, stack.url('/login.php?user=alice'));
  await page.goto(stack.url('/'));
  assert.equal(await page.getAttribute('meta[name=user]', 'content'), 'alice');
  await page.evaluate(() => {
    T.rawSse('es', '/herald-subscribe.php?channel=alerts&channel=user.alice&channel=room.ops');
    T.rawWs('ws', 'wss://' + location.host + '/herald-subscribe.php?transport=ws&channel=user.alice');
  });
  await page.waitForFunction(() => T.streams.es.opens >= 1 && T.streams.ws.open);

  await stack.publishOk({ t: 'sse', ch: 'alerts', data: 'for every user' });
  await stack.publishOk({ t: 'sse', ch: 'user.bob', data: 'for bob only' });
  await stack.publishOk({ t: 'sse', ch: 'user.alice', data: 'for alice' });
  await stack.publishOk({ t: 'sse', ch: 'room.ops', data: 'ops room' });
  await stack.publishOk({ t: 'ws', ch: 'user.bob', data: 'ws for bob' });
  await stack.publishOk({ t: 'ws', ch: 'user.alice', data: 'ws for alice' });
  await waitGot(page, 'es', 3);
  await waitGot(page, 'ws', 1);
  assert.deepEqual(await page.evaluate(() => T.data('es')), ['for every user', 'for alice', 'ops room']);
  assert.deepEqual(await page.evaluate(() => T.data('ws')), ['ws for alice']);

  // The hand-off fixed the WebSocket's channels: the browser cannot add bob's.
  await page.evaluate(() =>
    T.streams.ws.ws.send(JSON.stringify({ type: 'subscribe', channel: 'user.bob' })),
  );
  await waitGot(page, 'ws', 2);
  assert.deepEqual(JSON.parse((await page.evaluate(() => T.data('ws')))[1]), {
    type: 'error',
    channel: 'user.bob',
    error: 'channels are fixed on this connection',
  });
  await stack.publishOk({ t: 'ws', ch: 'user.bob', data: 'still for bob only' });
  await stack.publishOk({ t: 'ws', ch: 'user.alice', data: 'alice again' });
  await waitGot(page, 'ws', 3);
  assert.equal((await page.evaluate(() => T.data('ws')))[2], 'alice again');

  await page.close();
});

test('the shipped client through the hand-off: herald.v1 on the fixed channels; a refused subscribe reaches onError', async () => {
  const page = await newPage(browser, stack.url('/login.php?user=alice'));
  await page.goto(stack.url('/'));
  await page.evaluate(() =>
    T.ws('hv1', 'wss://' + location.host + '/herald-subscribe.php?transport=ws&channel=user.alice', [
      'user.alice',
      'user.bob',
    ]),
  );
  // user.alice was subscribed at the upgrade (the hand-off chose it);
  // user.bob is refused on this connection, and the page is told.
  await page.waitForFunction(() => T.streams.hv1.subscribed.has('user.alice') && T.streams.hv1.errors.length >= 1);
  assert.deepEqual(await page.evaluate(() => T.streams.hv1.errors.map((e) => [e.channel, e.error])), [
    ['user.bob', 'channels are fixed on this connection'],
  ]);
  assert.equal(await page.evaluate(() => T.streams.hv1.client.status.transport), 'websocket');
  await stack.publishOk({ t: 'ws', ch: 'user.bob', data: 'for bob only' });
  await stack.publishOk({ t: 'sse', ch: 'user.alice', data: 'alice, from sse_emit' });
  await stack.publishOk({ t: 'ws', ch: 'user.alice', data: 'alice, from ws_publish' });
  await waitGot(page, 'hv1', 2);
  assert.deepEqual(await page.evaluate(() => T.data('hv1')), ['alice, from sse_emit', 'alice, from ws_publish']);
  await page.close();
});

test('resume through the hand-off: last_event_id and Last-Event-ID reach the relay', async () => {
  const page = await newPage(browser, stack.url('/login.php?user=carol'));
  await page.goto(stack.url('/'));
  await page.evaluate(() => T.rawSse('first', '/herald-subscribe.php?channel=user.carol'));
  await page.waitForFunction(() => T.streams.first.opens >= 1);
  await stack.publishOk({ t: 'sse', ch: 'user.carol', data: 'one' });
  await waitGot(page, 'first', 1);
  const id = await page.evaluate(() => T.got.first[0].id);
  await stack.publishOk({ t: 'sse', ch: 'user.carol', data: 'two' });
  await stack.publishOk({ t: 'sse', ch: 'user.carol', data: 'three' });
  await waitGot(page, 'first', 3);
  // A new stream from the id of "one" gets exactly what came after it.
  await page.evaluate(
    (lid) => T.rawSse('resumed', '/herald-subscribe.php?channel=user.carol&last_event_id=' + encodeURIComponent(lid)),
    id,
  );
  await waitGot(page, 'resumed', 2);
  assert.deepEqual(await page.evaluate(() => T.data('resumed')), ['two', 'three']);
  // The same with the Last-Event-ID header a reconnecting EventSource sends.
  const r = await page.evaluate(async (lid) => {
    const res = await fetch('/herald-subscribe.php?channel=user.carol', { headers: { 'Last-Event-ID': lid } });
    const reader = res.body.getReader();
    let text = '';
    while (!text.includes('data: three')) text += new TextDecoder().decode((await reader.read()).value);
    reader.cancel();
    return { status: res.status, text };
  }, id);
  assert.equal(r.status, 200);
  assert.match(r.text, /data: two\n\n[^]*data: three\n\n/);
  assert.doesNotMatch(r.text, /data: one/);
  await page.close();
});

test('refused: no session 401, a channel of another user 403, and the browser gives up', async () => {
  const page = await newPage(browser, stack.url('/logout.php'));
  await page.goto(stack.url('/'));
  assert.equal(await page.getAttribute('meta[name=user]', 'content'), '');
  await page.evaluate(() => T.rawSse('anon', '/herald-subscribe.php?channel=alerts'));
  await page.waitForFunction(() => T.streams.anon.es.readyState === EventSource.CLOSED);
  assert.equal(await page.evaluate(() => T.streams.anon.opens), 0);
  assert.equal(page.responses.find((x) => x.url.includes('herald-subscribe.php')).status, 401);

  await page.goto(stack.url('/login.php?user=dave'));
  await page.goto(stack.url('/'));
  await page.evaluate(() => {
    T.rawSse('other', '/herald-subscribe.php?channel=alerts&channel=user.alice');
    T.rawWs('ws', 'wss://' + location.host + '/herald-subscribe.php?transport=ws&channel=user.alice');
  });
  await page.waitForFunction(() => T.streams.other.es.readyState === EventSource.CLOSED && T.streams.ws.closed);
  assert.equal(await page.evaluate(() => T.streams.ws.open), false);
  const statuses = page.responses.filter((x) => x.url.includes('herald-subscribe.php')).map((x) => x.status);
  assert.ok(statuses.includes(403), `statuses: ${statuses}`);

  // Without the browser: the same answers.
  assert.equal((await request(stack.url('/herald-subscribe.php?channel=alerts'))).status, 401);
  const login = await request(stack.url('/login.php?user=erin'));
  const cookie = login.headers['set-cookie'][0].split(';')[0];
  const get = (q) => request(stack.url('/herald-subscribe.php' + q), { headers: { cookie } });
  assert.equal((await get('?channel=user.alice')).status, 403);
  assert.equal((await get('?channel=' + encodeURIComponent('bad name'))).status, 400);
  assert.equal((await get('')).status, 400);
  assert.equal((await get('?channel=user.erin&transport=carrier-pigeon')).status, 400);
  await page.close();
});

// The channels the hand-off protects are refused on the public locations as
// shipped (packaging/herald/relay.ini: private_prefixes), and the hand-off's
// mark cannot be forged: nginx strips X-Herald-Handoff on /sse and /ws, and
// the relay refuses a wrong one. Tried as an anonymous user and as another
// user would: before this, an anonymous `curl /sse?channel=user.1` received
// another user's messages.
test('the hand-off protects its channels: anonymous and forged requests on /sse and /ws are refused', async () => {
  await stack.publishOk({ t: 'sse', ch: 'user.alice', data: 'password reset link' });
  for (const headers of [{}, { 'X-Herald-Handoff': 'guess' }]) {
    const r = await request(stack.url('/sse?channel=user.alice&last_event_id=0-0'), { headers });
    // 401 with a token secret configured, 403 without one: refused either way.
    assert.ok([401, 403].includes(r.status), `${JSON.stringify(headers)}: ${r.status} ${r.body}`);
    assert.doesNotMatch(r.body, /password reset/);
    const w = await request(stack.url('/ws?channel=room.ops'), {
      headers: { ...headers, Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    });
    assert.ok([401, 403].includes(w.status), `ws ${JSON.stringify(headers)}: ${w.status}`);
  }
  // Straight to the relay, past nginx: a wrong mark is a 403, counted.
  const direct = await request(`http://127.0.0.1:${stack.relayPort}/sse?channel=user.alice`, {
    headers: { 'X-Herald-Handoff': 'x'.repeat(64) },
  });
  assert.equal(direct.status, 403);
  const m = await request(`http://127.0.0.1:${stack.relayPort}/metrics`);
  assert.match(m.body, /^herald_auth_refused_total\{reason="handoff"\} 1$/m);
  // Public channels stay public.
  const pub = await requestUntil(stack.url('/sse?channel=alerts'), (b) => b.includes('retry:'));
  assert.equal(pub.status, 200);
});
