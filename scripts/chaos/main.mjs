#!/usr/bin/env node
/**
 * `npm run chaos [-- --short] [-- --out FILE]`: the fault-injection suite
 * (issue 28). Creates a network namespace of its own (`ip netns`, installing
 * iproute2 and iptables with apt-get when missing), runs scripts/chaos/run.ts
 * inside it (servers, gateways, the client fleet, the faults, the checker),
 * and deletes the namespace after, whatever the outcome. Every delay and
 * partition is a `tc`/`iptables` rule inside that namespace: nothing outside
 * it is touched. Exits 0 when the checker's verdict is a pass.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);

if (process.getuid?.() !== 0) {
  console.error('npm run chaos needs root (network namespaces, tc, iptables)');
  process.exit(2);
}
const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const missing = [];
if (!have('ip') || !have('tc')) missing.push('iproute2');
if (!have('iptables')) missing.push('iptables');
if (missing.length) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
}
// The dist bundle: gateways start in about a second each instead of compiling TypeScript.
execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs'), '--if-stale'], { cwd: root, stdio: 'inherit' });

const ns = `osmchaos${process.pid}`;
execFileSync('ip', ['netns', 'add', ns]);
let cleaned = false;
function cleanup() {
  if (cleaned) return;
  cleaned = true;
  // Whatever is still inside (it was all started by this run) is killed, then the namespace goes.
  const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  spawnSync('ip', ['netns', 'delete', ns]);
}
process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', join(root, 'scripts', 'chaos', 'run.ts'), ...args], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, CHAOS_NETNS: ns },
});
child.on('exit', (code, signal) => {
  cleanup();
  process.exit(code ?? (signal ? 1 : 0));
});
