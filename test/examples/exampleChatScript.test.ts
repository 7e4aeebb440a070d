/**
 * `npm run example:chat` as a newcomer runs it: one command in a fresh
 * DATA_DIR starts the embedded gateway and the example backend and prints the
 * URLs; two users sign up over the printed WebSocket URL, one makes a group
 * with the other and writes to it, the other receives the message; SIGTERM
 * stops the gateway, the backend and the embedded Postgres.
 *
 * Every wait is for a line of output or an exit, each bounded, and a failure
 * shows what the script printed: a start that hangs fails here, with the
 * output, instead of running into the runner's timeout.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import Long from 'long';
import { OsmiumClient, type Update } from '../../src/client/client.js';
import { osmium } from '../../examples/chat/src/gen/osmium.js';
// So that `npm test` builds dist/ before this file runs: the script runs dist/main.js, as `npm start` does.
import '../helpers/entry.js';

const { chats, messages, updates } = osmium.client;
/** The script's own bound on each child's start (its failure then names the child); this file's is above it. */
const SCRIPT_START_TIMEOUT_MS = 90_000;
const READY_TIMEOUT_MS = 150_000;
const STOP_TIMEOUT_MS = 40_000;

const long = (id: string) => Long.fromString(id, true);
const text = (id: Long | number | null | undefined) => (id === null || id === undefined ? '0' : Long.fromValue(id).toUnsigned().toString());
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Waits for the first output line `pick` matches, bounded; fails with everything printed so far. */
function lineMatching(child: ChildProcess, lines: Interface, output: string[], pick: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const seen = output.map((l) => l.match(pick)).find(Boolean);
    if (seen) return resolve(seen);
    const onLine = (line: string) => {
      const match = line.match(pick);
      if (match) done(() => resolve(match));
    };
    const onExit = (code: number | null, signal: string | null) =>
      done(() => reject(new Error(`npm run example:chat exited (${signal ?? `code ${code}`}) before printing ${pick}:\n${output.join('\n')}`)));
    const timer = setTimeout(() => done(() => reject(new Error(`npm run example:chat printed no ${pick} within ${timeoutMs / 1000} s:\n${output.join('\n')}`))), timeoutMs);
    const done = (settle: () => void) => {
      clearTimeout(timer);
      lines.off('line', onLine);
      child.off('exit', onExit);
      settle();
    };
    lines.on('line', onLine);
    child.once('exit', onExit);
  });
}

describe('npm run example:chat: the gateway and the example backend in one command', () => {
  let dataDir: string;
  let script: ChildProcess;
  const output: string[] = [];
  let url: string;
  let pids: { gateway: number; backend: number; postgres: number };
  const clients: OsmiumClient[] = [];
  let lines: Interface;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'example-chat-'));
    const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, PORT: '0', EXAMPLE_CHAT_START_TIMEOUT_MS: String(SCRIPT_START_TIMEOUT_MS) };
    // Zero-config as a newcomer has it: no servers of the test stack.
    for (const name of ['DATABASE_URL', 'DATABASE_DIRECT_URL', 'REDIS_URL', 'REDIS_CLUSTER_NODES', 'API_PORT', 'API_KEYS', 'BACKEND_URL', 'BACKEND_SECRET', 'HOST']) delete env[name];
    // Its own process group: whatever happens, the cleanup below reaches the script's children too.
    script = spawn('npm', ['run', 'example:chat'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const merged = new PassThrough();
    script.stdout!.pipe(merged, { end: false });
    script.stderr!.pipe(merged, { end: false });
    lines = createInterface({ input: merged });
    lines.on('line', (line) => output.push(line));
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    // After a failure, leave nothing running that would hold this file's process (and the runner) open:
    // the script's process group (npm exits on SIGTERM even when its script did not get it), and the
    // printed children, whatever group they ended up in.
    const kill = (pid: number | undefined, signal: NodeJS.Signals) => {
      try {
        if (pid) process.kill(pid, signal);
      } catch {
        /* gone */
      }
    };
    kill(-script.pid!, 'SIGKILL');
    kill(pids?.gateway, 'SIGKILL');
    kill(pids?.backend, 'SIGKILL');
    kill(pids?.postgres, 'SIGINT'); // fast shutdown; its own process group
    script.stdout?.destroy();
    script.stderr?.destroy();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('prints the WebSocket, console, backend and API URLs and the processes', async () => {
    const [, ws] = await lineMatching(script, lines, output, /gateway WebSocket: (ws:\/\/\S+)/, READY_TIMEOUT_MS);
    url = ws!;
    const [, processes] = await lineMatching(script, lines, output, /processes: +(.*)$/, 10_000);
    const pid = (name: string) => Number(processes!.match(new RegExp(`${name} (\\d+)`))?.[1]);
    pids = { gateway: pid('gateway'), backend: pid('backend'), postgres: pid('postgres') };
    for (const [name, value] of Object.entries(pids)) assert.ok(value > 0 && alive(value), `${name} pid in ${processes}`);
    const printed = output.join('\n');
    assert.match(printed, /web console: +http:\/\/127\.0\.0\.1:\d+\/console/);
    assert.match(printed, /chat backend: +http:\/\/127\.0\.0\.1:\d+/);
    assert.match(printed, /internal API: +http:\/\/127\.0\.0\.1:\d+/);
  });

  it('two users sign up over the printed URL; one makes a group with the other and writes to it; the other receives it', async () => {
    const [a, b] = await Promise.all([OsmiumClient.connect(url), OsmiumClient.connect(url)]);
    clients.push(a, b);
    const userA = text((await a.call('auth_sign_up', { name: 'Ada' })).authorization!.user!.id as Long);
    const userB = text((await b.call('auth_sign_up', { name: 'Bo' })).authorization!.user!.id as Long);
    const group = await a.call('chats_create_chat', chats.CreateChat.encode({ name: 'First chat', users: [{ user_id: long(userB) }] }).finish() as never);
    const groupRef = { group: { group_id: long(text(group.group!.id as Long)) } };
    await a.call('messages_send_message', messages.SendMessage.encode({ chat_ref: groupRef, message: 'hello from the example' }).finish() as never);
    let received: osmium.client.updates.UpdateMessageCreated | undefined;
    while (!received) {
      const update: Update = await b.nextUpdate(10_000);
      if (update.message_created) received = updates.UpdateMessageCreated.decode(update.message_created as Uint8Array);
    }
    assert.deepEqual([received.message!.message, text(received.message!.author_id as Long)], ['hello from the example', userA]);
  });

  it('SIGTERM stops the gateway, the backend and the embedded Postgres, and the script exits 0', async () => {
    const exited = new Promise<string>((resolve) => script.once('exit', (code, signal) => resolve(signal ?? `code ${code}`)));
    script.kill('SIGTERM');
    const how = await Promise.race([exited, new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), STOP_TIMEOUT_MS).unref())]);
    assert.notEqual(how, 'late', `npm run example:chat did not exit within ${STOP_TIMEOUT_MS / 1000} s of SIGTERM:\n${output.join('\n')}`);
    // npm ended by the signal itself (not code 0) means its script never got it: it runs on, orphaned.
    assert.equal(how, 'code 0', `npm run example:chat ended with ${how}, not code 0:\n${output.join('\n')}`);
    // The script exits only after its children did (and the gateway after its Postgres): all gone by now.
    for (const [name, pid] of Object.entries(pids)) assert.equal(alive(pid), false, `${name} (pid ${pid}) still runs`);
    assert.match(output.join('\n'), /gateway +\| info +stopped/);
  });
});
