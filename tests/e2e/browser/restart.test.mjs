// The relay under supervisord (packaging/supervisor/herald-relay.conf) behind
// nginx: SIGKILL it and supervisord starts it again; the browser's own
// EventSource reconnects and goes on (a herald.gap tells it the new relay has
// no history of the old one); the shipped client (packages/herald-client,
// herald.v1) reconnects with exponential backoff and full jitter and resumes
// its channel (a gap after the crash, exactly after a clean stop). While the
// relay is stopped, nginx answers EventSources a retry stream
// (@herald_sse_down), so they never give up.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  Stack, launchBrowser, newPage, request, waitFor,
} from './lib/stack.mjs';

let stack;
let browser;
before(async () => {
  stack = await new Stack({ http2: true, supervised: true }).start();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await stack?.stop();
});

const BASE = 200;
const MAX = 1600;

const waitGot = (page, name, pred, what) =>
  page.waitForFunction(
    ([k, src]) => new Function('got', `return (${src})(got)`)(window.T.got[k] || []),
    [name, pred.toString()],
    { timeout: 30000 },
  ).catch((e) => {
    throw new Error(`${what}: ${e.message}\n${stack.logs()}`);
  });

// The EventSource on channel, the shipped client's WebSocket on channel + '.ws'
// (a herald.v1 subscriber receives sse_emit's messages too).
async function openClients(page, channel) {
  await page.evaluate(
    ([ch, base, max]) => {
      T.sse('es', '/sse', { channels: [ch] });
      T.ws('ws', 'wss://' + location.host + '/ws', [ch + '.ws'], { baseDelay: base, maxDelay: max });
    },
    [channel, BASE, MAX],
  );
  await page.waitForFunction((ch) => T.streams.es.opens >= 1 && T.streams.ws.subscribed.has(ch + '.ws'), channel);
}

// Every reconnection delay the client chose is within its backoff window
// ("full jitter": uniform in [0, min(cap, base * 2^attempt)]).
function assertBackoff(delays) {
  assert.ok(delays.length >= 1, 'the WebSocket client waited before reconnecting');
  delays.forEach((d, i) => {
    const cap = Math.min(MAX, BASE * 2 ** i);
    assert.ok(d >= 0 && d < cap, `delay ${i} = ${d} ms, not in [0, ${cap})`);
  });
}

test('supervisord starts the packaged program under any hard limit; the relay sizes its table from the limit it gets', async () => {
  // The program file sets no minfds (it used to set 65536, and supervisord
  // refused to start wherever the hard limit was lower, as it is here).
  const pid = stack.relay.relayPid();
  assert.ok(pid > 0);
  const limits = fs.readFileSync(`/proc/${pid}/limits`, 'utf8');
  const [, soft, hard] = /^Max open files\s+(\d+)\s+(\d+)/m.exec(limits).map(Number);
  assert.equal(soft, hard, 'the relay raised its soft limit to the hard one');
  const metrics = (await request(`http://127.0.0.1:${stack.relayPort}/metrics`)).body;
  const reserve = soft > 4096 ? 1024 : Math.floor(soft / 4);
  assert.match(metrics, new RegExp(`^herald_connections_max ${soft - reserve}$`, 'm'));
  const log = fs.readFileSync(stack.relay.relayLog, 'utf8');
  assert.match(log, new RegExp(`descriptor limit ${soft}: up to ${soft - reserve} client connections`));
  if (soft - reserve < 10000) assert.match(log, /raise the descriptor limit/);
});

