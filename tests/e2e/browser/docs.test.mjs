// The docs' own snippets are part of make test: every fenced block of
// README.md and docs/OPERATIONS.md is run by a test or checked here against
// what it names (packaging files and their installed paths, make targets,
// relay options and their defaults, PHP's INI entries, the release version,
// kernel keys, nginx's parser), and a block that no rule below covers fails,
// so a new snippet comes with its test. Where a block cannot run as written
// in a test (sudo, systemd, the network), its rule says which test runs the
// same thing, and the checks still hold it to the shipped files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { ROOT, RELAY_BIN, Relay, tmpdir } from '../lib/harness.mjs';
import { EXT } from './lib/stack.mjs';
import { readDoc, blocks, section, installTable, FROM_ZERO, walkSteps } from './lib/docs.mjs';

const read = (rel) => fs.readFileSync(path.join(ROOT, rel), 'utf8');
const TABLE = installTable();
const SHIPPED_RELAY_INI = read('packaging/herald/relay.ini');
const VERSION = /<release>([^<]+)<\/release>/.exec(read('package.xml'))[1];

// The relay's options and their defaults, from --help.
const HELP = spawnSync(RELAY_BIN, ['--help'], { encoding: 'utf8' }).stdout;
const OPTIONS = new Map([...HELP.matchAll(/^ {2}--(\w+) +.*?(?:\(([^()]*)\))?$/gm)].map((m) => [m[1], m[2]]));

