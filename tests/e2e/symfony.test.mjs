// The Symfony bridge (packages/herald-symfony) on Debian's php-symfony-mercure
// (0.6.3), end to end against the relay's Mercure front (/.well-known/mercure,
// docs/SYMFONY.md): tests/e2e/symfony/publish.php publishes Update objects
// through HeraldHub (herald_mercure_publish(), the extension's ring or socket)
// and through Symfony's own Hub (an HTTP POST with a StaticTokenProvider's
// JWT), and mints the mercureAuthorization cookie with Authorization and the
// bridge's Hs256TokenFactory. Subscribers are the npm eventsource client on
// /.well-known/mercure?topic=..., with exact topics and URI templates, with
// and without a JWT. "Nothing arrived" is proven by a sentinel update after.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { Relay, sse, ROOT } from './lib/harness.mjs';
import { sign, now } from './lib/token.mjs';
import { EXT, PHP } from './lib/php.mjs';

const KEY = 'symfony-mercure-test-key-0123456789abcdef';
const BOOKS = 'https://example.com/books/{id}';
const BOOK1 = 'https://example.com/books/1';
const UUID = /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const jwt = (mercure, secret = KEY) => sign({ alg: 'HS256', typ: 'JWT' }, { mercure, exp: now() + 3600 }, secret);

const startRelay = () => new Relay({ flags: { mercure_jwt_key: KEY, mercure_anonymous: 1 } }).start();

// One PHP process running symfony/publish.php: a JSON request per line in,
// a JSON answer per line out. Debian's autoloaders are on the include path.
class SymfonyPhp {
  constructor(relay, env = {}) {
    const args = ['-n', '-d', 'include_path=.:/usr/share/php', '-d', `extension=${EXT}`];
    args.push('-d', `herald.socket=${relay.socket}`, '-d', 'display_errors=stderr');
    this.proc = spawn(PHP, [...args, path.join(ROOT, 'tests/e2e/symfony/publish.php')], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        ...process.env,
        MERCURE_URL: relay.url('/.well-known/mercure'),
        MERCURE_JWT: jwt({ publish: ['*'] }),
        MERCURE_JWT_SECRET: KEY,
        ...env,
      },
    });
    this.stderr = '';
    this.proc.stderr.on('data', (d) => (this.stderr += d));
    this.lines = readline.createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]();
    // Done at 'close' (its pipes drained), not at 'exit'. The hook kills
    // one a failed test left running; ChildProcess.kill() of one that
    // already ended is a no-op, not ESRCH (process.kill raced its reaping).
    this.closed = new Promise((resolve) => this.proc.on('close', resolve));
    after(async () => {
      if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
      await this.closed;
    });
  }

  async call(req) {
    this.proc.stdin.write(JSON.stringify(req) + '\n');
    const { value, done } = await this.lines.next();
    if (done) throw new Error(`php ended: ${this.stderr}`);
    return JSON.parse(value);
  }

  // A publish that must succeed: its id.
  async publish(hub, update) {
    const r = await this.call({ hub, update });
    assert.equal(typeof r.id, 'string', JSON.stringify({ hub, update, r }));
    return r.id;
  }

  stop() {
    this.proc.stdin.end();
  }
}

// An EventSource on the front with these topic selectors, opened.
async function subscriber(relay, topics, { headers = {}, events = [] } = {}) {
  const q = topics.map((t) => `topic=${encodeURIComponent(t)}`).join('&');
  const s = sse(relay.url(`/.well-known/mercure?${q}`), { headers, events });
  await s.opened;
  return s;
}

// What s received up to and including the update whose data is sentinel.
async function until(s, sentinel) {
  for (let n = 1; ; n++) {
    const got = await s.waitCount(n);
    if (got.at(-1).data === sentinel) return got.map((e) => ({ type: e.type, id: e.id, data: e.data }));
  }
}

