// A real php-fpm pool publishing through the real relay. The test starts
// php-fpm (a temp pool config, a Unix socket in a temp dir, the extension
// loaded with -d) and sends it many requests over FastCGI with a small
// client below; every script publishes. The relay must see one ingest
// connection per worker, not one per request, and SSE and WebSocket
// subscribers must receive every message. Processes stop by their pid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Relay, sse, wsClient, tmpdir, waitFor } from './lib/harness.mjs';
import { startFpm, fastcgi } from './lib/fpm.mjs';

const WORKERS = 4;
const REQUESTS = 400;
const CONCURRENCY = 8;

const SCRIPT = `<?php
$n = (int) ($_GET['n'] ?? -1);
$a = sse_emit('fpm', "sse $n");
$b = ws_publish(['fpm', 'fpm.other'], ['n' => $n, 'pid' => getmypid()]);
echo json_encode(['pid' => getmypid(), 'ok' => $a && $b, 'error' => herald_last_error()]);
`;

test('php-fpm: many requests publish, one ingest connection per worker, every message arrives', async () => {
  const relay = await new Relay().start();
  const dir = tmpdir('herald-fpm-');
  const script = path.join(dir, 'publish.php');
  fs.writeFileSync(script, SCRIPT);
  const fpm = await startFpm(dir, {
    workers: WORKERS,
    ini: { 'herald.socket': relay.socket, 'herald.timeout_ms': 2000 },
  });
  const fpmSock = fpm.sock;

  try {
    const es = sse(relay.url('/sse?channel=fpm'));
    await es.opened;
    const ws = await wsClient(relay.wsUrl('/ws?channel=fpm&channel=fpm.other'));

    const params = (n) => ({
      GATEWAY_INTERFACE: 'CGI/1.1',
      SERVER_PROTOCOL: 'HTTP/1.1',
      REQUEST_METHOD: 'GET',
      SCRIPT_FILENAME: script,
      SCRIPT_NAME: '/publish.php',
      REQUEST_URI: `/publish.php?n=${n}`,
      QUERY_STRING: `n=${n}`,
      CONTENT_LENGTH: 0,
      SERVER_NAME: 'localhost',
      REMOTE_ADDR: '127.0.0.1',
    });
    const results = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < REQUESTS) {
          const n = next++;
          const r = await fastcgi(fpmSock, params(n));
          let parsed;
          try {
            parsed = JSON.parse(r.body);
          } catch {
            throw new Error(`request ${n}: ${r.head}\n${r.body}\n${r.stderr}\n${fpm.log()}`);
          }
          results.push({ n, ...parsed });
        }
      }),
    );

    assert.equal(results.length, REQUESTS);
    const failed = results.filter((r) => !r.ok);
    assert.deepEqual(failed, [], 'every publish returned true');
    const pids = new Set(results.map((r) => r.pid));
    assert.ok(pids.size >= 2 && pids.size <= WORKERS, `requests served by ${pids.size} workers`);

    // Every message arrives: one SSE event per request, and one WebSocket
    // message per request although it went to two of the client's channels.
    const got = await es.waitCount(REQUESTS);
    assert.deepEqual(
      got.map((e) => e.data).sort(),
      Array.from({ length: REQUESTS }, (_, n) => `sse ${n}`).sort(),
    );
    const wgot = await ws.waitCount(REQUESTS);
    assert.deepEqual(
      wgot.map((m) => JSON.parse(m.data).n).sort((a, b) => a - b),
      Array.from({ length: REQUESTS }, (_, n) => n),
    );
    for (const m of wgot) assert.ok(pids.has(JSON.parse(m.data).pid));

    // One ingest connection per worker that served a request, kept across
    // its requests: nothing per request, no reconnects.
    const m = await relay.metrics();
    assert.equal(m.herald_ingest_connections, pids.size, 'open ingest connections');
    assert.equal(m.herald_ingest_connections_total, pids.size, 'ingest connections ever accepted');

    es.close();
    ws.ws.close();
  } catch (e) {
    e.message += `
--- php-fpm log:
${fpm.log()}`;
    throw e;
  } finally {
    await fpm.stop();
  }
  // Workers closed their connections when php-fpm stopped.
  await waitFor(async () => (await relay.metrics()).herald_ingest_connections === 0, 'ingest connections closed');
  await relay.stopClean();
  fs.rmSync(dir, { recursive: true, force: true });
});
