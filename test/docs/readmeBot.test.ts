/** The bot example (docs/clients.md, section "Bots") runs as written against a gateway. */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { person } from '../helpers/accounts.js';
import { runAdmin } from '../helpers/admin.js';
import { startProcess } from '../helpers/process.js';
import { startGateway, type TestGateway } from '../helpers/stack.js';

/** The first ```js block of the "Bots" section of docs/clients.md, with the gateway URL it names. */
function botExample(): string {
  const doc = readFileSync('docs/clients.md', 'utf8');
  const start = doc.indexOf('\n## Bots\n');
  assert.ok(start >= 0, 'docs/clients.md has a "## Bots" section');
  const end = doc.indexOf('\n## ', start + 5);
  const section = doc.slice(start, end < 0 ? undefined : end);
  const match = /```js\n([\s\S]*?)```/.exec(section);
  assert.ok(match, 'the Bots section has a js example');
  return match[1]!;
}

describe('the bot example of docs/clients.md', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway();
  });
  after(() => gw.close());

  it('prints "ready as <name>" with a token from `bot create`', async () => {
    const ownerId = (await person(gw, { tag: 'readme', password: 'readme bot owner', name: 'Owner' })).userId;
    const created = await runAdmin(['bot', 'create', '--owner', ownerId, '--name', 'Readme Bot'], { DATABASE_URL: gw.databaseUrl });
    assert.equal(created.code, 0, created.stderr);
    const example = botExample();
    assert.match(example, /ws:\/\/localhost:8080/);
    // As written, except the port: this gateway listens on a free one.
    const file = `bot-example-${process.pid}.mjs`;
    writeFileSync(file, example.replace('ws://localhost:8080', gw.url));
    const bot = startProcess(process.execPath, [file], { env: { ...process.env, BOT_TOKEN: created.lines[0]!.token as string } });
    try {
      await bot.line(/^ready as /, 60_000);
      assert.equal(bot.stdout().split('\n')[0], 'ready as Readme Bot', `its first line; stderr: ${bot.stderr()}`);
    } finally {
      await bot.stop();
      rmSync(file, { force: true });
    }
  });
});
