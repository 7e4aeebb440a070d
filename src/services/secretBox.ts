/**
 * Encryption at rest of small secrets (TOTP secrets) with AES-256-GCM
 * (node:crypto). A key ring: the first key seals, every key opens, so keys
 * rotate without downtime (README "Two-factor authentication"):
 *   1. put a new key first in TOTP_ENCRYPTION_KEY, keep the old one after it,
 *      restart the gateways (new secrets are sealed with the new key);
 *   2. `npm run admin -- totp reencrypt` re-seals every stored secret;
 *   3. drop the old key from TOTP_ENCRYPTION_KEY.
 *
 * Envelope (text, stored as is): `v1.<kid>.<iv>.<ciphertext+tag>`, base64url
 * parts; kid = the first 8 bytes of SHA-256 of the key, hex, so the stored row
 * names the key that opens it without revealing it. The context (e.g.
 * `totp:<user id>`) is bound as additional authenticated data: a secret
 * copied into another account's row does not open.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

interface RingKey {
  kid: string;
  key: Buffer;
}

/** Thrown when an envelope does not open: unknown key, tampered, or sealed for another context. */
export class SecretBoxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretBoxError';
  }
}

export function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest().subarray(0, 8).toString('hex');
}

export class SecretBox {
  private readonly ring: RingKey[];

  /** `keys`: 32-byte keys, the sealing (newest) key first. */
  constructor(keys: readonly Buffer[]) {
    if (!keys.length) throw new Error('SecretBox needs at least one key');
    for (const key of keys) if (key.length !== 32) throw new Error('SecretBox keys are 32 bytes (AES-256)');
    this.ring = keys.map((key) => ({ kid: keyId(key), key }));
  }

  /** The kid of the sealing key. */
  get currentKid(): string {
    return this.ring[0]!.kid;
  }

  seal(plaintext: Buffer, context: string): string {
    const { kid, key } = this.ring[0]!;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return [VERSION, kid, iv.toString('base64url'), body.toString('base64url')].join('.');
  }

  open(envelope: string, context: string): Buffer {
    const [version, kid, ivText, bodyText, extra] = envelope.split('.');
    if (version !== VERSION || !kid || !ivText || !bodyText || extra !== undefined) throw new SecretBoxError('not a sealed secret');
    const entry = this.ring.find((k) => k.kid === kid);
    if (!entry) throw new SecretBoxError(`sealed with key ${kid}, which is not in TOTP_ENCRYPTION_KEY`);
    const iv = Buffer.from(ivText, 'base64url');
    const body = Buffer.from(bodyText, 'base64url');
    if (iv.length !== IV_BYTES || body.length < TAG_BYTES) throw new SecretBoxError('malformed sealed secret');
    const decipher = createDecipheriv('aes-256-gcm', entry.key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new SecretBoxError('sealed secret does not open (tampered, or sealed for another account)');
    }
  }

  /** True when the envelope is sealed with the current key (nothing to re-encrypt). */
  isCurrent(envelope: string): boolean {
    return envelope.split('.')[1] === this.currentKid;
  }
}
