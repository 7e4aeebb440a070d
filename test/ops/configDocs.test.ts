/**
 * The configuration is documented in three places that must agree: the zod
 * schema (src/config.ts), the README's configuration table and .env.example.
 * And a bad setting stops `npm start` with a message naming the variable.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { describe, it } from 'node:test';
import { configSchema, loadConfig } from '../../src/config.js';
import { nodeArgs } from '../helpers/entry.js';

const schemaNames = Object.keys(configSchema.shape).sort();
const defaults = loadConfig({}) as unknown as Record<string, unknown>;

/** Rows of the README table under "## Configuration": name → default column. */
function readmeTable(): Map<string, string> {
  const readme = readFileSync('README.md', 'utf8');
  const section = readme.slice(readme.indexOf('\n## Configuration'));
  const end = section.indexOf('\n## ', 5);
  const rows = new Map<string, string>();
  for (const line of (end > 0 ? section.slice(0, end) : section).split('\n')) {
    const match = /^\|\s*`([A-Z0-9_]+)`\s*\|\s*([^|]*?)\s*\|/.exec(line);
    if (match) rows.set(match[1]!, match[2]!);
  }
  return rows;
}

/** Settings in .env.example (`NAME=value`, commented or not): name → value. */
function envExample(): Map<string, string> {
  const entries = new Map<string, string>();
  for (const line of readFileSync('.env.example', 'utf8').split('\n')) {
    const match = /^#?\s*([A-Z0-9_]+)=(.*)$/.exec(line);
    // Values with spaces or shell characters are double-quoted (both sh and compose read that).
    if (match) entries.set(match[1]!, match[2]!.trim().replace(/^"(.*)"$/, '$1'));
  }
  return entries;
}

describe('configuration documentation', () => {
  it('README table, .env.example and the schema list exactly the same variables', () => {
    assert.deepEqual([...readmeTable().keys()].sort(), schemaNames, 'README configuration table');
    assert.deepEqual([...envExample().keys()].sort(), schemaNames, '.env.example (regenerate: node --import tsx scripts/envExample.ts > .env.example)');
  });

  it('every schema entry explains itself (describe) for the generated docs', () => {
    for (const name of schemaNames) {
      assert.ok((configSchema.shape as Record<string, { description?: string }>)[name]!.description, `${name} has a description`);
    }
  });

  it('the README and .env.example state the defaults the schema applies', () => {
    const env = envExample();
    for (const [name, stated] of readmeTable()) {
      const actual = defaults[name];
      if (stated === 'unset') {
        assert.equal(actual, undefined, `${name}: README says unset`);
        assert.equal(env.get(name), '', `${name}: .env.example leaves it empty`);
      } else if (/^`<[A-Z_]+>[^`]*`$/.test(stated)) {
        // Derived from another setting at use (e.g. `<DATA_DIR>/outbox`): unset in the schema.
        assert.equal(actual, undefined, `${name}: README states a derived default`);
        assert.equal(env.get(name), '', `${name}: .env.example leaves it empty`);
      } else if (stated === 'CPU count') {
        assert.equal(actual, availableParallelism(), `${name}: README says CPU count`);
      } else {
        const literal = /^`([^`]*)`$/.exec(stated);
        assert.ok(literal, `${name}: README default is \`value\`, \`<OTHER>...\`, unset or CPU count, not "${stated}"`);
        assert.equal(String(actual), literal[1], `${name}: README default`);
        assert.equal(env.get(name), literal[1], `${name}: .env.example default`);
      }
    }
  });
});

/** Runs `src/main.ts` with `env` and returns its exit code and stderr. */
function start(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, nodeArgs('src/main.ts'), {
      env: { ...process.env, DATABASE_URL: '', REDIS_URL: '', DATA_DIR: '/nonexistent/never-created', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.once('exit', (code) => resolve({ code, stderr }));
  });
}

describe('configuration errors at start', () => {
  // One start with four bad settings (each is also refused alone, in process, by config.test.ts).
  it('a bad configuration stops the start with exit 2 and a message naming each bad setting', async () => {
    const bad = { PORT: 'abc', BCRYPT_COST: '99', WORKERS: '0', LOG_LEVEL: 'loud' };
    const { code, stderr } = await start(bad);
    assert.equal(code, 2);
    assert.match(stderr, /invalid configuration:/);
    for (const [name, value] of Object.entries(bad)) assert.ok(stderr.includes(`${name}="${value}": `), `names ${name}: ${stderr}`);
  });
});
