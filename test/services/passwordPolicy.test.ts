/** The password strength policy (zxcvbn): what it refuses, why it says so, and what it lets through. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RpcError } from '../../src/protocol/errorCodes.js';
import { PasswordPolicy } from '../../src/services/passwordPolicy.js';
import { runToExit } from '../helpers/process.js';

const policy = new PasswordPolicy({ minScore: 3 });
const owner = { email: 'margaret.hamilton@example.test', name: 'Margaret Hamilton' };

async function refusal(password: string, who = owner, network = '192.0.2.1'): Promise<string | null> {
  try {
    await policy.check(password, who, 'password', { network });
    return null;
  } catch (err) {
    assert.ok(err instanceof RpcError);
    assert.equal(err.code, 400);
    return err.message;
  }
}

describe('password policy', () => {
  it('refuses common passwords and says so', async () => {
    assert.match((await refusal('password'))!, /^password is one of the most common passwords/);
    assert.match((await refusal('iloveyou2'))!, /^password is too common/);
    assert.match((await refusal('Password123!'))!, /^password is too similar to a common password/);
  });

  it('refuses keyboard patterns, repeats and sequences', async () => {
    assert.match((await refusal('qwertyuiop'))!, /common|keyboard/);
    assert.match((await refusal('aaaaaaaaaaaa'))!, /repeats/);
    assert.match((await refusal('abcdefghij'))!, /sequence|common/);
  });

  it("refuses the user's own email and name, which the same password does not trip for someone else", async () => {
    assert.match((await refusal('margaret.hamilton'))!, /contains your email address or name/);
    assert.match((await refusal('hamilton1969!'))!, /contains your email address or name/);
    assert.equal(await refusal('hamilton1969!', { email: 'x@example.test', name: 'Someone Else' }), null);
  });

  it('lets long passphrases and random passwords through', async () => {
    for (const ok of ['correct horse battery staple', 'velvet quasar lantern', 'Tr0ub4dor&3-xyz', 'k8#Qz!v2Lm9@']) assert.equal(await refusal(ok), null, ok);
  });

  it('scores at most 64 characters, so a crafted long input costs the same as a 64-character one', async () => {
    const crafted = 'p@$$w0rd!'.repeat(14);
    assert.equal((await policy.evaluate(crafted, owner)).evaluated, 64);
  });

  it('200 checks at once, half of them weak: each answer goes to its own password (exactly the 100 weak ones refused)', async () => {
    const passwords = Array.from({ length: 200 }, (_, i) => (i % 2 ? `velvet quasar lantern ${i}` : `password${i}`));
    const answers = await Promise.all(passwords.map((p, i) => refusal(p, owner, `192.0.2.${i}`)));
    const refused = passwords.filter((_, i) => answers[i] !== null);
    assert.equal(refused.length, 100);
    assert.ok(refused.every((p) => p.startsWith('password')), 'only the weak ones');
  });

  it('its thread, started and idle, does not keep a process alive (a stopped gateway would never exit)', async () => {
    const script = "import('./src/services/passwordPolicy.ts').then(({ PasswordPolicy }) => new PasswordPolicy({ minScore: 3 }).start())";
    const run = await runToExit(process.execPath, ['--import', 'tsx', '-e', script], { deadlineMs: 20_000 });
    assert.equal(run.code, 0, run.stderr);
  });

  it('PASSWORD_MIN_SCORE=0 turns it off', async () => {
    await assert.doesNotReject(new PasswordPolicy({ minScore: 0 }).check('password', owner, 'password', { network: '192.0.2.1' }));
  });
});
