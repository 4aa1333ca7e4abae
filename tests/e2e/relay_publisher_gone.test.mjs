// A publisher that is gone before the relay could answer it: a short PHP
// script publishes and exits while the relay is stopped (SIGSTOP), so when
// the relay reads its hello and frames, its answer to the hello cannot be
// written (EPIPE). The frames it wrote are still in the socket: every one
// must be published (was: the connection was closed on the failed write and
// the frames after the hello were lost while sse_emit() had returned true).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Relay, rawSse } from './lib/harness.mjs';
import { runPhp } from './lib/php.mjs';

for (const [what, flags] of [
  ['rings off: the refusal cannot be written', { ingest_ring_bytes: 0 }],
  ['rings on: the ring cannot be sent', {}],
]) {
  test(`a publisher gone before the relay answered its hello loses nothing (${what})`, async () => {
    const relay = await new Relay({ flags }).start();
    const sub = await rawSse(relay.port, '/sse?channel=gone');
    const N = 50;
    process.kill(relay.proc.pid, 'SIGSTOP');
    let r;
    try {
      const { done } = runPhp(`for ($i = 0; $i < ${N}; $i++) {
          if (!sse_emit('gone', (string) $i)) { fwrite(STDERR, herald_last_error()); exit(1); }
        }`, { 'herald.socket': relay.socket });
      r = await done;
    } finally {
      process.kill(relay.proc.pid, 'SIGCONT');
    }
    assert.equal(r.code, 0, r.stderr);
    await sub.waitEvents(N);
    assert.deepEqual(
      sub.events().map((e) => e.data),
      Array.from({ length: N }, (_, i) => String(i)),
    );
    sub.destroy();
    await relay.stopClean();
  });
}
