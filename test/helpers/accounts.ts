/**
 * Accounts for tests, made through the protocol as a client would: a guest
 * (a name only), a person (email and password; optionally the address
 * verified through the test SMTP server and TOTP turned on), a new sign-in on
 * a new socket.
 */
import type { OsmiumClient } from '../../src/client/client.js';
import type { osmium } from '../../src/gen/osmium.js';
import { awayFromStepBoundary, codeAt, STRONG_PASSWORD } from './accountSecurity.js';
import { codeOf, type TestSmtp } from './smtp.js';
import { uniqueEmail, type TestGateway } from './stack.js';

export { codeAt, newTotpKey, STRONG_PASSWORD } from './accountSecurity.js';
export { uniqueEmail } from './stack.js';

type Authorization = osmium.client.auth.Authorization.$Properties;

/** A signed-in socket and what its sign-in answered. */
export interface Account {
  client: OsmiumClient;
  authorization: Authorization;
  token: string;
  userId: string;
  sessionId: string;
}

export interface Person extends Account {
  email: string;
  password: string;
  /** The otpauth:// URL when TOTP was turned on, else ''. */
  url: string;
  backupCodes: string[];
}

function accountOf(client: OsmiumClient, authorization: Authorization): Account {
  return {
    client,
    authorization,
    token: authorization.token!,
    userId: authorization.user!.id!.toString(),
    sessionId: authorization.session_id!.toString(),
  };
}

/** Signs up a guest (a name, no email) on a new socket. */
export async function guest(gw: TestGateway, name = 'Guest'): Promise<Account> {
  const client = await gw.connect();
  return accountOf(client, (await client.call('auth_sign_up', { name })).authorization!);
}

/**
 * Signs up with an email and STRONG_PASSWORD on a new socket; `verifiedWith`
 * reads the verification code from the test SMTP server and confirms it;
 * `totp` turns two-factor on (needs a verified address: give `verifiedWith`),
 * confirming with the previous step's code so the current and next steps stay
 * free for sign-ins.
 */
export async function person(gw: TestGateway, options: { tag?: string; verifiedWith?: TestSmtp; totp?: boolean; name?: string } = {}): Promise<Person> {
  const email = uniqueEmail(options.tag ?? 'person');
  const client = await gw.connect();
  const authorization = (await client.call('auth_sign_up', { email, password: STRONG_PASSWORD, name: options.name ?? 'Pat Person' })).authorization!;
  if (options.verifiedWith) await client.call('auth_verify_email', { email, code: codeOf(await options.verifiedWith.next(email)) });
  let url = '';
  let backupCodes: string[] = [];
  if (options.totp) {
    if (!options.verifiedWith) throw new Error('person({ totp: true }) needs verifiedWith: two-factor needs a verified address');
    url = (await client.call('settings_setup_totp', { enabled: true })).totp!.url!;
    await awayFromStepBoundary();
    const enabled = await client.call('settings_setup_totp', { enabled: true, code: codeAt(url, -1) });
    backupCodes = enabled.totp!.backup_codes!.map((c) => c.code!);
  }
  return { ...accountOf(client, authorization), email, password: STRONG_PASSWORD, url, backupCodes };
}

/** Signs in on a new socket of `gw` (with a TOTP or backup code when given). */
export async function signIn(gw: TestGateway, who: { email: string; password: string; totp?: string }): Promise<Account> {
  const client = await gw.connect();
  const authorization = (await client.call('auth_sign_in', { email: who.email, password: who.password, ...(who.totp ? { totp: who.totp } : {}) })).authorization!;
  return accountOf(client, authorization);
}
