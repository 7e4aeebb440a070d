import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { SignJWT, jwtVerify } from 'jose';
import { createLogger } from '../../src/logger.js';
import { TokenService } from '../../src/services/tokens.js';
import type { KeysRepo, SigningKey } from '../../src/store/keysRepo.js';

const key: SigningKey = { kid: 'k1', secret: new Uint8Array(randomBytes(32)), createdAt: new Date() };
const repo = { ensureOne: async () => {}, active: async () => [key] } as unknown as KeysRepo;
const claims = { userId: '283467841537081344', sessionId: '283467841537081345' };

async function service(): Promise<TokenService> {
  const tokens = new TokenService({ repo, log: createLogger({ level: 'silent', pretty: false }) });
  await tokens.start();
  return tokens;
}

/** A token like ours, with some part changed. */
function forge(options: { header?: Record<string, unknown>; payload?: Record<string, unknown>; secret?: Uint8Array } = {}) {
  return new SignJWT({ sid: claims.sessionId, ...options.payload })
    .setProtectedHeader({ alg: 'HS256', kid: 'k1', typ: 'JWT', ...options.header } as { alg: string })
    .setSubject(claims.userId)
    .setIssuer((options.payload?.iss as string | undefined) ?? 'osmium-auth-gateway')
    .setIssuedAt()
    .sign(options.secret ?? key.secret);
}

/** A JWT signed by hand with our key (jose refuses to produce some of these). */
function handSigned(header: Record<string, unknown>, payloadPart: string): string {
  const headerPart = Buffer.from(JSON.stringify(header)).toString('base64url');
  const signature = createHmac('sha256', key.secret).update(`${headerPart}.${payloadPart}`).digest('base64url');
  return `${headerPart}.${payloadPart}.${signature}`;
}

describe('session token verification', () => {
  it('accepts its own tokens and returns who they were issued to', async () => {
    const tokens = await service();
    assert.deepEqual(await tokens.verify(await tokens.sign(claims)), claims);
    assert.deepEqual(await tokens.verify(await forge({ payload: { exp: Math.floor(Date.now() / 1000) + 60 } })), claims);
    const p = (await tokens.sign(claims)).split('.')[1]!;
    assert.deepEqual(await tokens.verify(handSigned({ alg: 'HS256', kid: 'k1' }, p)), claims, 'the hand signer agrees with jose');
  });

  it('refuses altered, foreign, unsigned, expired and malformed tokens', async () => {
    const tokens = await service();
    const good = await tokens.sign(claims);
    const [h, p, s] = good.split('.') as [string, string, string];
    const otherUser = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: '283467841537081999' })).toString('base64url');
    const refused = {
      'payload swapped': `${h}.${otherUser}.${s}`,
      'signature flipped': `${h}.${p}.${s.slice(0, -2)}${s.at(-2) === 'A' ? 'B' : 'A'}${s.at(-1)}`,
      'signature with a stray character': `${h}.${p}.${s.slice(0, 10)}!${s.slice(10)}`,
      'signed with another key': await forge({ secret: new Uint8Array(randomBytes(32)) }),
      'unknown kid': await forge({ header: { kid: 'nope' } }),
      'alg none': `${Buffer.from(JSON.stringify({ alg: 'none', kid: 'k1' })).toString('base64url')}.${p}.`,
      'crit header': handSigned({ alg: 'HS256', kid: 'k1', crit: ['x'], x: 1 }, p),
      'correct signature, other alg': handSigned({ alg: 'HS512', kid: 'k1' }, p),
      'other issuer': await forge({ payload: { iss: 'someone-else' } }),
      expired: await forge({ payload: { exp: Math.floor(Date.now() / 1000) - 1 } }),
      'not yet valid': await forge({ payload: { nbf: Math.floor(Date.now() / 1000) + 60 } }),
      'session id not a snowflake': await forge({ payload: { sid: 'abc' } }),
      'two parts': `${h}.${p}`,
      'four parts': `${h}.${p}.${s}.${s}`,
      'signature padded with =': `${good}=`,
      'signature padded with ==': `${good}==`,
      'signature in base64 instead of base64url': `${h}.${p}.${Buffer.from(s, 'base64url').toString('base64')}`,
      'not base64 JSON': 'a.b.c',
      empty: '',
    };
    for (const [what, token] of Object.entries(refused)) assert.equal(await tokens.verify(token), null, what);
  });

  it('agrees with jose on thousands of mutated tokens', async () => {
    const tokens = await service();
    const good = await tokens.sign(claims);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ';
    let seed = 20261126;
    const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    let accepted = 0;
    for (let i = 0; i < 3000; i++) {
      const chars = [...good];
      const edits = 1 + random(3);
      for (let e = 0; e < edits; e++) {
        const at = random(chars.length);
        const kind = random(3);
        if (kind === 0) chars[at] = alphabet[random(alphabet.length)]!;
        else if (kind === 1) chars.splice(at, 1);
        else chars.splice(at, 0, alphabet[random(alphabet.length)]!);
      }
      const token = i % 10 === 0 ? good : chars.join('');
      const ours = await tokens.verify(token);
      const theirs = await jwtVerify(token, key.secret, { algorithms: ['HS256'], issuer: 'osmium-auth-gateway' }).then(
        ({ payload }) => ({ userId: payload.sub, sessionId: payload.sid }),
        () => null,
      );
      // jose accepts some encodings that are not the canonical one (padding, stray bits); we never accept more than jose.
      if (ours !== null) {
        assert.deepEqual(ours, theirs, `we accepted what jose refuses: ${token}`);
        accepted++;
      }
    }
    assert.ok(accepted >= 300, 'the unmodified tokens pass');
  });
});
