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

export { ageSignIns, awayFromStepBoundary, codeAt, newTotpKey, STRONG_PASSWORD, totpOf } from './accountSecurity.js';
export { uniqueEmail } from './stack.js';

type Authorization = osmium.client.auth.Authorization.$Properties;

/** A signed-in socket and what its sign-in answered. */
export interface Account {
  client: OsmiumClient;
  authorization: Authorization;
  token: string;
  userId: string;
  /** The account's display name, as the sign-up answered it. */
  name: string;
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
    name: authorization.user!.name ?? '',
    sessionId: authorization.session_id!.toString(),
  };
}

/** Where an account signs up or in: a new socket of the gateway unless the test gives its own (say, one it initialized with a device). */
export interface OnClient {
  client?: OsmiumClient;
}

/** Signs up a guest (a name, no email) on a new socket (or on `client`). */
export async function guest(gw: TestGateway, name = 'Guest', options: OnClient = {}): Promise<Account> {
  const client = options.client ?? (await gw.connect());
  return accountOf(client, (await client.call('auth_sign_up', { name })).authorization!);
}

export interface PersonOptions extends OnClient {
  /** Tag of the unique address (`uniqueEmail(tag)`); ignored when `email` is given. */
  tag?: string;
  email?: string;
  /** Default STRONG_PASSWORD. */
  password?: string;
  /** Default 'Pat Person'. */
  name?: string;
  /**
   * Verifies the address: with the test SMTP server, by confirming the code
   * mailed to it as its owner would; `'database'` marks it verified directly
   * (for a gateway that mails no one), as if the code had been confirmed.
   */
  verifiedWith?: TestSmtp | 'database';
  /** Turns two-factor on (needs `verifiedWith`). */
  totp?: boolean;
}

/**
 * Signs up with an email and a password on a new socket (or on `client`);
 * `verifiedWith` verifies the address; `totp` turns two-factor on (needs a
 * verified address), confirming with the previous step's code so the current
 * and next steps stay free for sign-ins.
 */
export async function person(gw: TestGateway, options: PersonOptions = {}): Promise<Person> {
  const email = options.email ?? uniqueEmail(options.tag ?? 'person');
  const password = options.password ?? STRONG_PASSWORD;
  const client = options.client ?? (await gw.connect());
  const authorization = (await client.call('auth_sign_up', { email, password, name: options.name ?? 'Pat Person' })).authorization!;
  if (options.verifiedWith === 'database') {
    await gw.app.db.query(`UPDATE users SET email_verified = true WHERE id = $1`, [authorization.user!.id!.toString()]);
  } else if (options.verifiedWith) {
    await client.call('auth_verify_email', { email, code: codeOf(await options.verifiedWith.next(email)) });
  }
  let url = '';
  let backupCodes: string[] = [];
  if (options.totp) {
    if (!options.verifiedWith) throw new Error('person({ totp: true }) needs verifiedWith: two-factor needs a verified address');
    url = (await client.call('settings_setup_totp', { enabled: true })).totp!.url!;
    await awayFromStepBoundary();
    const enabled = await client.call('settings_setup_totp', { enabled: true, code: codeAt(url, -1) });
    backupCodes = enabled.totp!.backup_codes!.map((c) => c.code!);
  }
  return { ...accountOf(client, authorization), email, password, url, backupCodes };
}

/** Signs in on a new socket of `gw` (or on `client`), with a TOTP or backup code when given. */
export async function signIn(gw: TestGateway, who: { email: string; password: string; totp?: string }, options: OnClient = {}): Promise<Account> {
  const client = options.client ?? (await gw.connect());
  const authorization = (await client.call('auth_sign_in', { email: who.email, password: who.password, ...(who.totp ? { totp: who.totp } : {}) })).authorization!;
  return accountOf(client, authorization);
}
