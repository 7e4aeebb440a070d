/**
 * Accounts for tests, made through the protocol as a client would: a guest
 * (a name only), a person (email and password; optionally the address
 * verified and TOTP turned on), a new sign-in on a new socket; and the TOTP
 * codes of their authenticators. The one place tests sign up for set-up: a
 * test whose subject is sign-up itself calls auth_sign_up inline.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as OTPAuth from 'otpauth';
import { OsmiumClient } from '../../src/client/client.js';
import type { osmium } from '../../src/gen/osmium.js';
import { eventually } from './eventually.js';
import { codeOf, type TestSmtp } from './smtp.js';
import { uniqueEmail, type TestGateway } from './stack.js';

export { uniqueEmail } from './stack.js';

/** A fresh TOTP_ENCRYPTION_KEY (base64 of 32 random bytes). */
export function newTotpKey(): string {
  return randomBytes(32).toString('base64');
}

export const STRONG_PASSWORD = 'velvet quasar lantern';

/** The TOTP generator of a setup URL. */
export function totpOf(url: string): OTPAuth.TOTP {
  const otp = OTPAuth.URI.parse(url);
  assert.ok(otp instanceof OTPAuth.TOTP, 'an otpauth://totp URL');
  return otp;
}

/** The code `steps` time steps from now (−1: the previous 30 s step). */
export function codeAt(url: string, steps = 0): string {
  return totpOf(url).generate({ timestamp: Date.now() + steps * 30_000 });
}

/**
 * Waits (polling the clock, at most one step) until now is at least `margin`
 * seconds away from either end of the current 30 s step, so a code generated
 * here is checked by the gateway within the same step.
 */
export async function awayFromStepBoundary(marginSeconds = 4): Promise<void> {
  await eventually(
    () => {
      const into = (Date.now() / 1000) % 30;
      return into >= marginSeconds && into <= 30 - marginSeconds;
    },
    { what: `the clock ${marginSeconds} s away from a TOTP step boundary`, timeoutMs: 31_000, intervalMs: 200 },
  );
}

/**
 * Makes every sign-in proof of `gw` `minutes` older (its clock moves on):
 * the recent sign-in rule (REAUTH_WINDOW_MINUTES) then refuses them.
 */
export function ageSignIns(gw: TestGateway, minutes: number): void {
  gw.clock.advance(minutes * 60_000);
}

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

/**
 * The gateway an account is made on: an in-process one (`startGateway`), or
 * any by its URL (a spawned process); a new socket unless a client is given.
 */
export type Gateway = TestGateway | { url: string };

type Initialize = osmium.client.core.Initialize.$Properties;

/** Where an account signs up or in: a new socket of the gateway unless the test gives its own. */
export interface OnClient {
  client?: OsmiumClient;
  /** Headers of the new socket (say, `x-forwarded-for` to come from an address of the test's choosing). */
  headers?: Record<string, string>;
  /** core.Initialize sent on the new socket first: the device the account signs up or in from. */
  initialize?: Initialize;
}

async function socketOf(gw: Gateway, options: OnClient): Promise<OsmiumClient> {
  if (options.client) return options.client;
  const client = 'connect' in gw ? await gw.connect(options.headers) : await OsmiumClient.connect(gw.url, { headers: options.headers });
  if (options.initialize) await client.call('core_initialize', options.initialize);
  return client;
}

/** Signs up a guest (a name, no email) on a new socket (or on `client`). */
export async function guest(gw: Gateway, name = 'Guest', options: OnClient = {}): Promise<Account> {
  const client = await socketOf(gw, options);
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
export async function person(gw: Gateway, options: PersonOptions = {}): Promise<Person> {
  const email = options.email ?? uniqueEmail(options.tag ?? 'person');
  const password = options.password ?? STRONG_PASSWORD;
  const client = await socketOf(gw, options);
  const authorization = (await client.call('auth_sign_up', { email, password, name: options.name ?? 'Pat Person' })).authorization!;
  if (options.verifiedWith === 'database') {
    if (!('app' in gw)) throw new Error("person({ verifiedWith: 'database' }) needs an in-process gateway");
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
export async function signIn(gw: Gateway, who: { email: string; password: string; totp?: string }, options: OnClient = {}): Promise<Account> {
  const client = await socketOf(gw, options);
  const authorization = (await client.call('auth_sign_in', { email: who.email, password: who.password, ...(who.totp ? { totp: who.totp } : {}) })).authorization!;
  return accountOf(client, authorization);
}
