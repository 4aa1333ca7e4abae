// Faults found by bench/soak.mjs: a WebSocket subscriber on a busy channel
// (the relay writes to it all the time) that sends nothing unprompted, as a
// browser does, must still be asked for a pong and so stay connected; one
// that never answers is still cut after three ping intervals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Relay, Publisher, rawWs, wsFrame } from './lib/harness.mjs';

const OP = { text: 1, close: 8, ping: 9, pong: 10 };

test('WS heartbeat: a silent client on a busy channel is pinged, answers, and stays', async () => {
  const relay = await new Relay({ flags: { ping_interval: 1 } }).start();
  const c = await rawWs(relay.port, '/ws?channel=busy');
  const pub = await new Publisher(relay.socket).connect();
  let n = 0;
  const busy = setInterval(() => pub.pub('ws', 'busy', `m${n++}`), 50);
  try {
    // Answer every ping, like a browser; count them.
    let answered = 0;
    for (; answered < 4; answered++) {
      const from = c.frames().filter((f) => f.opcode === OP.ping).length;
      await c.until(
        () => c.frames().filter((f) => f.opcode === OP.ping).length > from,
        `ping ${answered + 1}`,
      );
      await c.write(wsFrame(OP.pong, Buffer.alloc(0), { mask: true }));
    }
    // Four answered pings span more than three intervals of a busy channel:
    // before the fix the relay never pinged, and closed it after three.
    assert.equal(c.frames().filter((f) => f.opcode === OP.close).length, 0);
    assert.ok(c.frames().filter((f) => f.opcode === OP.text).length > 0);
    assert.equal(c.isClosed, false);
  } finally {
    clearInterval(busy);
  }
  c.destroy();
  await pub.close();
  await relay.stopClean();
});

test('WS heartbeat: a client that never answers is still closed', async () => {
  const relay = await new Relay({ flags: { ping_interval: 1 } }).start();
  const c = await rawWs(relay.port, '/ws?channel=quiet');
  await c.closed;
  assert.ok(c.frames().some((f) => f.opcode === OP.ping));
  await relay.stopClean();
});
