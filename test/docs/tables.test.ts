/**
 * The error-code and close-code tables of docs/protocol.md restate the
 * catalogues src/protocol/errorCodes.ts and src/protocol/closeCodes.ts:
 * the same codes, and for each code the same advice to the client (retry or
 * not, reconnect or not) where the catalogue's comment gives one, and every
 * setting the comment names. No servers.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CloseCode } from '../../src/protocol/closeCodes.js';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { readDoc, repoRoot, section, tableRows } from '../helpers/markdown.js';

const doc = 'docs/protocol.md';

interface Entry {
  name: string;
  code: number;
  comment: string;
}

/** `/** comment *\/ NAME: 123,` entries of a catalogue's source, in order. */
function catalogue(file: string, object: string): Entry[] {
  const source = readFileSync(join(repoRoot, file), 'utf8');
  const body = source.slice(source.indexOf(`export const ${object} = {`));
  const entries: Entry[] = [];
  for (const match of body.slice(0, body.indexOf('} as const')).matchAll(/\/\*\*([\s\S]*?)\*\/\s*([A-Z_]+):\s*(\d+),/g)) {
    const comment = match[1]!.replace(/^\s*\*\s?/gm, '').replace(/\s+/g, ' ').trim();
    entries.push({ name: match[2]!, code: Number(match[3]), comment });
  }
  return entries;
}

/** Rows of the table under `## <title>` in docs/protocol.md: code → its cells after the code. */
function docTable(title: string): Map<number, string[]> {
  const rows = new Map<number, string[]>();
  for (const [code, ...rest] of tableRows(section(readDoc(doc), title))) {
    assert.match(code!, /^\d+$/, `${doc} "${title}": a row whose first cell is not a code: ${code}`);
    assert.ok(!rows.has(Number(code)), `${doc} "${title}": code ${code} listed twice`);
    rows.set(Number(code), rest);
  }
  return rows;
}

/** What a client should do after an error, in words: "no", "after signing in", "after the delay", "later", "yes"; undefined when the text says nothing. */
function retryAdvice(text: string): string | undefined {
  const t = text.toLowerCase();
  if (/^no\b|do not retry/.test(t)) return 'no';
  if (/after signing in/.test(t)) return 'after signing in';
  if (/after the delay|after how many seconds/.test(t)) return 'after the delay';
  if (/\blater\b/.test(t)) return 'later';
  if (/^yes\b|a retry may succeed/.test(t)) return 'yes';
  return undefined;
}

/** What a client should do after a close: "sign in again", "back off, then reconnect", "fix the client", "reconnect". */
function closeAdvice(text: string): string | undefined {
  const t = text.toLowerCase();
  if (/do not resume|sign in again/.test(t)) return 'sign in again';
  if (/back off/.test(t)) return 'back off, then reconnect';
  if (/fix the client/.test(t)) return 'fix the client';
  if (/reconnect/.test(t)) return 'reconnect';
  return undefined;
}

/** Setting names (`MAX_FRAME_BYTES`) in a text: upper-case words with an underscore. */
const settingsNamed = (text: string) => [...text.matchAll(/\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b/g)].map((m) => m[0]);

function checkTable(title: string, entries: Entry[], advice: (text: string) => string | undefined) {
  const rows = docTable(title);
  assert.deepEqual(
    [...rows.keys()].sort((a, b) => a - b),
    entries.map((e) => e.code).sort((a, b) => a - b),
    `${doc} "${title}" lists exactly the codes of the catalogue`,
  );
  for (const { name, code, comment } of entries) {
    const [what = '', should = ''] = rows.get(code)!;
    const expected = advice(comment);
    if (expected !== undefined) {
      assert.equal(advice(should), expected, `${code} (${name}): the catalogue says "${comment}", ${doc} says "${should}"`);
    }
    for (const setting of settingsNamed(comment)) {
      assert.ok(what.includes(setting), `${code} (${name}): the catalogue names ${setting}, ${doc} does not: "${what}"`);
    }
  }
}

describe('error and close code tables', () => {
  it('the catalogues are read whole (every code of the exported objects)', () => {
    const errors = catalogue('src/protocol/errorCodes.ts', 'ErrorCode');
    assert.deepEqual(Object.fromEntries(errors.map((e) => [e.name, e.code])), { ...ErrorCode });
    const closes = catalogue('src/protocol/closeCodes.ts', 'CloseCode');
    assert.deepEqual(Object.fromEntries(closes.map((e) => [e.name, e.code])), { ...CloseCode });
    for (const entry of [...errors, ...closes]) assert.ok(entry.comment, `${entry.name} has a comment`);
  });

  it('"Error codes" lists every code of src/protocol/errorCodes.ts and no other, with the same advice', () => {
    checkTable('Error codes', catalogue('src/protocol/errorCodes.ts', 'ErrorCode'), retryAdvice);
  });

  it('"Close codes" lists every code of src/protocol/closeCodes.ts and no other, with the same advice', () => {
    checkTable('Close codes', catalogue('src/protocol/closeCodes.ts', 'CloseCode'), closeAdvice);
  });

  it('the advice of every catalogue comment that gives one is understood (so the checks above are not vacuous)', () => {
    for (const { name, comment } of catalogue('src/protocol/errorCodes.ts', 'ErrorCode')) {
      if (/retry/i.test(comment)) assert.ok(retryAdvice(comment), `ErrorCode.${name}: no advice read from "${comment}"`);
    }
    for (const { name, comment } of catalogue('src/protocol/closeCodes.ts', 'CloseCode')) {
      assert.ok(closeAdvice(comment), `CloseCode.${name}: no advice read from "${comment}"`);
    }
  });
});
