#!/usr/bin/env node
// Generates herald-client.global.js (a classic script defining window.Herald)
// from the ES module herald-client.js, so that both ship from one source.
//   node build.mjs           write it
//   node build.mjs --check   exit 1 when the committed file is not what this makes
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.dirname(fileURLToPath(import.meta.url));
const SRC = path.join(dir, 'herald-client.js');
const OUT = path.join(dir, 'herald-client.global.js');

export function buildGlobal(src) {
  const names = [];
  const body = src
    .split('\n')
    .map((line) => {
      if (/^export default /.test(line)) return null;
      const m = /^export (class|function|const|let|async function) ([A-Za-z_$][\w$]*)/.exec(line);
      if (m) {
        names.push(m[2]);
        return line.slice('export '.length);
      }
      if (/^export\b/.test(line)) throw new Error(`build.mjs: unsupported export: ${line}`);
      return line;
    })
    .filter((l) => l !== null)
    .map((l) => (l ? '  ' + l : l))
    .join('\n');
  if (!names.includes('Herald')) throw new Error('build.mjs: the module exports no Herald');
  const statics = names
    .filter((n) => n !== 'Herald')
    .map((n) => `  Herald.${n} = ${n};`)
    .join('\n');
  return (
    '/* Generated from herald-client.js by build.mjs: do not edit (edit herald-client.js, run node build.mjs). */\n' +
    '(function () {\n' +
    "  'use strict';\n" +
    body.replace(/\s+$/, '') +
    '\n\n' +
    '  Herald.Herald = Herald;\n' +
    statics +
    '\n' +
    "  (typeof globalThis !== 'undefined' ? globalThis : window).Herald = Herald;\n" +
    '})();\n'
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = buildGlobal(fs.readFileSync(SRC, 'utf8'));
  if (process.argv.includes('--check')) {
    const have = fs.existsSync(OUT) ? fs.readFileSync(OUT, 'utf8') : '';
    if (have !== out) {
      console.error('herald-client.global.js is not built from herald-client.js: run node packages/herald-client/build.mjs');
      process.exit(1);
    }
    console.log('herald-client.global.js is up to date');
  } else {
    fs.writeFileSync(OUT, out);
    console.log(`wrote ${path.relative(process.cwd(), OUT)}`);
  }
}