test('SIGKILL: supervisord restarts the relay; EventSource and WebSocket clients come back by themselves', async () => {
  const page = await newPage(browser, stack.url('/'));
  await openClients(page, 'ops');
  await stack.publishOk({ t: 'sse', ch: 'ops', data: 'before' });
  await stack.publishOk({ t: 'ws', ch: 'ops.ws', data: 'ws before' });
  await waitGot(page, 'es', (g) => g.length >= 1, 'SSE before');
  await waitGot(page, 'ws', (g) => g.length >= 1, 'WS before');

  const old = stack.relay.relayPid();
  const starts = stack.relay.relayStarts();
  process.kill(old, 'SIGKILL');
  await waitFor(() => {
    const p = stack.relay.relayPid();
    return p > 0 && p !== old;
  }, 'supervisord to start a new relay');
  // The new relay's own start line: its port and socket are open.
  await stack.relay.waitStarts(starts + 1);
  const sup = fs.readFileSync(path.join(stack.relay.dir, 'supervisord.log'), 'utf8');
  assert.match(sup, /exited: herald-relay \(terminated by SIGKILL/);

  // The EventSource reconnected on its own (no new EventSource object) and
  // was told that the new relay cannot replay the old one's messages.
  await waitGot(page, 'es', (g) => g.some((e) => e.type === 'herald.gap'), 'SSE herald.gap after restart');
  // The WebSocket client reconnected and resumed its channel: the new relay
  // cannot place the old id (a crash: a new id space), and says so.
  await page.waitForFunction(() => T.streams.ws.connects >= 2 && T.streams.ws.subscribed.has('ops.ws'), null, {
    timeout: 30000,
  });
  await page.waitForFunction(() => T.streams.ws.gaps.length === 1, null, { timeout: 30000 });
  await stack.publishOk({ t: 'sse', ch: 'ops', data: 'after' });
  await stack.publishOk({ t: 'ws', ch: 'ops.ws', data: 'ws after' });
  await waitGot(page, 'es', (g) => g.some((e) => e.data === 'after'), 'SSE after restart');
  await waitGot(page, 'ws', (g) => g.length >= 2, 'WS after restart');

  const es = await page.evaluate(() => T.got.es.map((e) => (e.type === 'herald.gap' ? ['gap', e.info.channels] : e.data)));
  assert.deepEqual(es, ['before', ['gap', ['ops']], 'after']);
  // The browser sent the id of the last event it had (Last-Event-ID, through
  // nginx); the new relay names it in the gap: it knows what was asked.
  const [before, gap] = await page.evaluate(() => T.got.es.slice(0, 2));
  assert.equal(gap.info.last_event_id, before.id);
  assert.deepEqual(await page.evaluate(() => T.data('ws')), ['ws before', 'ws after']);
  const st = await page.evaluate(() => ({
    opens: T.streams.es.opens,
    closed: T.streams.es.es.readyState === EventSource.CLOSED,
    delays: T.streams.ws.delays,
    connects: T.streams.ws.connects,
    gap: T.streams.ws.gaps[0].channel,
  }));
  assert.equal(st.closed, false, 'the browser reconnected the EventSource itself');
  assert.ok(st.opens >= 2);
  assert.equal(st.gap, 'ops.ws');
  assert.equal(st.connects, 2);
  assertBackoff(st.delays);
  await page.close();
});

test('relay stopped: nginx keeps EventSources retrying (200 retry stream, not 502); all clients resume after start, the EventSource exactly (state file)', async () => {
  const page = await newPage(browser, stack.url('/'));
  await openClients(page, 'status');
  await stack.publishOk({ t: 'sse', ch: 'status', data: 'before' });
  await waitGot(page, 'es', (g) => g.length >= 1, 'SSE before the stop');
  const opens0 = await page.evaluate(() => T.streams.es.opens);
  const starts = stack.relay.relayStarts();

  assert.match(stack.relay.ctl('stop', 'herald-relay').out, /stopped/);
  // PHP's publish fails cleanly (false and a reason; the worker lives on).
  const down = await stack.publish({ t: 'sse', ch: 'status', data: 'lost' });
  assert.equal(down.ok, false);
  assert.match(down.error, /\S/);
  // Over the outage the browser's EventSource gets the retry stream twice
  // (each is an "open"), and the WebSocket client backs off further each time.
  await page.waitForFunction((n) => T.streams.es.opens >= n + 2 && T.streams.ws.delays.length >= 4, opens0, {
    timeout: 30000,
  });
  assert.ok(
    stack.nginx.accessLines().some((l) => /^GET \/sse 200 upstream=502/.test(l)),
    stack.nginx.accessLines().join('\n'),
  );
  const direct = await request(stack.url('/sse?channel=status'));
  assert.equal(direct.status, 200);
  assert.equal(direct.headers['content-type'], 'text/event-stream');
  assert.equal(direct.body, 'retry: 1000\n\n');
  assert.notEqual(await page.evaluate(() => T.streams.es.es.readyState), 2, 'EventSource never CLOSED');

  assert.match(stack.relay.ctl('start', 'herald-relay').out, /started/);
  await stack.relay.waitStarts(starts + 1);
  assert.match(fs.readFileSync(stack.relay.relayLog, 'utf8'), /state: loaded/);
  await page.waitForFunction(() => T.streams.ws.subscribed.has('status.ws'), null, { timeout: 30000 });
  await stack.publishOk({ t: 'sse', ch: 'status', data: 'back' });
  await stack.publishOk({ t: 'ws', ch: 'status.ws', data: 'ws back' });
  await waitGot(page, 'es', (g) => g.some((e) => e.data === 'back'), 'SSE after start');
  // A clean stop kept ids and history: the browser's Last-Event-ID resumed
  // exactly through nginx, no herald.gap, nothing twice.
  assert.deepEqual(
    await page.evaluate(() => T.got.es.map((e) => (e.type === 'herald.gap' ? 'gap' : e.data))),
    ['before', 'back'],
  );
  await waitGot(page, 'ws', (g) => g.length >= 1, 'WS after start');
  assert.deepEqual(await page.evaluate(() => T.data('ws')), ['ws back']);
  const st = await page.evaluate(() => ({
    closed: T.streams.es.es.readyState === EventSource.CLOSED,
    delays: T.streams.ws.delays,
    gaps: T.streams.ws.gaps,
  }));
  assert.equal(st.closed, false);
  assert.deepEqual(st.gaps, [], 'the WebSocket resumed exactly too');
  assertBackoff(st.delays);
  // Backoff grew: later delays are drawn from larger windows, up to the cap.
  assert.ok(st.delays.length >= 4);
  await page.close();
});