for (const hub of ['herald', 'http']) {
  const how = hub === 'herald' ? 'HeraldHub (the extension)' : "Symfony's Hub (HTTP POST, StaticTokenProvider)";
  test(`${how}: an Update reaches EventSource subscribers of its topic and of a matching template, with the id publish() returned, its type and data; a private one only the subscriber whose JWT allows it`, async () => {
    const relay = await startRelay();
    const php = new SymfonyPhp(relay);
    const events = ['book.updated'];
    const anon = await subscriber(relay, [BOOKS], { events });
    const exact = await subscriber(relay, [BOOK1], { events });
    const auth = await subscriber(relay, [BOOKS], {
      events,
      headers: { Authorization: `Bearer ${jwt({ subscribe: [BOOKS] })}` },
    });
    // Another topic's subscriber: none of these reach it.
    const other = await subscriber(relay, ['https://example.com/users/{id}']);

    const data1 = JSON.stringify({ '@id': '/books/1', title: 'Zoë & the hub', price: 9.5 });
    const id1 = await php.publish(hub, { topics: [BOOK1], data: data1, id: 'book-1-v1', type: 'book.updated', retry: 2500 });
    assert.equal(id1, 'book-1-v1');
    const id2 = await php.publish(hub, { topics: ['https://example.com/books/2', 'urn:private'], data: 'private 2', private: true });
    assert.match(id2, UUID);
    const id3 = await php.publish(hub, { topics: [BOOK1], data: 'line one\nline two' });
    assert.match(id3, UUID);
    assert.notEqual(id2, id3);
    const idS = await php.publish(hub, { topics: [BOOK1, 'https://example.com/users/7'], data: 'sentinel' });

    const e1 = { type: 'book.updated', id: id1, data: data1 };
    const e3 = { type: 'message', id: id3, data: 'line one\nline two' };
    const eS = { type: 'message', id: idS, data: 'sentinel' };
    assert.deepEqual(await until(anon, 'sentinel'), [e1, e3, eS]);
    assert.deepEqual(await until(exact, 'sentinel'), [e1, e3, eS]);
    assert.deepEqual(await until(auth, 'sentinel'), [e1, { type: 'message', id: id2, data: 'private 2' }, e3, eS]);
    assert.deepEqual(await until(other, 'sentinel'), [eS]);

    for (const s of [anon, exact, auth, other]) s.close();
    php.stop();
    await relay.stopClean();
  });
}

test('Authorization::createCookie() through HeraldHub and Hs256TokenFactory: an EventSource with that mercureAuthorization cookie receives private updates of the topics it names, and no other', async () => {
  const relay = await startRelay();
  const php = new SymfonyPhp(relay);
  const cookie = await php.call({ cookie: { subscribe: ['https://example.com/users/42/{box}'] } });
  assert.equal(cookie.name, 'mercureAuthorization');
  assert.equal(cookie.path, '/.well-known/mercure');
  assert.equal(cookie.httpOnly, true);
  const s = await subscriber(relay, ['https://example.com/users/{user}/{box}'], {
    headers: { Cookie: `mercureAuthorization=${cookie.value}` },
  });
  const mine = await php.publish('herald', { topics: ['https://example.com/users/42/inbox'], data: 'for 42', private: true });
  await php.publish('herald', { topics: ['https://example.com/users/43/inbox'], data: 'for 43', private: true });
  await php.publish('herald', { topics: ['https://example.com/users/43/inbox'], data: 'sentinel' });
  assert.deepEqual(
    (await until(s, 'sentinel')).map((e) => [e.id === mine, e.data]),
    [
      [true, 'for 42'],
      [false, 'sentinel'],
    ],
  );
  s.close();
  php.stop();
  await relay.stopClean();
});

test("refusals: an invalid Update is the component's InvalidArgumentException from HeraldHub (nothing sent) and its RuntimeException from the HTTP Hub (the front's 400); a publisher JWT signed with another key is a RuntimeException; a relay that is down is a RuntimeException with herald_last_error()'s reason", async () => {
  const relay = await startRelay();
  const php = new SymfonyPhp(relay, { MERCURE_JWT: jwt({ publish: ['*'] }, 'another-key-another-key-another-key!') });
  const s = await subscriber(relay, ['*']);
  const bad = await php.call({ hub: 'herald', update: { topics: [BOOK1], data: 'x', type: 'mercure' } });
  assert.match(bad.error, /^Symfony\\Component\\Mercure\\Exception\\InvalidArgumentException: Invalid update: herald_mercure_publish\(\): Argument #5 \(\$type\)/);
  const badHttp = await php.call({ hub: 'http', update: { topics: [BOOK1], data: 'x', type: 'mercure' } });
  assert.equal(badHttp.error, 'Symfony\\Component\\Mercure\\Exception\\RuntimeException: Failed to send an update.');
  const forged = await php.call({ hub: 'http', update: { topics: [BOOK1], data: 'forged' } });
  assert.equal(forged.error, 'Symfony\\Component\\Mercure\\Exception\\RuntimeException: Failed to send an update.');
  const id = await php.publish('herald', { topics: [BOOK1], data: 'sentinel' });
  assert.deepEqual(await until(s, 'sentinel'), [{ type: 'message', id, data: 'sentinel' }]);
  s.close();
  await relay.stopClean();
  const down = await php.call({ hub: 'herald', update: { topics: [BOOK1], data: 'x' } });
  assert.match(down.error, /^Symfony\\Component\\Mercure\\Exception\\RuntimeException: Failed to send an update: /);
  php.stop();
});
