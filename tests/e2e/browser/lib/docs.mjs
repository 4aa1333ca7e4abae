// The docs' own snippets, for the tests that run or check them: a section
// of a Markdown file by its heading, its fenced blocks by language, and the
// steps of docs/OPERATIONS.md's "From zero to a deployed app".
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../lib/harness.mjs';

export function readDoc(rel) {
  return fs.readFileSync(path.join(ROOT, rel), 'utf8');
}

// From the heading that matches re (a line) to the next heading of the same
// level or higher.
export function section(doc, re) {
  const lines = doc.split('\n');
  const at = lines.findIndex((l) => re.test(l));
  assert.ok(at >= 0, `no heading ${re}`);
  const level = /^#+/.exec(lines[at])[0].length;
  let end = lines.length;
  let fenced = false;
  for (let i = at + 1; i < lines.length; i++) {
    if (/^ *```/.test(lines[i])) fenced = !fenced;
    const h = !fenced && /^(#+) /.exec(lines[i]);
    if (h && h[1].length <= level) {
      end = i;
      break;
    }
  }
  return lines.slice(at, end).join('\n');
}

// Every fenced block, also one indented in a list item: { lang, code, line }
// (line: 1-based, of the opening fence; code without the indentation).
export function blocks(doc) {
  const out = [];
  const lines = doc.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^( *)```(\S*)\s*$/.exec(lines[i]);
    if (!m) continue;
    const start = i;
    const indent = m[1].length;
    const body = [];
    for (i++; i < lines.length && !/^ *```\s*$/.test(lines[i]); i++) body.push(lines[i].slice(indent));
    out.push({ lang: m[2], code: body.join('\n') + '\n', line: start + 1 });
  }
  return out;
}

export const FROM_ZERO = /^## (\d+\. )?From zero to a deployed app$/;

// The walk's steps ("### Step N: title"), each with its ```sh blocks.
export function walkSteps(doc = readDoc('docs/OPERATIONS.md')) {
  const text = section(doc, FROM_ZERO);
  return text
    .split(/^### /m)
    .slice(1)
    .map((part) => {
      const m = /^Step (\d+): (.*)$/m.exec(part.split('\n')[0]);
      assert.ok(m, `a step's heading reads "### Step N: title": ${part.split('\n')[0]}`);
      return {
        n: Number(m[1]),
        title: m[2],
        blocks: blocks(part).filter((b) => b.lang === 'sh').map((b) => b.code),
      };
    });
}

// OPERATIONS.md's table of packaging files: { src, dest } for each file
// (dest: an absolute path, a folder when it ends in "/", or null for "run as
// root", "your public root" and the like).
export function installTable(doc = readDoc('docs/OPERATIONS.md')) {
  const rows = [];
  for (const line of doc.split('\n')) {
    const m = /^\| (`packaging\/[^|]*) \| ([^|]*) \|/.exec(line);
    if (!m) continue;
    const names = [...m[1].matchAll(/`([^`]+)`/g)].map((x) => x[1]);
    const dest = /^`(\/[^`]*)`$/.exec(m[2].trim());
    const dir = path.dirname(names[0]);
    for (const n of names) rows.push({ src: n.includes('/') ? n : `${dir}/${n}`, dest: dest ? dest[1] : null });
  }
  return rows;
}
