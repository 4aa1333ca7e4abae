// The files of packaging/ that no other test runs as they are: the systemd
// unit (systemd-analyze verify and its offline security score), the tmpfiles
// entry, and the values the files must agree on. (relay.ini, herald.ini,
// app.conf, site.conf, herald.conf and herald-relay.conf run for real in the
// other tests, rendered with only addresses and paths replaced.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, RELAY_BIN, render, writeFile, openTmpdir } from './lib/stack.mjs';

const read = (rel) => fs.readFileSync(path.join(ROOT, rel), 'utf8');
const ini = (text, key) => {
  const m = new RegExp(`^\\s*${key.replace(/[[\]]/g, '\\$&')}\\s*=\\s*(.+?)\\s*$`, 'm').exec(text);
  return m && m[1];
};

test('systemd unit: systemd-analyze verify passes and the exposure score is OK (at most 2.0)', () => {
  const dir = openTmpdir('herald-systemd-');
  try {
    // verify checks that ExecStart exists: point it at the built relay.
    const unit = writeFile(
      path.join(dir, 'herald-relay.service'),
      render('packaging/systemd/herald-relay.service', [
        ['ExecStart=/usr/local/bin/herald-relay', `ExecStart=${RELAY_BIN}`],
      ]),
    );
    const v = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stderr);
    assert.equal(v.stderr.trim(), '', 'no warning');
    const s = spawnSync('systemd-analyze', ['security', '--offline=true', '--threshold=20', unit], {
      encoding: 'utf8',
    });
    assert.equal(s.status, 0, s.stdout + s.stderr);
    assert.match(s.stdout, /Overall exposure level for herald-relay\.service: [0-2]\.\d OK/);
    const text = read('packaging/systemd/herald-relay.service');
    for (const k of ['LimitNOFILE=65536', 'Restart=always', 'KillSignal=SIGTERM', 'RuntimeDirectory=herald', 'User=herald']) {
      assert.ok(text.includes(`\n${k}\n`), k);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('tmpfiles entry creates the socket and state directories', () => {
  const dir = openTmpdir('herald-tmpfiles-');
  try {
    const conf = writeFile(
      path.join(dir, 'herald.conf'),
      render('packaging/systemd/herald.tmpfiles.conf', [['herald herald', 'root root']]),
    );
    const r = spawnSync('systemd-tmpfiles', ['--create', `--root=${dir}`, conf], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const st = fs.statSync(path.join(dir, 'run/herald'));
    assert.ok(st.isDirectory());
    assert.equal(st.mode & 0o777, 0o755);
    const state = fs.statSync(path.join(dir, 'var/lib/herald'));
    assert.ok(state.isDirectory());
    assert.equal(state.mode & 0o777, 0o700);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the packaging files agree: socket path, relay address, binary and config paths', () => {
  const relay = read('packaging/herald/relay.ini');
  const php = read('packaging/php/herald.ini');
  const pool = read('packaging/php-fpm/app.conf');
  const site = read('packaging/nginx/site.conf');
  const sup = read('packaging/supervisor/herald-relay.conf');
  const unit = read('packaging/systemd/herald-relay.service');
  const tmpfiles = read('packaging/systemd/herald.tmpfiles.conf');

  const socket = ini(relay, 'socket');
  assert.equal(socket, '/run/herald/herald.sock');
  assert.equal(ini(php, 'herald.socket'), socket);
  assert.equal(ini(pool, 'php_admin_value[herald.socket]'), socket);
  assert.ok(tmpfiles.includes(`d ${path.dirname(socket)} `));
  assert.ok(unit.includes(`RuntimeDirectory=${path.basename(path.dirname(socket))}\n`));

  // The PHP-FPM workers' group owns the socket.
  assert.equal(ini(relay, 'socket_group'), ini(pool, 'group'));
  assert.equal(ini(relay, 'socket_mode'), '0660');

  // nginx proxies to the address the relay listens on; PHP-FPM's socket is nginx's fastcgi_pass.
  assert.ok(site.includes(`server ${ini(relay, 'listen')};`));
  assert.ok(site.includes(`fastcgi_pass unix:${ini(pool, 'listen')};`));

  // supervisord and systemd start the same command.
  const cmd = ini(sup, 'command');
  assert.equal(cmd, '/usr/local/bin/herald-relay --config /etc/herald/relay.ini');
  assert.ok(unit.includes(`\nExecStart=${cmd}\n`));
  // Both stop with SIGTERM and wait longer than the relay's own drain and
  // flush, with room to write the state file.
  assert.equal(ini(sup, 'stopsignal'), 'TERM');
  const stopS = (Number(ini(relay, 'drain_ms')) + Number(ini(relay, 'shutdown_timeout'))) / 1000;
  assert.ok(stopS >= 7, 'drain_ms and shutdown_timeout are set');
  assert.ok(Number(ini(sup, 'stopwaitsecs')) >= stopS + 5);
  assert.ok(Number(/\nTimeoutStopSec=(\d+)/.exec(unit)[1]) >= stopS + 5);
  // The state file lives where both keep it across restarts (not in
  // RuntimeDirectory, which systemd empties at each stop).
  const state = ini(relay, 'state_file');
  assert.equal(path.dirname(state), '/var/lib/herald');
  assert.ok(unit.includes('\nStateDirectory=herald\n'));
  assert.ok(tmpfiles.includes('d /var/lib/herald 0700 herald herald'));
  assert.ok(sup.includes('-m 0700 /var/lib/herald'));
  // systemd raises the descriptor limit; the supervisord program sets none (a
  // minfds above the host's hard limit would stop supervisord from starting).
  assert.ok(Number(/\nLimitNOFILE=(\d+)/.exec(unit)[1]) >= 65536);
  assert.equal(ini(sup, 'minfds'), null);
});
