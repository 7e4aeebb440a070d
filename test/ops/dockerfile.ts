/**
 * Docker cannot run on the machines that test this project, so the image is
 * checked by performing the Dockerfile's own steps in a scratch folder: each
 * stage gets a folder standing for its file system, COPY copies there (from
 * the build context, honouring .dockerignore, or from an earlier stage's
 * folder), RUN runs in the stage's WORKDIR folder with the stage's ENV, and
 * the last stage's CMD, HEALTHCHECK and STOPSIGNAL are what the test runs.
 *
 * What it does not do: pull the base image (the host's node and npm stand
 * in for node:20-bookworm-slim's, same major version), isolate RUN (commands
 * must keep to relative paths, which is checked), or enforce VOLUME/EXPOSE.
 * Instructions it does not know make it fail, so the Dockerfile cannot drift
 * out of what is checked.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

export interface Stage {
  name: string;
  from: string;
  /** The folder standing for this stage's file system root. */
  root: string;
  workdir: string;
  env: Record<string, string>;
  user?: string;
  cmd?: string[];
  healthcheck?: string[];
  stopSignal?: NodeJS.Signals;
}

interface Instruction {
  keyword: string;
  args: string;
}

/** Instructions of a Dockerfile: comments dropped, continuation lines joined. */
export function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (!line && !current)) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    current += line;
    const [, keyword, args] = /^(\S+)\s*([\s\S]*)$/.exec(current.trim())!;
    instructions.push({ keyword: keyword!.toUpperCase(), args: args!.trim() });
    current = '';
  }
  return instructions;
}

/** `.dockerignore` patterns (Go filepath.Match plus `**`), matched against paths relative to the context. */
function ignoreMatcher(context: string): (path: string) => boolean {
  const file = join(context, '.dockerignore');
  const patterns = existsSync(file)
    ? readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
    : [];
  if (patterns.some((p) => p.startsWith('!'))) throw new Error('.dockerignore exceptions (!) are not supported by this check');
  const regexes = patterns.map((p) => {
    const body = p.replace(/\/+$/, '').replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*\*/g, '\0').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]').replace(/\0/g, '.*');
    return new RegExp(`^${body}$`);
  });
  // A path is excluded when it, or a folder above it, matches.
  return (path) => {
    const parts = path.split('/');
    return parts.some((_, i) => regexes.some((r) => r.test(parts.slice(0, i + 1).join('/'))));
  };
}

function splitWords(args: string): string[] {
  return args.split(/\s+/).filter(Boolean);
}

function jsonArray(args: string, what: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) throw new Error(`${what}: expected the exec form ["cmd", "arg"]`);
  return parsed as string[];
}

function idsOf(user: string): { uid: number; gid: number } {
  const [name, group] = user.split(':');
  const uid = Number(execFileSync('id', ['-u', name!]).toString().trim());
  const gid = group ? Number(execFileSync('getent', ['group', group]).toString().split(':')[2]) : Number(execFileSync('id', ['-g', name!]).toString().trim());
  return { uid, gid };
}

function chownTree(path: string, owner: { uid: number; gid: number }): void {
  execFileSync('chown', ['-R', `${owner.uid}:${owner.gid}`, path]);
}

/** Path inside a stage's folder for an absolute path of the image. */
export function inStage(stage: Stage, path: string): string {
  return join(stage.root, path.startsWith('/') ? path : join(stage.workdir, path));
}

/**
 * Performs every stage of `dockerfile` (context: its folder) under `scratch`
 * and returns the stages, the last one being the image. `runEnv` is added to
 * RUN's environment (the host's npm cache and PATH stand in for the builder's).
 */
