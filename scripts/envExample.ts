/**
 * Writes .env.example from the configuration schema (src/config.ts): every
 * setting, its description and its default, commented out.
 *   node --import tsx scripts/envExample.ts > .env.example
 * test/ops/configDocs.test.ts checks the result against the schema and README.
 */
import { configSchema, loadConfig } from '../src/config.js';
import { defineCommand } from './commandLine.mjs';

defineCommand({ usage: 'node --import tsx scripts/envExample.ts > .env.example', options: {} }).parseOrExit();

const HEADER = `# Every setting of the gateway with its default; all are read from the environment.
# Nothing set: zero-config single-instance mode (embedded Postgres under DATA_DIR,
# in-process live state). Production: set DATABASE_URL and REDIS_URL.
# Use: \`set -a; . ./.env; set +a; npm start\`, or \`cp .env.example .env\` beside
# docker-compose.yml (compose passes .env to the gateway). Uncomment what you change.
# Reference: README.md "Configuration"; validated at start by src/config.ts.
`;

/** Settings whose default is this machine's CPU count (README: "CPU count"). */
const CPU_DEFAULTS = new Set(['BCRYPT_CONCURRENCY', 'WORKERS']);

const defaults = loadConfig({}) as unknown as Record<string, unknown>;
const lines = [HEADER];
for (const [name, schema] of Object.entries(configSchema.shape)) {
  const description = (schema as { description?: string }).description ?? '';
  const value = defaults[name];
  if (CPU_DEFAULTS.has(name)) {
    lines.push(`# ${description} (default: the number of CPUs)`, `# ${name}=`, '');
    continue;
  }
  const text = value === undefined ? '' : String(value);
  // Values with spaces or shell characters are double-quoted: both sh and docker compose read that.
  lines.push(`# ${description}`, `# ${name}=${/^[A-Za-z0-9_.:/@+-]*$/.test(text) ? text : JSON.stringify(text)}`, '');
}
process.stdout.write(lines.join('\n'));
