// herald.batch=1 under a real php-fpm pool: each request's buffered messages
// go out at the end of that request (the extension's RSHUTDOWN), also after
// exit(), on the worker's one persistent ingest connection; a real
// EventSource gets every message once, each request's in call order.
// Processes stop by their pid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Relay, Publisher, sse, tmpdir, pubOk } from './lib/harness.mjs';
import { startFpm, fastcgi } from './lib/fpm.mjs';

const WORKERS = 2;
const REQUESTS = 60;
const PER_REQUEST = 5;

// Every third request ends with exit() before its echo.
const SCRIPT = `<?php
$n = (int) $_GET['n'];
$ok = true;
for ($k = 0; $k < ${PER_REQUEST}; $k++) {
    $ok = sse_emit('fpmb', "$n.$k") && $ok;
}
echo json_encode(['pid' => getmypid(), 'ok' => $ok]);
if ($n % 3 === 0) {
    exit;
}
echo "\\n";
`;

test('php-fpm with herald.batch=1: every request flushes at its end, one connection per worker, all messages once and in order', async () => {
  const relay = await new Relay().start();
  const dir = tmpdir('herald-fpmb-');
  const script = path.join(dir, 'publish.php');
  fs.writeFileSync(script, SCRIPT);
  const fpm = await startFpm(dir, {
    workers: WORKERS,
    ini: { 'herald.socket': relay.socket, 'herald.batch': 1, 'herald.timeout_ms': 2000 },
  });
  const fpmSock = fpm.sock;

  try {
    const es = sse(relay.url('/sse?channel=fpmb'));
    await es.opened;
    const pids = new Set();
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < REQUESTS) {
          const n = next++;
          const { body } = await fastcgi(fpmSock, {
            GATEWAY_INTERFACE: 'CGI/1.1',
            REQUEST_METHOD: 'GET',
            SCRIPT_FILENAME: script,
            SCRIPT_NAME: '/publish.php',
            QUERY_STRING: `n=${n}`,
            SERVER_PROTOCOL: 'HTTP/1.1',
          });
          const r = JSON.parse(body);
          assert.equal(r.ok, true, `request ${n}`);
          pids.add(r.pid);
        }
      }),
    );

    const got = (await es.waitCount(REQUESTS * PER_REQUEST)).map((e) => e.data);
    for (let n = 0; n < REQUESTS; n++) {
      const mine = got.filter((d) => d.startsWith(`${n}.`));
      assert.deepEqual(mine, Array.from({ length: PER_REQUEST }, (_, k) => `${n}.${k}`), `request ${n}`);
    }
    const m = await relay.metrics();
    assert.equal(m.herald_ingest_connections_total, pids.size, 'one ingest connection per worker');
    // Nothing twice: every request has ended (its FastCGI connection closed
    // after its flush), so all the workers wrote is in the relay; a marker
    // published after that is the next event, not a late duplicate.
    const pub = await new Publisher(relay.socket).connect();
    await pubOk(pub, 'sse', 'fpmb', 'marker');
    const all = await es.waitCount(REQUESTS * PER_REQUEST + 1);
    assert.equal(all.at(-1).data, 'marker', 'nothing twice');
    await pub.close();
    es.close();
  } catch (e) {
    e.message += `\n--- php-fpm log:\n${fpm.log()}`;
    throw e;
  } finally {
    await fpm.stop();
  }
  await relay.stopClean();
  fs.rmSync(dir, { recursive: true, force: true });
});
