// The token secret as docs/OPERATIONS.md section 5 makes it: one run of
// packaging/herald/token-secret.sh writes the relay's secret_file and sets
// the packaged pool's php_admin_value[herald.secret] line; the packaged
// relay.ini (its secret_file line uncommented) and the packaged pool (run by
// a real php-fpm) then agree: a token PHP-FPM mints opens a private channel
// for a real EventSource. Before, the docs made the secret with base64 (it
// ends in "="), and the pool line as documented, unquoted, stopped php-fpm.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ROOT, Relay, sse, httpGet, tmpdir, waitFor } from './lib/harness.mjs';
import { EXT, findFpm, fastcgi } from './lib/fpm.mjs';

const read = (rel) => fs.readFileSync(path.join(ROOT, rel), 'utf8');
const asRoot = process.getuid() === 0;
const LINE = /^php_admin_value\[herald\.secret\] = "([0-9a-f]{64})"$/m;

function render(rel, pairs) {
  let text = read(rel);
  for (const [from, to] of pairs) {
    assert.ok(text.includes(from), `${rel} no longer contains ${JSON.stringify(from)}`);
    text = text.split(from).join(to);
  }
  return text;
}

function tokenSecret(prefix) {
  const group = spawnSync('id', ['-gn'], { encoding: 'utf8' }).stdout.trim();
  const r = spawnSync('sh', [path.join(ROOT, 'packaging/herald/token-secret.sh'), prefix], {
    encoding: 'utf8',
    env: { ...process.env, HERALD_GROUP: group },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  return fs.readFileSync(path.join(prefix, 'etc/herald/secret'), 'utf8');
}

test('token-secret.sh: the relay and the packaged pool get one secret, and a token PHP-FPM mints opens a private channel', async (t) => {
  const prefix = tmpdir('herald-token-');
  t.after(() => fs.rmSync(prefix, { recursive: true, force: true }));
  fs.chmodSync(prefix, 0o755);
  const sock = path.join(prefix, 'fpm.sock');
  const relaySocket = path.join(prefix, 'herald.sock');
  // The packaged pool where the script looks for it, with this machine's
  // paths; the extension is loaded by the pool's own (last) line.
  const poolFile = path.join(prefix, 'etc/php/8.2/fpm/pool.d/app.conf');
  const shipped = render('packaging/php-fpm/app.conf', [
    ['listen = /run/php/php8.2-fpm-app.sock', `listen = ${sock}`],
    ['php_admin_value[herald.socket] = /run/herald/herald.sock', `php_admin_value[herald.socket] = ${relaySocket}`],
    ...(asRoot
      ? [['user = www-data\ngroup = www-data\n', 'user = root\ngroup = root\n']]
      : [['user = www-data\ngroup = www-data\n', ''], ['listen.owner = www-data\nlisten.group = www-data\n', '']]),
    [';php_admin_value[extension] = herald', `php_admin_value[extension] = ${EXT}`],
  ]);
  fs.mkdirSync(path.dirname(poolFile), { recursive: true });
  fs.writeFileSync(poolFile, shipped);

  const secret = tokenSecret(prefix);
  assert.match(secret, /^[0-9a-f]{64}\n$/);
  assert.equal(fs.statSync(path.join(prefix, 'etc/herald/secret')).mode & 0o777, 0o640);
  const pool = fs.readFileSync(poolFile, 'utf8');
  assert.equal(pool.match(new RegExp(LINE, 'gm')).length, 1);
  assert.equal(LINE.exec(pool)[1], secret.trim());
  assert.doesNotMatch(pool, /herald\.secret\] = "</, 'the commented placeholder is replaced, where it was');
  // Nothing else of the pool changed, and only root may read it now.
  assert.equal(pool.replace(LINE, 'X'), shipped.replace(/^;php_admin_value\[herald\.secret\].*$/m, 'X'));
  assert.equal(fs.statSync(poolFile).mode & 0o777, 0o600);

  // The packaged relay.ini with its secret_file line uncommented, as section 5 says.
  const relay = await new Relay({
    config: render('packaging/herald/relay.ini', [
      [';secret_file = /etc/herald/secret', `secret_file = ${prefix}/etc/herald/secret`],
      ['handoff_secret_file = /etc/herald/handoff.secret', '; no hand-off here'],
      ...(asRoot ? [] : [['socket_group = www-data', '; socket_group = www-data']]),
    ]),
    socket: relaySocket,
  }).start();

  const conf = path.join(prefix, 'php-fpm.conf');
  fs.writeFileSync(conf, `[global]\nerror_log = ${prefix}/fpm.log\ndaemonize = no\ninclude = ${poolFile}\n`);
  const fpm = spawn(findFpm(), ['-n', '-y', conf, '-F', ...(asRoot ? ['-R'] : [])], { stdio: 'ignore' });
  let fpmExited = false;
  fpm.on('exit', () => (fpmExited = true));
  const fpmClosed = new Promise((r) => fpm.on('close', r));
  try {
    await waitFor(
      () =>
        !fpmExited &&
        new Promise((resolve) => {
          const s = net.connect(sock);
          s.on('connect', () => (s.destroy(), resolve(true)));
          s.on('error', () => resolve(false));
        }),
      'php-fpm socket',
    );
    const php = async (name, code) => {
      fs.writeFileSync(path.join(prefix, name), `<?php ${code}`);
      return (await fastcgi(sock, { SCRIPT_FILENAME: path.join(prefix, name), REQUEST_METHOD: 'GET' })).body;
    };
    const token = await php('token.php', "echo herald_token(['private-user.7'], 300);");
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]{43}$/, token);

    const es = sse(relay.url(`/sse?channel=private-user.7&token=${token}`));
    await es.opened;
    assert.equal(await php('pub.php', "var_export(sse_emit('private-user.7', 'for user 7'));"), 'true');
    assert.equal((await es.waitCount(1))[0].data, 'for user 7');
    es.close();
    // Without the token: refused.
    assert.equal((await httpGet(relay.port, '/sse?channel=private-user.7')).status, 401);
    assert.doesNotMatch(fs.readFileSync(path.join(prefix, 'fpm.log'), 'utf8'), /Unable to set|syntax error/);
  } finally {
    if (!fpmExited) process.kill(fpm.pid, 'SIGQUIT');
    await fpmClosed;
    await relay.stopClean();
  }

  // Run again: a new secret in both places, still one line.
  const rotated = tokenSecret(prefix);
  assert.notEqual(rotated, secret);
  const pool2 = fs.readFileSync(poolFile, 'utf8');
  assert.equal(pool2.match(new RegExp(LINE, 'gm')).length, 1);
  assert.equal(LINE.exec(pool2)[1], rotated.trim());
});

test('docs: section 5 makes the token secret with token-secret.sh, and its lines are the shipped ones', () => {
  const ops = read('docs/OPERATIONS.md');
  const s5 = ops.slice(ops.indexOf('### Private channels with a token'), ops.indexOf('## 6.'));
  assert.match(s5, /sh packaging\/herald\/token-secret\.sh/);
  for (const doc of ['docs/OPERATIONS.md', 'SECURITY.md', 'docs/PHP.md', 'README.md']) {
    assert.doesNotMatch(read(doc), /urandom \| base64/, `${doc} still makes a base64 secret`);
  }
  // The relay.ini line section 5 shows is the shipped one, uncommented.
  assert.ok(s5.includes('\nsecret_file = /etc/herald/secret'));
  assert.ok(read('packaging/herald/relay.ini').includes('\n;secret_file = /etc/herald/secret\n'));
});
