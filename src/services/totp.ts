/**
 * TOTP two-factor authentication (RFC 6238 with `otpauth`: SHA-1, 6 digits,
 * 30 s steps, the authenticator apps' common ground) and backup codes.
 *
 * - Setup: `SetupTotp{enabled: true}` stores a pending 160-bit secret (sealed
 *   with TOTP_ENCRYPTION_KEY, secretBox.ts) and answers its otpauth:// URL;
 *   a right code for it turns TOTP on and answers 10 backup codes, shown
 *   this once and stored as salted SHA-256 hashes only.
 * - A code is accepted for the current step or one step either side (clock
 *   drift), and only above the last accepted step: a code works once, and
 *   the statement that records it is conditional, so two concurrent uses of
 *   one code cannot both pass.
 * - A backup code works once (conditional UPDATE of its used_at).
 * - Every check reserves a point of TOTP_GUESS_USER and TOTP_GUESS_IP before
 *   the code is compared (limits.ts, atomic in Redis), so no burst of
 *   concurrent guesses gets more than the allowance evaluated. A right code
 *   clears the account's count and gives the address's point back; a check
 *   that could not run (503) gives both back.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as OTPAuth from 'otpauth';
import type { TotpState } from '../domain/account.js';
import { AuditKind } from '../domain/audit.js';
import type { Clock } from '../domain/clock.js';
import type { Id } from '../domain/ids.js';
import type { RequestOrigin } from '../domain/source.js';
import type { UserRecord } from '../domain/user.js';
import type { Logger } from '../logger.js';
import { ErrorCode, RpcError, badRequest } from '../protocol/errorCodes.js';
import type { Pool, PoolClient } from '../store/postgres.js';
import type { StoredBackupCode, TotpCredential, TotpRepo } from '../store/totpRepo.js';
import { addEvents } from '../store/eventsRepo.js';
import { withTransaction, type Db, type Tx } from '../store/transaction.js';
import type { AuditLog } from './audit.js';
import type { Limits } from './limits.js';
import { judged, reserveAll, type Reservation } from './rateLimit.js';
import { SecretBoxError, type SecretBox } from './secretBox.js';

const PERIOD_SECONDS = 30;
const DIGITS = 6;
/** RFC 4226 §4 recommends 160 bits. */
const SECRET_BYTES = 20;
/** Steps accepted either side of now. */
const DRIFT_STEPS = 1;
const BACKUP_CODE_COUNT = 10;
/** 12 symbols of a 32-symbol alphabet: 60 bits each. */
const BACKUP_CODE_CHARS = 12;
/** Crockford's base32, lower case: no i, l, o or u to misread. */
const BACKUP_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
/** What a backup code looks like once it was shown (only hashes are kept). */
export const MASKED_BACKUP_CODE = '****-****-****';

/** The answer to a wrong, replayed or expired code when turning TOTP on or off. */
export const TOTP_CODE_REFUSED = 'code is wrong, expired or already used';

/** Which second factor a right code was. */
export type SecondFactor = 'totp' | 'backup_code';

type ParsedCode = { kind: 'totp'; token: string } | { kind: 'backup_code'; code: string } | null;

/** A 6-digit TOTP code or a backup code, as typed (spaces and dashes forgiven, backup codes case-insensitive). */
export function parseCode(input: string): ParsedCode {
  const compact = input.replace(/[\s-]+/g, '').toLowerCase();
  if (/^[0-9]{6}$/.test(compact)) return { kind: 'totp', token: compact };
  // Crockford's decoding forgives the look-alikes.
  const backup = compact.replace(/[il]/g, '1').replace(/o/g, '0');
  if (backup.length === BACKUP_CODE_CHARS && [...backup].every((c) => BACKUP_ALPHABET.includes(c))) return { kind: 'backup_code', code: backup };
  return null;
}

function newBackupCode(): string {
  // 32 symbols: the low 5 bits of each byte are uniform.
  return [...randomBytes(BACKUP_CODE_CHARS)].map((b) => BACKUP_ALPHABET[b & 31]).join('');
}

/** `abcd-efgh-jkmn`, as shown to the user. */
function displayBackupCode(code: string): string {
  return code.match(/.{4}/g)!.join('-');
}

function hashBackupCode(salt: Buffer, code: string): Buffer {
  return createHash('sha256').update(salt).update(`backup:${code}`, 'utf8').digest();
}

/** Additional authenticated data of a user's sealed secret (binds it to the account's row). */
export const sealContext = (userId: Id) => `totp:${userId}`;

export interface TotpServiceDeps {
  db: Pool;
  repo: TotpRepo;
  /** null when no TOTP_ENCRYPTION_KEY is configured (server mode): TOTP is unavailable. */
  box: SecretBox | null;
  /** TOTP_ISSUER. */
  issuer: string;
  limits: Pick<Limits, 'TOTP_GUESS_USER' | 'TOTP_GUESS_IP'>;
  audit: AuditLog;
  clock: Clock;
  log: Logger;
}