// key = value lines of an INI text (";" and "#" comment lines and tails dropped).
function iniPairs(text, { commented = false } = {}) {
  const out = new Map();
  for (const raw of text.split('\n')) {
    const line = commented ? raw.replace(/^;(?=\w)/, '') : raw;
    const m = /^\s*([\w.[\]-]+)\s*=\s*(.*?)\s*(?:[;#].*)?$/.exec(line);
    if (m && !/^\s*[;#]/.test(line)) out.set(m[1], m[2]);
  }
  return out;
}
const SHIPPED = iniPairs(SHIPPED_RELAY_INI, { commented: true });

// Every relay.ini key names an option; a key the shipped relay.ini sets (or
// shows commented) has the shipped value.
function relayIni(b) {
  for (const [k, v] of iniPairs(b.code)) {
    assert.ok(OPTIONS.has(k), `${k} is a relay option (herald-relay --help)`);
    if (SHIPPED.has(k)) assert.equal(v, SHIPPED.get(k), `${k}: the shipped relay.ini says ${SHIPPED.get(k)}`);
  }
}

// A pool line: a herald.* INI entry the extension has, set as the shipped pool sets it.
function poolLine(b) {
  const known = spawnSync('php', ['-n', '-d', `extension=${EXT}`, '-r', 'echo implode(" ", array_keys(ini_get_all("herald")));'], {
    encoding: 'utf8',
  }).stdout.split(' ');
  const pool = read('packaging/php-fpm/app.conf');
  for (const [k] of iniPairs(b.code)) {
    const m = /^php_admin_value\[(herald\.\w+)\]$/.exec(k);
    assert.ok(m && known.includes(m[1]), `${k}: a herald.* INI entry`);
    assert.match(pool, new RegExp(`^;?${k.replace(/[[\].]/g, '\\$&')} = "`, 'm'), `the shipped pool has ${k}, quoted`);
  }
}

function agreesWithTable(src, dest) {
  const row = TABLE.find((r) => src === r.src || (r.src.endsWith('/') && src.startsWith(r.src)));
  if (!row || !row.dest) return;
  const ok = dest === row.dest || (row.dest.endsWith('/') && (dest === row.dest.slice(0, -1) || dest === row.dest + path.basename(src)));
  assert.ok(ok, `${src} goes to ${row.dest} (the table at the top of OPERATIONS.md), not ${dest}`);
}

const makeOk = new Map();
function makeTarget(t) {
  if (!makeOk.has(t)) {
    const env = { ...process.env };
    for (const k of ['MAKEFLAGS', 'MFLAGS', 'MAKELEVEL']) delete env[k];
    makeOk.set(t, spawnSync('make', ['-n', '-C', ROOT, t], { encoding: 'utf8', env }).status === 0);
  }
  assert.ok(makeOk.get(t), `make ${t} is a target of the project's GNUmakefile`);
}

// What a shell snippet names: it parses; each packaging file exists and goes
// where the table says; each make target exists; each relay flag is an
// option; each release tarball is this version.
function shell(b) {
  const r = spawnSync('bash', ['-n'], { input: b.code, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  for (const m of b.code.matchAll(/(?<![\w/$"])packaging\/[\w./-]*[\w/]/g)) {
    assert.ok(fs.existsSync(path.join(ROOT, m[0])), `${m[0]} exists`);
  }
  for (const line of b.code.split('\n')) {
    const cmd = line.replace(/\s+#.*$/, '');
    // Each simple command: a copy of a packaging file names its destination last.
    for (const simple of cmd.split(/&&|\|\||;|\|/)) {
      const src = /(?<![\w/$"])(packaging\/\S+)/.exec(simple);
      if (src && /\b(cp|install)\b/.test(simple)) {
        const words = simple.trim().split(/\s+/);
        agreesWithTable(src[1], words[words.length - 1]);
      }
    }
    if (!/phpize/.test(cmd)) for (const m of cmd.matchAll(/\bmake ([a-z][\w-]*)/g)) makeTarget(m[1]);
    if (/build\/herald-relay\b/.test(cmd)) {
      for (const m of cmd.matchAll(/ --(\w+)/g)) {
        assert.ok(['help', 'config', 'version'].includes(m[1]) || OPTIONS.has(m[1]), `--${m[1]} is a relay option`);
      }
    }
    for (const m of cmd.matchAll(/herald-(\d+\.\d+\.\d+)\b/g)) assert.equal(m[1], VERSION, 'the version of package.xml');
  }
}

// Browser code: it parses, and the endpoints it names are served.
function browserJs(b) {
  new vm.Script(b.code);
  const snippet = read('packaging/nginx/herald.conf');
  if (/['`]\/sse\?/.test(b.code)) assert.match(snippet, /location = \/sse /);
  if (/\/ws[`'?]/.test(b.code)) assert.match(snippet, /location = \/ws /);
  if (/herald-subscribe\.php/.test(b.code)) assert.ok(fs.existsSync(path.join(ROOT, 'packaging/app/herald-subscribe.php')));
}

// PHP for a page or a worker: runs with the extension against a relay, and
// each of its calls reaches it.
let relay; // started by the test that runs PHP (a relay is stopped when its test ends)
async function runPhp(b, frames) {
  const dir = tmpdir();
  try {
    const file = path.join(dir, 'snippet.php');
    fs.writeFileSync(file, b.code);
    const before = (await relay.metrics()).herald_ingest_frames_total;
    const r = spawnSync('php', ['-n', '-d', `extension=${EXT}`, '-d', `herald.socket=${relay.socket}`, '-d', 'herald.ack=1', file], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.equal(r.stderr, '');
    // Its calls' frames, and the connection's hello.
    assert.equal((await relay.metrics()).herald_ingest_frames_total - before, frames + 1, 'every call reached the relay');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// An nginx snippet: nginx -t accepts it where it says it goes.
function nginxSnippet(b) {
  const [httpPart, locationPart] = b.code.split(/^# in each location.*$/m);
  const dir = tmpdir();
  try {
    const conf = path.join(dir, 'nginx.conf');
    fs.writeFileSync(
      conf,
      `error_log ${dir}/error.log;\npid ${dir}/nginx.pid;\nevents {}\nhttp {\n${httpPart}\nserver {\nlisten 127.0.0.1:1;\n` +
        `location / {\n${locationPart}\nproxy_pass http://127.0.0.1:9;\n}\n}\n}\n`,
    );
    const r = spawnSync('nginx', ['-t', '-q', '-p', dir, '-c', conf, '-e', `${dir}/error.log`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// An nginx location for a server { } of the site: nginx -t accepts it there,
// with the upstream herald_relay that site.conf defines.
function nginxLocation(b) {
  const upstream = /^upstream herald_relay \{[\s\S]*?^\}/m.exec(read('packaging/nginx/site.conf'))[0];
  const dir = tmpdir();
  try {
    const conf = path.join(dir, 'nginx.conf');
    fs.writeFileSync(
      conf,
      `error_log ${dir}/error.log;\npid ${dir}/nginx.pid;\nevents {}\nhttp {\n${upstream}\nserver {\nlisten 127.0.0.1:1;\n${b.code}\n}\n}\n`,
    );
    const r = spawnSync('nginx', ['-t', '-q', '-p', dir, '-c', conf, '-e', `${dir}/error.log`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// PHP that mints a token into $token: runs with a secret, and the token is
// an HS256 JWT whose claims are the ones the snippet names.
function phpToken(b) {
  const dir = tmpdir();
  try {
    const file = path.join(dir, 'snippet.php');
    fs.writeFileSync(file, `<?php\n${b.code.replace(/^<\?php\n/, '')}\necho $token;\n`);
    const r = spawnSync('php', ['-n', '-d', `extension=${EXT}`, '-d', `herald.secret=${'ab'.repeat(32)}`, file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const [h, c, sig] = r.stdout.split('.');
    assert.deepEqual(JSON.parse(Buffer.from(h, 'base64url')), { alg: 'HS256', typ: 'JWT' });
    const claims = JSON.parse(Buffer.from(c, 'base64url'));
    for (const [, k] of b.code.matchAll(/'(\w+)' =>/g)) assert.ok(k in claims, `the token has the claim ${k}`);
    assert.ok(claims.exp > Date.now() / 1000, 'the token has a future exp');
    assert.ok(sig.length > 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// A sysctl.d file: every key is one this kernel has.
function sysctlFile(b) {
  for (const [k] of iniPairs(b.code)) assert.ok(fs.existsSync(`/proc/sys/${k.replace(/\./g, '/')}`), `${k} is a kernel key`);
}

// A PHP file that cannot run alone (a hook script): PHP parses it.
function phpLint(b) {
  const r = spawnSync('php', ['-n', '-l'], { input: b.code, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
}

// A php-fpm pool: php-fpm -t accepts it (with the extension, for its
// herald.* lines), under a [global] of its own.
function fpmPool(b) {
  const dir = tmpdir();
  try {
    const conf = path.join(dir, 'fpm.conf');
    fs.writeFileSync(conf, `[global]\nerror_log = ${dir}/fpm.log\npid = ${dir}/fpm.pid\n${b.code}`);
    const r = spawnSync(process.env.PHP_FPM || 'php-fpm8.2', ['-n', '-d', `extension=${EXT}`, '-t', '-y', conf], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// { doc, has: a line of the block, how: who runs it, check }
const RULES = [
  { doc: 'README.md', has: 'browser ──SSE /sse', how: 'a figure' },
  { doc: 'README.md', has: "ws_publish('chat.42', json_encode(['from' => 'ana'", how: 'run here', check: (b) => runPhp(b, 3) },
  { doc: 'README.md', has: '// In the browser: plain EventSource', how: 'parsed here; relay_sse and relay_ws run these calls', check: browserJs },
  { doc: 'README.md', has: 'make demo', how: 'make test is this run; make demo: demo.test.mjs', check: shell },
  {
    doc: 'README.md', has: 'build/herald-relay --help', how: 'checked here (defaults, flags); run by every relay test',
    check: (b) => {
      shell(b);
      assert.ok(b.code.includes(`# ${OPTIONS.get('listen')}, ingest socket ${OPTIONS.get('socket')}`), 'the defaults --help gives');
    },
  },
  { doc: 'README.md', has: 'listen = 127.0.0.1:8080', how: 'checked here against packaging/herald/relay.ini', check: relayIni },
  { doc: 'README.md', has: 'pecl install herald-', how: 'suite 30-php: pecl package and install, phpize in the tarball and in a clone, composer', check: shell },
  { doc: 'README.md', has: "if (!ws_publish('chat.42', json_encode(['text' => 'hi'])))", how: 'run here', check: (b) => runPhp(b, 3) },
  { doc: 'README.md', has: 'foreach (herald_hook_events() as $e)', how: 'parsed here (php -l); demo/hooks.php is this hook, run by chat.test.mjs', check: phpLint },

  { doc: 'docs/OPERATIONS.md', has: '┌──────────────── one host', how: 'a figure' },
  { doc: 'docs/OPERATIONS.md', has: 'make relay ', how: 'not as written (sudo, /usr/local/bin, a user): From zero, steps 1 and 2 do it', check: shell },
  { doc: 'docs/OPERATIONS.md', has: 'sudo pecl install herald-', how: 'suite 30-php (pecl install into a scratch tree)', check: shell },
  { doc: 'docs/OPERATIONS.md', has: 'phpize && ./configure --enable-herald && make && sudo make install', how: 'suite 30-php (the tarball and a clone)', check: shell },
  { doc: 'docs/OPERATIONS.md', has: 'sudo phpenmod herald', how: 'From zero, step 3 (what phpenmod does, under PREFIX)', check: shell },
  { doc: 'docs/OPERATIONS.md', has: 'curl -s http://127.0.0.1:8080/healthz', how: 'From zero, step 7 runs these checks', check: shell },
  { doc: 'docs/OPERATIONS.md', has: 'sudo systemctl enable --now herald-relay', how: 'not run: no systemd in a container; packaging.test verifies the unit (systemd-analyze)', check: shell },
  { doc: 'docs/OPERATIONS.md', has: 'sudo supervisorctl status herald-relay', how: 'From zero, steps 2 and 6; restart.test.mjs runs the program', check: shell },
  { doc: 'docs/OPERATIONS.md', has: 'sudo ln -s ../sites-available/app.conf /etc/nginx/sites-enabled/', how: 'From zero, step 5', check: shell },
  { doc: 'docs/OPERATIONS.md', has: 'sudo sh packaging/herald/handoff-secret.sh', how: 'From zero, step 2; handoff.test.mjs', check: shell },
  { doc: 'docs/OPERATIONS.md', has: 'browser ── GET /herald-subscribe.php', how: 'a figure' },
  { doc: 'docs/OPERATIONS.md', has: "new EventSource('/herald-subscribe.php", how: 'handoff.test.mjs opens both in Chromium', check: browserJs },
  { doc: 'docs/OPERATIONS.md', has: 'sudo sh packaging/herald/token-secret.sh', how: 'token_secret.test.mjs', check: shell },
  { doc: 'docs/OPERATIONS.md', has: 'ws_origins = https://www.example.com', how: 'checked here; token_secret.test.mjs runs secret_file', check: relayIni },
  { doc: 'docs/OPERATIONS.md', has: 'php_admin_value[herald.secret] = "<64 hex', how: 'checked here; token_secret.test.mjs runs the line', check: poolLine },
  { doc: 'docs/OPERATIONS.md', has: '# /etc/sysctl.d/60-herald.conf', how: 'checked here (not applied: the test machine is not ours to tune)', check: sysctlFile },
  { doc: 'docs/OPERATIONS.md', has: 'split_clients "$remote_addr$remote_port" $herald_src', how: 'nginx -t here (not exercised under load)', check: nginxSnippet },
  { doc: 'docs/OPERATIONS.md', has: 'publish_api = 1', how: 'checked here; http_publish.test.mjs runs relays with it', check: relayIni },
  { doc: 'docs/OPERATIONS.md', has: "herald_token(['publish' =>", how: 'run here (the token it mints); http_publish.test.mjs publishes with such tokens', check: phpToken },
  { doc: 'docs/OPERATIONS.md', has: 'b64url()', how: 'http_publish.test.mjs runs it as written (the URL and the secret path replaced)', check: shell },
  { doc: 'docs/OPERATIONS.md', has: 'location = /publish {', how: 'nginx -t here, in a server of the site with its upstream', check: nginxLocation },
  { doc: 'docs/OPERATIONS.md', has: '; /etc/herald/relay.ini on every relay', how: 'checked here; cluster_relay.test.mjs runs relays on one Redis', check: relayIni },
  { doc: 'docs/OPERATIONS.md', has: 'app_fastcgi = unix:/run/php/php8.2-fpm-hooks.sock', how: 'checked here (keys and shipped values); the hooks e2e tests and chat.test.mjs run relays with hooks', check: relayIni },
  { doc: 'docs/OPERATIONS.md', has: '; /etc/php/8.2/fpm/pool.d/hooks.conf', how: 'php-fpm -t here; the hooks e2e tests run static and ondemand pools', check: fpmPool },
];

const WALK = walkSteps().flatMap((s) => s.blocks);

for (const doc of ['README.md', 'docs/OPERATIONS.md']) {
  test(`${doc}: every snippet is run by a test or checked here`, async (t) => {
    const text = readDoc(doc);
    const walk = doc === 'docs/OPERATIONS.md' ? section(text, FROM_ZERO) : '';
    const used = new Set();
    relay = await new Relay().start();
    for (const b of blocks(text)) {
      if (walk.includes(b.code) && WALK.includes(b.code)) {
        t.diagnostic(`${doc}:${b.line} run as written by from_zero.test.mjs`);
        continue;
      }
      const rules = RULES.filter((r) => r.doc === doc && b.code.split('\n').some((l) => l.includes(r.has)));
      assert.equal(rules.length, 1, `${doc}:${b.line}: ${rules.length ? 'several rules' : 'no test runs or checks this snippet: add one'}\n${b.code}`);
      const [rule] = rules;
      assert.ok(!used.has(rule), `${doc}:${b.line}: a second block for the rule "${rule.has}"`);
      used.add(rule);
      if (rule.check) await rule.check(b);
      t.diagnostic(`${doc}:${b.line} ${rule.how}`);
    }
    for (const r of RULES.filter((x) => x.doc === doc)) assert.ok(used.has(r), `${doc} no longer has the snippet "${r.has}"`);
    await relay.stopClean();
  });
}

test('README and OPERATIONS agree on the install paths', () => {
  const ops = readDoc('docs/OPERATIONS.md');
  const readme = readDoc('README.md');
  // Every system path the README names, OPERATIONS names too.
  for (const m of readme.matchAll(/(?<![\w.])\/(?:etc|run|var|usr)\/[\w./-]*\w/g)) {
    assert.ok(ops.includes(m[0]), `README's ${m[0]} is in OPERATIONS.md`);
  }
  // The PHP extension is enabled the same way, with its settings file.
  for (const doc of [readme, ops, readDoc('docs/PHP.md')]) {
    assert.doesNotMatch(doc, /`extension=herald\.so` in\s+(a\s+)?php\.ini/);
    assert.match(doc, /packaging\/php\/herald\.ini/);
  }
  // PHP.md's install commands too: the files, the destinations, the version.
  for (const b of blocks(readDoc('docs/PHP.md')).filter((x) => x.lang === 'sh')) shell(b);
  // The table's destinations are the shipped files' own first lines.
  for (const r of TABLE.filter((x) => x.dest && !x.src.endsWith('/'))) {
    const first = read(r.src).split('\n').find((l) => /^[;#] \//.test(l));
    if (!first) continue;
    const named = /^[;#] (\/\S+?):?(\s|$)/.exec(first)[1];
    agreesWithTable(r.src, named);
  }
});

test('the checks catch a snippet that drifted', async () => {
  relay = await new Relay().start();
  // Each kind of check, given a block as it would read after a drift.
  assert.throws(() => relayIni({ code: 'socket = /tmp/elsewhere.sock\n' }), /shipped relay.ini/);
  assert.throws(() => relayIni({ code: 'no_such_option = 1\n' }), /relay option/);
  assert.throws(() => shell({ code: 'sudo cp packaging/php/herald.ini /etc/php/8.2/conf.d/\n' }), /goes to/);
  assert.throws(() => shell({ code: 'cp packaging/nginx/herald.conf /etc/nginx/conf.d/ && nginx -t\n' }), /goes to/);
  assert.throws(() => shell({ code: 'sudo cp packaging/nowhere.conf /etc/\n' }), /exists/);
  assert.throws(() => shell({ code: 'make no-such-target\n' }), /target/);
  assert.throws(() => shell({ code: 'pecl install herald-9.9.9.tgz\n' }), /version/);
  assert.throws(() => poolLine({ code: 'php_admin_value[herald.nothing] = "x"\n' }), /INI entry/);
  assert.throws(() => sysctlFile({ code: 'net.core.no_such_key = 1\n' }), /kernel key/);
  assert.throws(() => phpLint({ code: '<?php foreach ($a as) {}\n' }));
  assert.throws(() => fpmPool({ code: '[hooks]\nlisten = /tmp/x.sock\npm = statik\n' }), /invalid process manager/);
  assert.throws(() => nginxLocation({ code: 'location = /publish { proxy_pass http://no_such_upstream_x; allow_all; }\n' }));
  assert.throws(() => phpToken({ code: "$token = herald_token(['channels' => ['a']], 60);\n// 'publish' =>\n" }), /claim publish/);
  await assert.rejects(runPhp({ code: "<?php sse_emit('', 'x');\n" }, 1));
  await assert.rejects(runPhp({ code: "<?php sse_emit('a', 'x');\n" }, 2), /every call reached the relay/);
  await relay.stopClean();
});
