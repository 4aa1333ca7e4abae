// `make demo`'s chat room (demo/public/chat.php) in Chromium: browsers talk
// back through application hooks, with no PHP process holding a connection.
// Two users in two browsers (two cookie jars), the first with a second tab
// that has a connection of its own (?shared=0), so the relay really sees one
// user on two connections: messages sent with send() go through php-fpm
// (demo/hooks.php publishes them with herald_publish()) and reach every tab;
// the online list shows two users, not three; closing the second tab is no
// leave; closing the user's last tab is one leave in the other user's list.
//
// Every wait is for something a page shows. That no leave came is proven
// by a sentinel: the demo runs with presence_leave_ms = 0, so a leave is
// published as soon as the relay has dropped the connection; a chat message
// sent after that (through php-fpm, on the same channel) arrives after it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, newPage, waitFor } from './lib/stack.mjs';
import { startDemo, relayConnections } from './lib/demo.mjs';

const T = { timeout: 30000 };

// Pick a name (the cookie demo_user), then wait until the room is live.
async function join(page, name) {
  await page.fill('#name-input', name);
  await page.click('#name-form button[type=submit]');
  await live(page, name);
}

async function live(page, name) {
  await page.waitForFunction((n) => document.getElementById('me').dataset.user === n, name, T);
  await page.waitForFunction(() => document.getElementById('relay-status').dataset.status === 'open', null, T);
}

const online = (page) => page.$$eval('#online li', (lis) => lis.map((li) => li.dataset.user));

async function waitOnline(page, users) {
  await page.waitForFunction(
    (want) => Array.from(document.querySelectorAll('#online li'), (li) => li.dataset.user).join(',') === want,
    users.join(','),
    T,
  );
}

// Wait until the page shows a message of `from` with this text.
async function waitMessage(page, from, text) {
  await page.waitForFunction(
    ([f, x]) =>
      Array.from(document.querySelectorAll('#messages li')).some(
        (li) => li.dataset.from === f && li.querySelector('.msg').textContent === x,
      ),
    [from, text],
    T,
  );
}

async function say(page, text) {
  await page.fill('#send-text', text);
  await page.click('#send-form button[type=submit]');
  // The input clears when the hook's reply resolved send()'s promise.
  await page.waitForFunction(() => document.getElementById('send-text').value === '', null, T);
}

const presenceLog = (page, type, user) => page.locator(`#presence-log li[data-type="${type}"][data-user="${user}"]`).count();

test('make demo: the chat room — two users in three tabs chat through php-fpm, and see who is online', async (t) => {
  const { demo, browser: alice, url, chatUrl, relayPort } = await startDemo(t, { env: { DEMO_PRESENCE_LEAVE_MS: '0' } });
  assert.equal(chatUrl, `${url}chat.php`);
  const bob = await launchBrowser();
  t.after(() => bob.close());

  // The dashboard links to the chat.
  const dash = await newPage(alice, url);
  assert.equal(await dash.getAttribute('#chat-link', 'href'), 'chat.php');
  await dash.close();

  const a1 = await newPage(alice, chatUrl);
  await join(a1, 'alice');
  await waitOnline(a1, ['alice']);
  // The second tab finds the cookie: it is alice at once, on its own connection.
  const a2 = await newPage(alice, `${chatUrl}?shared=0`);
  await live(a2, 'alice');
  const b1 = await newPage(bob, chatUrl);
  await join(b1, 'bob');
  for (const page of [a1, a2, b1]) await waitOnline(page, ['alice', 'bob']);
  // alice's two connections and bob's (the dashboard tab's is gone).
  await waitFor(async () => (await relayConnections(relayPort, 'herald.v1')) === 3, 'three connections at the relay');
  assert.equal(await b1.textContent('#online-count'), '2');

  // Messages: from alice's first tab to everyone, from bob to alice's tabs.
  await say(a1, 'hello from alice');
  for (const page of [a1, a2, b1]) await waitMessage(page, 'alice', 'hello from alice');
  await say(b1, 'hi alice ✓');
  for (const page of [a1, a2, b1]) await waitMessage(page, 'bob', 'hi alice ✓');
  // alice's second connection was no second join: a1 saw bob join, and alice at most once (its own).
  assert.equal(await presenceLog(a1, 'join', 'bob'), 1);
  assert.ok((await presenceLog(a1, 'join', 'alice')) <= 1);
  assert.equal(await presenceLog(b1, 'join', 'alice'), 0, 'alice was there before bob came');

  // Closing alice's second tab: the relay drops that connection, and bob
  // sees no leave (the sentinel message arrives after where a leave would be).
  await a2.close();
  await waitFor(async () => (await relayConnections(relayPort, 'herald.v1')) === 2, 'the second tab gone at the relay');
  await say(b1, 'sentinel 1');
  for (const page of [a1, b1]) await waitMessage(page, 'bob', 'sentinel 1');
  assert.equal(await presenceLog(b1, 'leave', 'alice'), 0, 'no leave for a tab of a user still online');
  assert.deepEqual(await online(b1), ['alice', 'bob']);
  assert.deepEqual(await online(a1), ['alice', 'bob']);

  // Closing alice's last tab: she leaves bob's list, once.
  await a1.close();
  await waitOnline(b1, ['bob']);
  await say(b1, 'sentinel 2');
  await waitMessage(b1, 'bob', 'sentinel 2');
  assert.equal(await presenceLog(b1, 'leave', 'alice'), 1);
  assert.equal(await b1.textContent('#online-count'), '1');
  assert.deepEqual(alice.pageErrors, []);
  assert.deepEqual(bob.pageErrors, []);

  // Ctrl-C stops php-fpm with the rest.
  process.kill(-demo.proc.pid, 'SIGINT');
  assert.deepEqual(await demo.exit, { code: 0, signal: null }, demo.err);
});
