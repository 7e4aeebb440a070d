/**
 * Every relative link and image in README.md and docs/*.md points at a file
 * of the repository, and a `#anchor` into a Markdown file at one of its
 * headings (as GitHub names them). The README stays the way in: its quick
 * start names the commands CI and a newcomer run, and it links every file of
 * docs/. No servers.
 */
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { anchors, docFiles, links, readDoc, repoRoot, section, slug } from '../helpers/markdown.js';

/** Links with a scheme (https:, mailto:) or protocol-relative ones leave the repository: not checked here. */
const external = (target: string) => /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//');

describe('documentation links', () => {
  it('every relative link of README.md and docs/*.md names an existing file, and every #anchor an existing heading', () => {
    const broken: string[] = [];
    let checked = 0;
    for (const file of docFiles()) {
      for (const { target, line } of links(readDoc(file))) {
        if (external(target)) continue;
        checked++;
        const where = `${file}:${line} → ${target}`;
        const [rawPath = '', rawAnchor] = target.split('#', 2);
        const path = decodeURI(rawPath.split('?')[0]!);
        const absolute = path === '' ? join(repoRoot, file) : path.startsWith('/') ? join(repoRoot, path) : resolve(repoRoot, dirname(file), path);
        const inRepo = relative(repoRoot, absolute);
        if (inRepo.startsWith('..')) {
          broken.push(`${where}: outside the repository`);
          continue;
        }
        if (!existsSync(absolute)) {
          broken.push(`${where}: no file ${inRepo}`);
          continue;
        }
        if (rawAnchor !== undefined && inRepo.endsWith('.md') && statSync(absolute).isFile()) {
          const anchor = decodeURIComponent(rawAnchor);
          if (!anchors(readDoc(inRepo)).has(anchor)) broken.push(`${where}: ${inRepo} has no heading with the anchor #${anchor}`);
        }
      }
    }
    assert.ok(checked > 20, `links were found (${checked})`);
    assert.deepEqual(broken, [], `broken links:\n${broken.join('\n')}`);
  });

  it('anchors are named as GitHub names them', () => {
    assert.equal(slug('Two-factor authentication (TOTP)'), 'two-factor-authentication-totp');
    assert.equal(slug('`npm run loadtest`'), 'npm-run-loadtest');
    assert.equal(slug("Passwords people can't guess"), 'passwords-people-cant-guess');
    assert.equal(slug('Accounts, tokens and sessions'), 'accounts-tokens-and-sessions');
    assert.equal(slug('Result oneof of `RPCResult` (field number, name, type)'), 'result-oneof-of-rpcresult-field-number-name-type');
    assert.deepEqual([...anchors('# A\n## B\n```\n# not a heading\n```\n## B\n')], ['a', 'b', 'b-1']);
  });

  it('a link in code is not a link; a broken one in prose is found', () => {
    const text = 'See [this](a.md#x).\n\n```js\nconst x = [1](2);\n```\n\n`[no](link.md)` and ![img](b.png)\n[ref]: c.md\n';
    assert.deepEqual(
      links(text).map((l) => l.target),
      ['a.md#x', 'b.png', 'c.md'],
    );
  });
});

describe('README', () => {
  it('the quick start names npm ci, npm start and npm test', () => {
    const quickStart = section(readDoc('README.md'), 'Quick start');
    const commands = /```sh\n([\s\S]*?)```/.exec(quickStart)?.[1] ?? '';
    for (const command of ['npm ci', 'npm start', 'npm test']) {
      assert.match(commands, new RegExp(`^${command}\\b`, 'm'), `the quick start's first sh block runs ${command}`);
    }
  });

  it('links every file of docs/', () => {
    const linked = new Set(
      links(readDoc('README.md'))
        .filter((l) => !external(l.target))
        .map((l) => l.target.split('#')[0]),
    );
    for (const file of docFiles().filter((f) => f !== 'README.md')) assert.ok(linked.has(file), `README.md links ${file}`);
  });
});
