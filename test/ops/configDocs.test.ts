/**
 * The configuration is documented in three places that must agree: the zod
 * schema (src/config.ts), the configuration table (docs/configuration.md) and
 * .env.example.
 * And a bad setting stops `npm start` with a message naming the variable.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { describe, it } from 'node:test';
import { configSchema, loadConfig } from '../../src/config.js';
import { nodeArgs } from '../helpers/entry.js';
import { runToExit } from '../helpers/process.js';

const schemaNames = Object.keys(configSchema.shape).sort();
const defaults = loadConfig({}) as unknown as Record<string, unknown>;

/** Rows of the configuration table in docs/configuration.md: name → default column. */
function configTable(): Map<string, string> {
  const rows = new Map<string, string>();
  for (const line of readFileSync('docs/configuration.md', 'utf8').split('\n')) {
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
  it('docs/configuration.md, .env.example and the schema list exactly the same variables', () => {
    assert.deepEqual([...configTable().keys()].sort(), schemaNames, 'docs/configuration.md table');
    assert.deepEqual([...envExample().keys()].sort(), schemaNames, '.env.example (regenerate: node --import tsx scripts/envExample.ts > .env.example)');
  });

  it('every schema entry explains itself (describe) for the generated docs', () => {
    for (const name of schemaNames) {
      assert.ok((configSchema.shape as Record<string, { description?: string }>)[name]!.description, `${name} has a description`);
    }
  });

  it('docs/configuration.md and .env.example state the defaults the schema applies', () => {
    const env = envExample();
    for (const [name, stated] of configTable()) {
      const actual = defaults[name];
      if (stated === 'unset') {
        assert.equal(actual, undefined, `${name}: docs/configuration.md says unset`);
        assert.equal(env.get(name), '', `${name}: .env.example leaves it empty`);
      } else if (/^`<[A-Z_]+>[^`]*`$/.test(stated)) {
        // Derived from another setting at use (e.g. `<DATA_DIR>/outbox`): unset in the schema.
        assert.equal(actual, undefined, `${name}: docs/configuration.md states a derived default`);
        assert.equal(env.get(name), '', `${name}: .env.example leaves it empty`);
      } else if (stated === 'CPU count') {
        assert.equal(actual, availableParallelism(), `${name}: docs/configuration.md says CPU count`);
      } else {
        const literal = /^`([^`]*)`$/.exec(stated);
        assert.ok(literal, `${name}: docs/configuration.md default is \`value\`, \`<OTHER>...\`, unset or CPU count, not "${stated}"`);
        assert.equal(String(actual), literal[1], `${name}: docs/configuration.md default`);
        assert.equal(env.get(name), literal[1], `${name}: .env.example default`);
      }
    }
  });
});

/** Runs `src/main.ts` with `env` and returns its exit code and stderr. */
function start(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return runToExit(process.execPath, nodeArgs('src/main.ts'), {
    env: { ...process.env, DATABASE_URL: '', REDIS_URL: '', DATA_DIR: '/nonexistent/never-created', ...env },
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
