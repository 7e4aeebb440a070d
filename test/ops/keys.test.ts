/**
 * Key rotation across instances: `admin keys rotate` makes every instance sign
 * with the new key (announced through Redis) while tokens signed before keep
 * working on every instance; `keys retire` ends the old tokens everywhere.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { person, signIn } from '../helpers/accounts.js';
import { runAdmin } from '../helpers/admin.js';
import { eventually } from '../helpers/eventually.js';
import { createDatabase, REDIS_URL, startGateway, uniqueEmail, type TestGateway } from '../helpers/stack.js';
import { code } from '../helpers/results.js';

const PASSWORD = 'rotation password';

describe('signing key rotation', () => {
  let a: TestGateway;
  let b: TestGateway;
  let env: Record<string, string>;
  before(async () => {
    const databaseUrl = await createDatabase();
    env = { REDIS_URL, REDIS_PREFIX: `t${randomBytes(4).toString('hex')}:` };
    a = await startGateway(env, { databaseUrl });
    b = await startGateway(env, { databaseUrl });
    env = { ...env, DATABASE_URL: databaseUrl };
  });
  after(async () => {
    await a.close();
    await b.close();
  });

  /** Signs in on `gw` and returns the token's kid and the token. */
  async function signedInKey(gw: TestGateway, email: string): Promise<{ kid: string; token: string }> {
    const { client, token } = await signIn(gw, { email, password: PASSWORD });
    await client.close();
    return { kid: decodeProtectedHeader(token).kid!, token };
  }

  async function authorizeCode(gw: TestGateway, token: string): Promise<number> {
    const client = await gw.connect();
    const r = await client.request('auth_authorize', { token });
    await client.close();
    return code(r);
  }

  it('rotates without signing anyone out, then retires the old key everywhere', async () => {
    const email = uniqueEmail('rotation');
    const signer = await a.connect();
    const before = (await person(a, { client: signer, email, password: PASSWORD, name: 'Rotation' })).authorization!.token!;
    const oldKid = decodeProtectedHeader(before).kid!;

    const rotated = await runAdmin(['keys', 'rotate'], env);
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.deepEqual({ announced: rotated.lines[0]!.announced, fresh: rotated.lines[0]!.kid !== oldKid }, { announced: true, fresh: true });
    const newKid = rotated.lines[0]!.kid as string;

    // Both instances hear the announcement and sign with the new key.
    for (const gw of [a, b]) {
      await eventually(async () => (await signedInKey(gw, email)).kid === newKid, { what: 'the instance to sign with the new key' });
    }
    assert.equal(await authorizeCode(a, before), 0, 'a token signed before the rotation works on the instance that signed it');
    assert.equal(await authorizeCode(b, before), 0, '... and on the other');

    const after = await signedInKey(b, email);
    const retired = await runAdmin(['keys', 'retire'], env);
    assert.equal(retired.code, 0, retired.stderr);
    assert.deepEqual(retired.lines[0]!.retired, [oldKid]);
    for (const gw of [a, b]) {
      const code = await eventually(async () => await authorizeCode(gw, before), { what: 'a token of the retired key to be refused' });
      assert.equal(code, ErrorCode.FORBIDDEN, 'a token of a retired key is refused');
      assert.equal(await authorizeCode(gw, after.token), 0, 'tokens of the new key keep working');
    }
    await signer.close();
  });
});