/** More work for the transaction that turns two-factor on or off (the caller's: cancelling a pending email change). */
export type AlongWith = (tx: Tx) => Promise<unknown>;

export class TotpService {
  private readonly db: Pool;
  private readonly repo: TotpRepo;
  private readonly box: SecretBox | null;
  private readonly audit: AuditLog;
  private readonly log: Logger;

  constructor(private readonly deps: TotpServiceDeps) {
    ({ db: this.db, repo: this.repo, box: this.box, audit: this.audit, log: this.log } = deps);
  }

  isEnabled(userId: Id): Promise<boolean> {
    return this.repo.isEnabled(userId);
  }

  /**
   * Removes the account's second factor, enabled or pending, with its backup
   * codes, in the caller's transaction (a password reset by the address's
   * proven owner on an account whose address was never verified); true when
   * two-factor was on.
   */
  async removeAll(userId: Id, db: Db): Promise<boolean> {
    const wasOn = await this.repo.removeEnabled(userId, db);
    await this.repo.removePending(userId, db);
    return wasOn;
  }

  /**
   * SetupTotp{enabled: true} without code: while TOTP is off, a new pending
   * secret (replacing any earlier one) and its URL; while on, the masked
   * backup codes with their used flags (the secret stays).
   */
  async begin(user: UserRecord): Promise<TotpState> {
    const current = await this.repo.get(user.id);
    if (current?.enabledAt) return this.enabledState(user.id);
    const box = this.requireBox();
    const secret = new OTPAuth.Secret({ size: SECRET_BYTES });
    const sealed = box.seal(Buffer.from(secret.bytes), sealContext(user.id));
    if (!(await this.repo.savePending(user.id, sealed))) return this.enabledState(user.id); // turned on meanwhile
    const url = this.generator(secret, user.email ?? user.name).toString();
    return { enabled: false, url, backupCodes: [] };
  }

  /** SetupTotp{enabled: true, code}: a right code for the pending secret turns TOTP on; answers the backup codes, once. */
  async enable(user: UserRecord, code: string, origin: RequestOrigin, alongWith: AlongWith): Promise<TotpState> {
    const credential = await this.repo.get(user.id);
    if (credential?.enabledAt) throw new RpcError(ErrorCode.CONFLICT, 'two-factor authentication is already on');
    if (!credential) throw badRequest('no two-factor setup is pending: call settings.setupTotp{enabled: true} without a code first');
    const parsed = parseCode(code);
    if (parsed?.kind !== 'totp') throw badRequest('code must be the 6 digits shown by the authenticator app');
    const plain = Array.from({ length: BACKUP_CODE_COUNT }, newBackupCode);
    const enabled = await judged(await this.reserveGuess(user.id, origin.network), async () => {
      const step = this.matchingStep(credential, parsed.token);
      if (step === null) return false;
      return withTransaction(this.db, async (tx) => {
        if (!(await this.repo.claimStep(user.id, credential.secret, step, 'pending', tx.db))) return false;
        await this.repo.replaceBackupCodes(user.id, plain.map((c) => {
          const salt = randomBytes(16);
          return { salt, codeHash: hashBackupCode(salt, c) };
        }), tx.db);
        await this.audit.record(user.id, AuditKind.TOTP_ENABLED, origin, {}, tx.db);
        await addEvents(tx.db, [{ type: 'totp.enabled', userId: user.id, data: { user_id: user.id } }]);
        await alongWith(tx);
        return true;
      });
    });
    if (!enabled) throw badRequest(TOTP_CODE_REFUSED);
    return { enabled: true, backupCodes: plain.map((c) => ({ code: displayBackupCode(c), used: false })) };
  }

  /**
   * SetupTotp{enabled: false, code}: a right TOTP or unused backup code turns
   * TOTP off (secret and backup codes deleted). While TOTP is off it only
   * drops a pending setup. The caller checked the recent sign-in rule.
   */
  async disable(user: UserRecord, code: string | null, origin: RequestOrigin, alongWith: AlongWith): Promise<TotpState> {
    const credential = await this.repo.get(user.id);
    if (!credential?.enabledAt) {
      if (credential) await this.repo.removePending(user.id);
      return { enabled: false, backupCodes: [] };
    }
    if (code === null) throw badRequest('code is required to turn two-factor authentication off (a TOTP or backup code)');
    const parsed = parseCode(code);
    if (!parsed) throw badRequest(TOTP_CODE_REFUSED);
    const factor = await judged(await this.reserveGuess(user.id, origin.network), () =>
      withTransaction(this.db, async (tx) => {
        const used = await this.claim(user.id, credential, parsed, tx.db);
        if (!used) return null;
        if (used === 'backup_code') await this.audit.record(user.id, AuditKind.BACKUP_CODE_USED, origin, { purpose: 'totp_off' }, tx.db);
        await this.repo.removeEnabled(user.id, tx.db);
        await this.audit.record(user.id, AuditKind.TOTP_DISABLED, origin, { with: used }, tx.db);
        await addEvents(tx.db, [{ type: 'totp.disabled', userId: user.id, data: { user_id: user.id, reason: 'owner' } }]);
        await alongWith(tx);
        return used;
      }));
    if (!factor) throw badRequest(TOTP_CODE_REFUSED);
    return { enabled: false, backupCodes: [] };
  }

