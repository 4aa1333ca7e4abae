// The packaged PHP-FPM pool (packaging/php-fpm/app.conf), run by a real
// php-fpm with no php.ini, as a user who loads the extension for this pool
// only (the pool's own commented line) and sets the secret there: every
// herald.* pool setting must take effect. Before, the extension line came
// first, php-fpm applied it last ("Unable to set php_admin_value"), and PHP
// fell back to /tmp/herald.sock with no secret; and a base64 secret ending in
// "=" broke the pool file unless quoted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ROOT, tmpdir, waitFor } from './lib/harness.mjs';
import { EXT, findFpm, fastcgi } from './lib/fpm.mjs';

// The packaging file with exact replacements; each must match.
function render(rel, pairs) {
  let text = fs.readFileSync(path.join(ROOT, rel), 'utf8');
  for (const [from, to] of pairs) {
    assert.ok(text.includes(from), `${rel} no longer contains ${JSON.stringify(from)}`);
    text = text.replace(from, to);
  }
  return text;
}

test('the packaged pool, extension loaded in the pool only: its herald.* settings all take effect', async () => {
  const dir = tmpdir();
  const sock = path.join(dir, 'fpm.sock');
  const secret = Buffer.alloc(32, 7).toString('base64'); // ends with "="
  assert.match(secret, /=$/);
  const asRoot = process.getuid() === 0;
  const pool = render('packaging/php-fpm/app.conf', [
    ['listen = /run/php/php8.2-fpm-app.sock', `listen = ${sock}`],
    ...(asRoot
      ? [['user = www-data\ngroup = www-data\n', 'user = root\ngroup = root\n']]
      : [['user = www-data\ngroup = www-data\n', ''], ['listen.owner = www-data\nlisten.group = www-data\n', '']]),
    [';php_admin_value[herald.secret] = "<the contents of /etc/herald/secret>"', `php_admin_value[herald.secret] = "${secret}"`],
    [';php_admin_value[extension] = herald', `php_admin_value[extension] = ${EXT}`],
  ]);
  const conf = path.join(dir, 'fpm.conf');
  fs.writeFileSync(conf, `[global]\nerror_log = ${dir}/fpm.log\ndaemonize = no\n${pool}`);
  fs.writeFileSync(
    path.join(dir, 'show.php'),
    `<?php echo json_encode(['loaded' => extension_loaded('herald'), 'socket' => ini_get('herald.socket'),
       'secret' => ini_get('herald.secret') === ${JSON.stringify(secret)}]);`,
  );
  const fpm = spawn(findFpm(), ['-n', '-y', conf, '-F', ...(asRoot ? ['-R'] : [])], { stdio: 'ignore' });
  const closed = new Promise((r) => fpm.on('close', r));
  try {
    await waitFor(
      () =>
        new Promise((resolve) => {
          const s = net.connect(sock);
          s.on('connect', () => (s.destroy(), resolve(true)));
          s.on('error', () => resolve(false));
        }),
      'php-fpm socket',
    );
    const r = await fastcgi(sock, { SCRIPT_FILENAME: path.join(dir, 'show.php'), REQUEST_METHOD: 'GET' });
    assert.deepEqual(JSON.parse(r.body), { loaded: true, socket: '/run/herald/herald.sock', secret: true });
    const log = fs.readFileSync(path.join(dir, 'fpm.log'), 'utf8');
    assert.doesNotMatch(log, /Unable to set/);
  } finally {
    process.kill(fpm.pid, 'SIGQUIT');
    await closed;
  }
});
