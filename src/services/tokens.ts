/**
 * Session tokens: JWTs signed with jose.
 *
 * Algorithm: HS256. Only gateways sign and verify tokens, so a shared secret
 * (kept in Postgres, see KeysRepo) loses nothing against a key pair, and HMAC
 * verification is about twice as fast as EdDSA (~50 vs ~115 µs measured here),
 * which matters in a reconnect storm. Every token carries a `kid`; the newest
 * key signs, every unretired key verifies, so keys rotate without signing
 * anyone out. A token proves only who it was issued to: whether its session is
 * still valid is decided by the session record on every Authorize.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Logger } from '../logger.js';
import type { Id } from '../protocol/codec.js';
import type { KeysRepo, SigningKey } from '../store/keysRepo.js';
import { isSnowflake } from './snowflake.js';

const ALG = 'HS256';
const ISSUER = 'osmium-auth-gateway';
/** How often an unknown kid may trigger a reload of the key ring. */
const RELOAD_MIN_INTERVAL_MS = 1_000;

export interface TokenClaims {
  userId: Id;
  sessionId: Id;
}

export class TokenService {
  private keys: SigningKey[] = [];
  private byKid = new Map<string, SigningKey>();
  private lastReload = 0;
  private reloading: Promise<void> | null = null;

  constructor(
    private readonly repo: KeysRepo,
    private readonly log: Logger,
  ) {}

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
        this.byKid = new Map(keys.map((k) => [k.kid, k]));
        this.lastReload = Date.now();
      } finally {
        this.reloading = null;
      }
    })();
    return this.reloading;
  }

  async sign(claims: TokenClaims): Promise<string> {
    const key = this.keys[0];
    if (!key) throw new Error('no signing key loaded');
    return new SignJWT({ sid: claims.sessionId })
      .setProtectedHeader({ alg: ALG, kid: key.kid, typ: 'JWT' })
      .setSubject(claims.userId)
      .setIssuer(ISSUER)
      .setIssuedAt()
      .sign(key.secret);
  }

  /**
   * Returns the claims of a token signed by one of our keys, or null for
   * anything else. HS256 is checked here with node:crypto, synchronously:
   * jose's WebCrypto HMAC is an async job on libuv's thread pool, so during a
   * sign-in storm every Authorize waited for a pool thread next to bcrypt
   * (measured with `npm run bench`, figure 3). Same checks as jose's
   * jwtVerify for our tokens: alg, kid, no `crit`, signature, issuer, and
   * exp / nbf / iat when present.
   */
  async verify(token: string): Promise<TokenClaims | null> {
    if (token.length === 0 || token.length > 2048) return null;
    const parts = token.split('.');
    if (parts.length !== 3) return null;
    const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
    const header = parseJsonPart(headerPart);
    if (!header || header.alg !== ALG || typeof header.kid !== 'string' || header.crit !== undefined || header.b64 !== undefined) return null;
    const kid = header.kid;
    let key = this.byKid.get(kid);
    if (!key && Date.now() - this.lastReload > RELOAD_MIN_INTERVAL_MS) {
      // Possibly signed with a key another instance just created.
      await this.reload().catch((err) => this.log.warn({ err }, 'could not reload signing keys'));
      key = this.byKid.get(kid);
    }
    if (!key) return null;
    const expected = createHmac('sha256', key.secret).update(`${headerPart}.${payloadPart}`).digest();
    const given = Buffer.from(signaturePart, 'base64url');
    // Buffer.from skips characters outside the alphabet: insist on the canonical spelling.
    if (given.length !== expected.length || given.toString('base64url') !== signaturePart || !timingSafeEqual(given, expected)) return null;
    const payload = parseJsonPart(payloadPart);
    if (!payload || payload.iss !== ISSUER) return null;
    const now = Math.floor(Date.now() / 1000);
    if (payload.exp !== undefined && (typeof payload.exp !== 'number' || payload.exp <= now)) return null;
    if (payload.nbf !== undefined && (typeof payload.nbf !== 'number' || payload.nbf > now)) return null;
    if (payload.iat !== undefined && typeof payload.iat !== 'number') return null;
    const { sub, sid } = payload;
    if (typeof sub !== 'string' || typeof sid !== 'string' || !isSnowflake(sub) || !isSnowflake(sid)) return null;
    return { userId: sub, sessionId: sid };
  }
}

/** Decodes one base64url JSON part of a JWT; null unless it is a JSON object. */
function parseJsonPart(part: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