  /**
   * The second factor of a sign-in whose password was right. Returns which
   * factor passed, or null for a wrong, replayed or malformed code (429 when
   * the guess limits are spent). A backup code used here is recorded in the
   * audit trail.
   */
  async verifySignIn(user: UserRecord, code: string, origin: RequestOrigin): Promise<SecondFactor | null> {
    const parsed = parseCode(code);
    if (!parsed) return null;
    return judged(await this.reserveGuess(user.id, origin.network), async () => {
      const credential = await this.repo.get(user.id);
      if (!credential?.enabledAt) return null;
      return withTransaction(this.db, async (tx) => {
        const used = await this.claim(user.id, credential, parsed, tx.db);
        if (used === 'backup_code') await this.audit.record(user.id, AuditKind.BACKUP_CODE_USED, origin, { purpose: 'sign_in' }, tx.db);
        return used;
      });
    });
  }

  /** A point of each guess limit (429 when either is spent), reserved before the code is compared. */
  private reserveGuess(userId: Id, network: string): Promise<Reservation> {
    return reserveAll([
      [this.deps.limits.TOTP_GUESS_USER, userId],
      [this.deps.limits.TOTP_GUESS_IP, network],
    ]);
  }

  /** Accepts the code once, inside `client`'s transaction: which factor it was, or null. */
  private async claim(userId: Id, credential: TotpCredential, parsed: NonNullable<ParsedCode>, client: PoolClient): Promise<SecondFactor | null> {
    if (parsed.kind === 'totp') {
      const step = this.matchingStep(credential, parsed.token);
      return step !== null && (await this.repo.claimStep(userId, credential.secret, step, 'enabled', client)) ? 'totp' : null;
    }
    const codes = await this.repo.backupCodes(userId, client);
    const match = matchBackupCode(codes, parsed.code);
    return match !== null && (await this.repo.useBackupCode(userId, match.position, client)) ? 'backup_code' : null;
  }

  /** The time step whose code `token` is (now, or one step either side), or null. */
  private matchingStep(credential: TotpCredential, token: string): number | null {
    const box = this.requireBox();
    let plain: Buffer;
    try {
      plain = box.open(credential.secret, sealContext(credential.userId));
    } catch (err) {
      if (!(err instanceof SecretBoxError)) throw err;
      // An operator dropped a key still in use, or the row was tampered with: never a client's fault.
      this.log.error({ userId: credential.userId, reason: err.message }, 'TOTP secret does not open');
      throw new RpcError(ErrorCode.UNAVAILABLE, 'two-factor authentication is unavailable; retry later');
    }
    const secret = new OTPAuth.Secret({ buffer: new Uint8Array(plain).buffer });
    const generator = this.generator(secret, 'check');
    const timestamp = this.deps.clock();
    const delta = generator.validate({ token, timestamp, window: DRIFT_STEPS });
    return delta === null ? null : generator.counter({ timestamp }) + delta;
  }

  private generator(secret: OTPAuth.Secret, label: string): OTPAuth.TOTP {
    return new OTPAuth.TOTP({ issuer: this.deps.issuer, label, algorithm: 'SHA1', digits: DIGITS, period: PERIOD_SECONDS, secret });
  }

  private async enabledState(userId: Id): Promise<TotpState> {
    const codes = await this.repo.backupCodes(userId);
    return { enabled: true, backupCodes: codes.map((c) => ({ code: MASKED_BACKUP_CODE, used: c.usedAt !== null })) };
  }

  private requireBox(): SecretBox {
    if (this.box) return this.box;
    this.log.warn('TOTP used but TOTP_ENCRYPTION_KEY is not set');
    throw new RpcError(ErrorCode.UNAVAILABLE, 'two-factor authentication is not configured on this server (TOTP_ENCRYPTION_KEY)');
  }
}

/** The unused backup code matching `code`; every stored code is hashed and compared, so the time says nothing. */
function matchBackupCode(codes: StoredBackupCode[], code: string): StoredBackupCode | null {
  let match: StoredBackupCode | null = null;
  for (const stored of codes) {
    const actual = hashBackupCode(stored.salt, code);
    if (actual.length === stored.codeHash.length && timingSafeEqual(actual, stored.codeHash) && stored.usedAt === null) match = stored;
  }
  return match;
}