export function buildStages(dockerfile: string, scratch: string, runEnv: NodeJS.ProcessEnv): Stage[] {
  const context = dirname(dockerfile);
  const ignored = ignoreMatcher(context);
  const stages: Stage[] = [];
  let stage: Stage | undefined;
  const need = () => {
    if (!stage) throw new Error('instruction before FROM');
    return stage;
  };
  for (const { keyword, args } of parseDockerfile(readFileSync(dockerfile, 'utf8'))) {
    switch (keyword) {
      case 'FROM': {
        const [from, as, name] = splitWords(args);
        if (as?.toUpperCase() !== 'AS' || !name) throw new Error(`FROM ${args}: name every stage (FROM image AS name)`);
        stage = { name, from: from!, root: join(scratch, name), workdir: '/', env: {} };
        mkdirSync(stage.root, { recursive: true, mode: 0o755 });
        stages.push(stage);
        break;
      }
      case 'WORKDIR': {
        const s = need();
        s.workdir = args;
        mkdirSync(inStage(s, args), { recursive: true, mode: 0o755 });
        break;
      }
      case 'ENV':
        for (const pair of splitWords(args)) {
          const eq = pair.indexOf('=');
          if (eq < 1) throw new Error(`ENV ${args}: use the KEY=value form`);
          need().env[pair.slice(0, eq)] = pair.slice(eq + 1);
        }
        break;
      case 'COPY': {
        const s = need();
        const words = splitWords(args);
        const flags = new Map(words.filter((w) => w.startsWith('--')).map((w) => w.slice(2).split('=') as [string, string]));
        for (const flag of flags.keys()) if (flag !== 'from' && flag !== 'chown') throw new Error(`COPY --${flag} is not supported by this check`);
        const paths = words.filter((w) => !w.startsWith('--'));
        const dest = paths.pop()!;
        const intoFolder = dest.endsWith('/') || paths.length > 1;
        const source = flags.get('from') ? stages.find((x) => x.name === flags.get('from')) : undefined;
        if (flags.get('from') && !source) throw new Error(`COPY --from=${flags.get('from')}: no such stage`);
        for (const path of paths) {
          const from = source ? inStage(source, path) : join(context, path);
          if (!source && ignored(relative(context, from))) throw new Error(`COPY ${path}: excluded by .dockerignore`);
          const isFolder = statSync(from).isDirectory();
          const to = intoFolder && !isFolder ? join(inStage(s, dest), path.split('/').at(-1)!) : inStage(s, dest);
          mkdirSync(isFolder ? to : dirname(to), { recursive: true, mode: 0o755 });
          // A folder's contents go into the destination, as docker does.
          cpSync(from, to, { recursive: true, filter: (p) => source !== undefined || !ignored(relative(context, p)) });
          if (flags.get('chown')) chownTree(to, idsOf(flags.get('chown')!));
        }
        break;
      }
      case 'RUN': {
        const s = need();
        // The scratch folder cannot hold absolute paths: RUN stays inside WORKDIR.
        if (/(^|[\s=])\//.test(args)) throw new Error(`RUN ${args}: uses an absolute path, which this check cannot contain`);
        const run = spawnSync('sh', ['-c', args], {
          cwd: inStage(s, s.workdir),
          env: { ...runEnv, ...s.env },
          stdio: ['ignore', 'pipe', 'pipe'],
          uid: s.user ? idsOf(s.user).uid : undefined,
          gid: s.user ? idsOf(s.user).gid : undefined,
          encoding: 'utf8',
        });
        if (run.status !== 0) throw new Error(`RUN ${args} exited with ${run.status}:\n${run.stdout}\n${run.stderr}`);
        break;
      }
      case 'USER':
        need().user = args;
        break;
      case 'CMD':
        need().cmd = jsonArray(args, 'CMD');
        break;
      case 'HEALTHCHECK': {
        const at = args.indexOf('CMD ');
        if (at < 0) throw new Error('HEALTHCHECK: expected ... CMD ["cmd", "arg"]');
        need().healthcheck = jsonArray(args.slice(at + 4).trim(), 'HEALTHCHECK');
        break;
      }
      case 'STOPSIGNAL':
        need().stopSignal = args as NodeJS.Signals;
        break;
      case 'EXPOSE':
      case 'VOLUME':
        break;
      default:
        throw new Error(`${keyword}: not an instruction this check knows; teach test/ops/dockerfile.ts or keep to the others`);
    }
  }
  return stages;
}

/** The image's environment, with absolute paths that exist in the image pointed into its folder. */
export function imageEnv(image: Stage): Record<string, string> {
  return Object.fromEntries(
    Object.entries(image.env).map(([k, v]) => [k, v.startsWith('/') && existsSync(inStage(image, v)) ? inStage(image, v) : v]),
  );
}

/** Creates the `node` user of the node images (uid 1000 there) when this machine has none. */
export function ensureUser(name: string): { uid: number; gid: number; home: string } {
  if (spawnSync('id', [name], { stdio: 'ignore' }).status !== 0) execFileSync('useradd', ['--create-home', '--shell', '/bin/sh', name]);
  const [, , uid, gid, , home] = execFileSync('getent', ['passwd', name]).toString().trim().split(':');
  if (!existsSync(home!)) {
    mkdirSync(home!, { recursive: true, mode: 0o755 });
    chownTree(home!, { uid: Number(uid), gid: Number(gid) });
  }
  return { uid: Number(uid), gid: Number(gid), home: home! };
}
