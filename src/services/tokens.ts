/**
 * Session tokens: JWTs (HS256) signed with jose, checked on the hot path by a
 * synchronous verifier.
 *
 * Algorithm: HS256. Only gateways sign and verify tokens, so a shared secret
 * (kept in Postgres, see KeysRepo) loses nothing against a key pair, and HMAC
 * is the cheapest check in a reconnect storm. Every token carries a `kid`;
 * the newest key signs, every unretired key verifies, so keys rotate without
 * signing anyone out. A token proves only who it was issued to: whether its
 * session is still valid is decided by the session record on every Authorize.
 *
 * Why not jose's jwtVerify on the hot path: it checks through WebCrypto, a
 * promise and a thread-pool job per token (~43 µs of CPU per Authorize
 * measured here under load), where node:crypto's createHmac on a key object
 * imported once per kid is synchronous (~4 µs). The rules stay jose's: alg
 * must be HS256, the kid one of ours, no `crit`, the signature compared in
 * constant time against its one canonical base64url form (so a padded or
 * otherwise re-encoded token is refused), `iss` ours, `exp`/`nbf` honoured,
 * `sub` and `sid` snowflakes; a test checks the two verifiers agree.
 */
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { isSnowflake, type Id } from '../domain/ids.js';
import type { Logger } from '../logger.js';
import type { KeysRepo, SigningKey } from '../store/keysRepo.js';

const ALG = 'HS256';
const ISSUER = 'osmium-auth-gateway';
/** How often an unknown kid may trigger a reload of the key ring. */
const RELOAD_MIN_INTERVAL_MS = 1_000;
/** Longest token looked at. */
const MAX_TOKEN_LENGTH = 2048;
/** Distinct header segments remembered (ours: one per key; the bound keeps crafted headers from growing it). */
const HEADER_CACHE_MAX = 64;
/** A base64url segment (no padding). */
const SEGMENT_RE = /^[A-Za-z0-9_-]+$/;

export interface TokenClaims {
  userId: Id;
  sessionId: Id;
}

/** A verification key, ready for createHmac. */
interface VerifyKey {
  kid: string;
  key: KeyObject;
}

export class TokenService {
  private keys: SigningKey[] = [];
  private byKid = new Map<string, VerifyKey>();
  /** Header segment → the key it names (only headers that parse as ours). */
  private headers = new Map<string, VerifyKey>();
  private lastReload = 0;
  private reloading: Promise<void> | null = null;

  private readonly repo: KeysRepo;
  private readonly log: Logger;

  constructor(deps: { repo: KeysRepo; log: Logger }) {
    ({ repo: this.repo, log: this.log } = deps);
  }

  /** Loads the key ring, creating the first key on a fresh database. */
  async start(): Promise<void> {
    await this.repo.ensureOne();
    await this.reload();
  }

  /** Re-reads the key ring (after a rotation on any instance). */
  reload(): Promise<void> {
    this.reloading ??= (async () => {
      try {
        const keys = await this.repo.active();
        this.keys = keys;
        this.byKid = new Map(keys.map((k) => [k.kid, { kid: k.kid, key: createSecretKey(k.secret) }]));
        this.headers = new Map();
        this.lastReload = Date.now();
      } finally {
        this.reloading = null;
      }
    })();
    return this.reloading;
  }

  /** The kid of the key that signs new tokens now. */
  signingKid(): string {
    const key = this.keys[0];
    if (!key) throw new Error('no signing key loaded');
    return key.kid;
  }

  /** Signs a token with the key `kid` (default: the current signing key). */
  async sign(claims: TokenClaims, kid: string = this.signingKid()): Promise<string> {
    const key = this.keys.find((k) => k.kid === kid);
    if (!key) throw new Error(`signing key ${kid} is not loaded`);
    return new SignJWT({ sid: claims.sessionId })
      .setProtectedHeader({ alg: ALG, kid: key.kid, typ: 'JWT' })
      .setSubject(claims.userId)
      .setIssuer(ISSUER)
      .setIssuedAt()
      .sign(key.secret);
  }

  /**
   * The claims of a token signed by one of our keys, or null for anything
   * else; re-reads the key ring once when the kid is unknown (a key another
   * instance just created).
   */
  async verify(token: string): Promise<TokenClaims | null> {
    const checked = this.check(token);
    if (checked !== undefined) return checked;
    if (Date.now() - this.lastReload <= RELOAD_MIN_INTERVAL_MS) return null;
    await this.reload().catch((err) => this.log.warn({ err }, 'could not reload signing keys'));
    return this.check(token) ?? null;
  }

  /**
   * Synchronous verification against the loaded key ring: the claims, null
   * for a token that is not valid, or undefined when the token names a kid
   * that is not loaded (then `verify` may reload).
   */
  check(token: string): TokenClaims | null | undefined {
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) return null;
    const firstDot = token.indexOf('.');
    const secondDot = token.indexOf('.', firstDot + 1);
    if (firstDot <= 0 || secondDot <= firstDot + 1 || token.indexOf('.', secondDot + 1) !== -1) return null;
    const headerPart = token.slice(0, firstDot);
    const key = this.headers.get(headerPart) ?? this.parseHeader(headerPart);
    if (key === null || key === undefined) return key;
    const signed = token.slice(0, secondDot);
    const signature = token.slice(secondDot + 1);
    // The one canonical encoding of the right MAC: equal strings, compared in constant time.
    const expected = Buffer.from(createHmac('sha256', key.key).update(signed).digest('base64url'));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    return claimsOf(token.slice(firstDot + 1, secondDot));
  }

  /** The key a header names: null when the header is not an HS256 header of ours, undefined for an unknown kid. */
  private parseHeader(headerPart: string): VerifyKey | null | undefined {
    if (!SEGMENT_RE.test(headerPart)) return null;
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(headerPart, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      return null;
    }
    if (!header || typeof header !== 'object' || Array.isArray(header)) return null;
    // `crit` names extensions we would have to understand (RFC 7515 §4.1.11): we understand none.
    if (header.alg !== ALG || typeof header.kid !== 'string' || 'crit' in header || ('b64' in header && header.b64 !== true)) return null;
    const key = this.byKid.get(header.kid);
    if (!key) return undefined;
    if (this.headers.size >= HEADER_CACHE_MAX) this.headers.clear();
    this.headers.set(headerPart, key);
    return key;
  }
}

/** The claims of a payload whose signature is right: ours only if every registered claim holds. */
function claimsOf(payloadPart: string): TokenClaims | null {
  if (!SEGMENT_RE.test(payloadPart)) return null;
  let payload: Record<string, unknown>;
  try {
    payload = JSON.parse(Buffer.from(payloadPart, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) return null;
  const now = Math.floor(Date.now() / 1000);
  const { iss, sub, sid, exp, nbf, iat } = payload;
  if (iss !== ISSUER) return null;
  if (exp !== undefined && (typeof exp !== 'number' || !Number.isFinite(exp) || exp <= now)) return null;
  if (nbf !== undefined && (typeof nbf !== 'number' || !Number.isFinite(nbf) || nbf > now)) return null;
  if (iat !== undefined && (typeof iat !== 'number' || !Number.isFinite(iat))) return null;
  if (typeof sub !== 'string' || typeof sid !== 'string' || !isSnowflake(sub) || !isSnowflake(sid)) return null;
  return { userId: sub, sessionId: sid };
}
