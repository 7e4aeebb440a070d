/**
 * Where the TOTP encryption keys come from: TOTP_ENCRYPTION_KEY, or, in the
 * embedded single-instance mode without it, a key generated once and kept in
 * `<DATA_DIR>/totp-encryption.key` (mode 0600; outside the database, so a
 * copy of the database alone does not open the secrets). In server mode
 * without the setting there is no key: several instances could not share a
 * generated one.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseEncryptionKeys, type Config } from '../config.js';

export const TOTP_KEY_FILE = 'totp-encryption.key';

/** The key ring (sealing key first), or null when TOTP has no key (server mode without TOTP_ENCRYPTION_KEY). */
export async function loadTotpKeys(config: Pick<Config, 'TOTP_ENCRYPTION_KEY' | 'mode' | 'dataDir'>): Promise<{ keys: Buffer[]; source: string } | null> {
  if (config.TOTP_ENCRYPTION_KEY) return { keys: parseEncryptionKeys(config.TOTP_ENCRYPTION_KEY)!, source: 'TOTP_ENCRYPTION_KEY' };
  if (config.mode !== 'embedded') return null;
  const file = join(config.dataDir, TOTP_KEY_FILE);
  return { keys: [await readOrCreateKey(file)], source: file };
}

async function readOrCreateKey(file: string): Promise<Buffer> {
  try {
    return decode(await readFile(file, 'utf8'), file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(join(file, '..'), { recursive: true, mode: 0o700 });
  try {
    // 'wx': if two processes race, one writes and the other reads what it wrote.
    await writeFile(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return decode(await readFile(file, 'utf8'), file);
}

function decode(text: string, file: string): Buffer {
  const keys = parseEncryptionKeys(text.trim());
  if (!keys || keys.length !== 1) throw new Error(`${file} must hold one base64 key of 32 bytes`);
  return keys[0]!;
}
