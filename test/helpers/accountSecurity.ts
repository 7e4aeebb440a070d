/** Helpers for the account-security tests: TOTP codes from an otpauth:// URL, accounts with TOTP on, aged sign-ins. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as OTPAuth from 'otpauth';
import type { OsmiumClient, RpcResult } from '../../src/client/client.js';
import type { TestGateway } from './stack.js';
import { eventually } from './eventually.js';
import { uniqueEmail } from './stack.js';

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
 * Signs up on `client` with an email and marks the address verified, as if
 * its code had been confirmed: two-factor needs a verified address.
 */
export async function verifiedSignUp(gw: TestGateway, client: OsmiumClient, fields: { email: string; password: string; name: string }): Promise<RpcResult> {
  const result = await client.call('auth_sign_up', fields);
  await gw.app.db.query(`UPDATE users SET email_verified = true WHERE id = $1`, [result.authorization!.user!.id!.toString()]);
  return result;
}

export interface TotpAccount {
  email: string;
  password: string;
  client: OsmiumClient;
  userId: string;
  sessionId: string;
  /** The token of the sign-up session. */
  token: string;
  url: string;
  backupCodes: string[];
}

/** Signs up, marks the address verified, turns TOTP on with the code of the previous step (so the current and next steps stay free for sign-ins). */
export async function totpAccount(gw: TestGateway, tag = 'totp'): Promise<TotpAccount> {
  const email = uniqueEmail(tag);
  const client = await gw.connect();
  const auth = (await verifiedSignUp(gw, client, { email, password: STRONG_PASSWORD, name: 'Tess Otp' })).authorization!;
  const setup = await client.call('settings_setup_totp', { enabled: true });
  const url = setup.totp!.url!;
  await awayFromStepBoundary();
  const enabled = await client.call('settings_setup_totp', { enabled: true, code: codeAt(url, -1) });
  return {
    email,
    password: STRONG_PASSWORD,
    client,
    userId: auth.user!.id!.toString(),
    sessionId: auth.session_id!.toString(),
    token: auth.token!,
    url,
    backupCodes: enabled.totp!.backup_codes!.map((c) => c.code!),
  };
}

/**
 * Makes every sign-in proof of `gw` `minutes` older (its clock moves on):
 * the recent sign-in rule (REAUTH_WINDOW_MINUTES) then refuses them.
 */
export function ageSignIns(gw: TestGateway, minutes: number): void {
  gw.clock.advance(minutes * 60_000);
}

export function errorOf(r: RpcResult): { code: number; message: string } | null {
  return r.error ? { code: r.error.error_code ?? 0, message: r.error.error_message ?? '' } : null;
}
