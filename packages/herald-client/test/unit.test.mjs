// The client's pure parts in node (no browser, no relay): the backoff, id
// order, JWT exp, the binary layout, URLs, and the classic-script build,
// which must be exactly what build.mjs makes from the module (no drift).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { PKG } from './lib.mjs';
import * as hc from '../herald-client.js';
import { buildGlobal } from '../build.mjs';

test('backoff: full jitter, uniform in [0, min(cap, base * 2^attempt)]', () => {
  const o = { backoffBase: 500, backoffCap: 30000 };
  assert.equal(hc.backoffDelay(0, o, () => 0), 0);
  assert.equal(hc.backoffDelay(0, o, () => 0.999999), 499);
  assert.equal(hc.backoffDelay(3, o, () => 0.5), 2000);
  assert.equal(hc.backoffDelay(6, o, () => 0.999999), 29999);
  assert.equal(hc.backoffDelay(60, o, () => 0.999999), 29999, 'capped, no overflow');
  assert.equal(hc.backoffDelay(2, {}, () => 0.5), 1000, 'defaults: 500 ms base');
});

test('ids: newer within one id space by seq, any id of another space is taken', () => {
  assert.equal(hc.isNewer('1a-10', '1a-9'), true);
  assert.equal(hc.isNewer('1a-9', '1a-10'), false);
  assert.equal(hc.isNewer('1a-9', '1a-9'), false);
  assert.equal(hc.isNewer('1b-1', '1a-9'), true);
  assert.equal(hc.isNewer('1a-1', undefined), true);
  assert.deepEqual(hc.parseId('19ab3c4d5e6-42'), { boot: '19ab3c4d5e6', seq: 42 });
  assert.equal(hc.parseId('nope'), null);
});

test('jwtClaims reads exp from a base64url JWT (UTF-8 claims too), null otherwise', () => {
  const b = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  assert.deepEqual(hc.jwtClaims(`${b({ alg: 'HS256' })}.${b({ exp: 42, sub: 'é→' })}.sig`), { exp: 42, sub: 'é→' });
  assert.equal(hc.jwtClaims('a.b'), null);
  assert.equal(hc.jwtClaims('a.!!!.c'), null);
  assert.equal(hc.jwtClaims(undefined), null);
});

test('binary layout: 4-byte big-endian length, the envelope, the payload', () => {
  const f = hc.encodeBinaryFrame({ type: 'send', ref: 1 }, new Uint8Array([9, 8, 7]));
  const head = '{"type":"send","ref":1}';
  assert.deepEqual([...f.subarray(0, 4)], [0, 0, 0, head.length]);
  assert.equal(Buffer.from(f.subarray(4, 4 + head.length)).toString(), head);
  const env = hc.decodeBinaryFrame(f.buffer);
  assert.deepEqual({ ...env, data: [...env.data] }, { type: 'send', ref: 1, data: [9, 8, 7], binary: true });
  assert.throws(() => hc.decodeBinaryFrame(new Uint8Array([0, 0])), /shorter than 4/);
  assert.throws(() => hc.decodeBinaryFrame(new Uint8Array([0, 0, 0, 9, 123])), /passes the frame/);
});

test('endpoints: /ws and /sse from a relay URL, a prefix, or either endpoint', () => {
  assert.deepEqual(hc.endpoints('http://127.0.0.1:8080'), { ws: 'ws://127.0.0.1:8080/ws', sse: 'http://127.0.0.1:8080/sse' });
  assert.deepEqual(hc.endpoints('https://a.example/herald/'), { ws: 'wss://a.example/herald/ws', sse: 'https://a.example/herald/sse' });
  assert.deepEqual(hc.endpoints('wss://a.example/ws'), { ws: 'wss://a.example/ws', sse: 'https://a.example/sse' });
  assert.deepEqual(hc.endpoints({ ws: 'wss://x/w', sse: null }), { ws: 'wss://x/w', sse: null });
});

test('herald-client.global.js is what build.mjs makes from herald-client.js, and defines Herald', () => {
  const src = fs.readFileSync(path.join(PKG, 'herald-client.js'), 'utf8');
  const built = fs.readFileSync(path.join(PKG, 'herald-client.global.js'), 'utf8');
  assert.equal(built, buildGlobal(src), 'run: node packages/herald-client/build.mjs');
  const ctx = { URL, TextEncoder, TextDecoder, atob, Math, Date, JSON };
  ctx.window = ctx;
  ctx.globalThis = ctx;
  vm.runInNewContext(built, ctx);
  assert.equal(typeof ctx.Herald, 'function');
  for (const name of Object.keys(hc)) {
    if (name !== 'default' && name !== 'Herald') assert.ok(name in ctx.Herald, `Herald.${name}`);
  }
  assert.equal(ctx.Herald.backoffDelay(1, {}, () => 0.5), 500);
});
