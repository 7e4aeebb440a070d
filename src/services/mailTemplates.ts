/**
 * The mails the gateway sends: subject, plain text and HTML of each. Every
 * mail with a code has it in the subject and alone on its own line of the
 * text, so a person (or a test) finds it at once.
 */
import { CODE_TTL_MS, type CodePurpose } from './emailCodes.js';
import type { Mail } from './mail.js';

const PRODUCT = 'Osmium';

const minutes = (purpose: CodePurpose) => Math.round(CODE_TTL_MS[purpose] / 60_000);

/** The mail with a verification code: the code in the subject and alone on its own line of the text. */
export function verificationMail(to: string, code: string): Mail {
  const valid = minutes('verify_email');
  return {
    to,
    kind: 'verify_email',
    subject: `${code} is your ${PRODUCT} verification code`,
    text: [
      `Enter this code in ${PRODUCT} to verify your email address:`,
      '',
      code,
      '',
      `The code is valid for ${valid} minutes and works once.`,
      'If you did not create an account, ignore this mail.',
      '',
    ].join('\n'),
    html: htmlMail(`Enter this code in ${PRODUCT} to verify your email address:`, code, [
      `The code is valid for ${valid} minutes and works once.`,
      'If you did not create an account, ignore this mail.',
    ]),
  };
}

/** The mail with a password reset code. */
export function resetMail(to: string, code: string): Mail {
  const valid = minutes('reset_password');
  return {
    to,
    kind: 'reset_password',
    subject: `${code} is your ${PRODUCT} password reset code`,
    text: [
      `Someone asked to reset the password of the ${PRODUCT} account with this address. Enter this code to choose a new password:`,
      '',
      code,
      '',
      `The code is valid for ${valid} minutes and works once. Resetting signs out every device.`,
      'If you did not ask for this, ignore this mail: your password stays as it is.',
      '',
    ].join('\n'),
    html: htmlMail(`Someone asked to reset the password of the ${PRODUCT} account with this address. Enter this code to choose a new password:`, code, [
      `The code is valid for ${valid} minutes and works once. Resetting signs out every device.`,
      'If you did not ask for this, ignore this mail: your password stays as it is.',
    ]),
  };
}

/** The mail with the code confirming an email change, sent to the new address. */
export function emailChangeCodeMail(to: string, code: string): Mail {
  const valid = minutes('change_email');
  const intro = `Someone asked to use this address for their ${PRODUCT} account. Enter this code to confirm it:`;
  const notes = [
    `The code is valid for ${valid} minutes and works once. The account's current address keeps working until then.`,
    'If you did not ask for this, ignore this mail: nothing changes.',
  ];
  return {
    to,
    kind: 'change_email',
    subject: `${code} is your ${PRODUCT} email change code`,
    text: [intro, '', code, '', ...notes, ''].join('\n'),
    html: htmlMail(intro, code, notes),
  };
}

/** Where a security event came from, as a mail tells it (every part supplied by a client, so cleaned). */
export interface MailOrigin {
  at: Date;
  /** e.g. `ios 17.2`; empty when the client did not say. */
  device: string;
  /** App name from the client registry, else `client <id>`, plus its version. */
  app: string;
  /** `FR`, `FR / IDF`, or empty when unknown. */
  place: string;
}

/** Tells the old address that the account asked to move to another one. */
export function emailChangeNoticeMail(to: string, newEmail: string, origin: MailOrigin): Mail {
  const lines = [
    `Your ${PRODUCT} account asked to change its email address to ${clean(newEmail)}.`,
    ...originLines(origin),
    'Until the new address is confirmed with the code mailed to it, from the same signed-in device that asked, this address stays the account\'s address.',
    `If this was not you, any one of these stops the change at once: sign in to ${PRODUCT} and change your password, ` +
      'or sign out every other device (Settings, Sessions), or reset your password ("forgot password") with this address. ' +
      'Then turn on two-factor authentication.',
  ];
  return noticeMail(to, 'email_change_notice', `Your ${PRODUCT} email address is being changed`, lines);
}

/**
 * After a password reset through this mailbox on an account whose address
 * had never been verified: whoever created it may not have been the owner of
 * the address, so what they set up is gone.
 */
export function resetTookOverMail(to: string, origin: MailOrigin, totpWasOn: boolean): Mail {
  const lines = [
    `The password of the ${PRODUCT} account with this address was reset, and this address is now verified.`,
    ...originLines(origin),
    'This address had not been verified on the account before, so the account may have been created by someone else:',
    `every device was signed out${totpWasOn ? ', two-factor authentication was turned off' : ''} and any pending email change was cancelled.`,
    'Check the account\'s name and settings, and turn on two-factor authentication if you want it.',
  ];
  return noticeMail(to, 'reset_unverified', `Your ${PRODUCT} account is yours again`, lines);
}

/** Tells the owner that the password changed. */
export function passwordChangedMail(to: string, origin: MailOrigin, otherSessionsSignedOut: boolean): Mail {
  const lines = [
    `The password of your ${PRODUCT} account was changed.`,
    ...originLines(origin),
    otherSessionsSignedOut ? 'Every other device was signed out.' : 'Devices already signed in stay signed in.',
    'If this was not you, reset your password now ("forgot password") and sign out every other device.',
  ];
  return noticeMail(to, 'password_changed', `Your ${PRODUCT} password was changed`, lines);
}

/** Tells the owner of a sign-in from a device the account has not used before. */
export function newDeviceMail(to: string, origin: MailOrigin): Mail {
  const lines = [
    `Your ${PRODUCT} account was signed in from a new device.`,
    ...originLines(origin),
    'If this was you, there is nothing to do.',
    'If this was not you, change your password now, turn on two-factor authentication, and sign out the devices you do not recognise (Settings, Sessions).',
  ];
  return noticeMail(to, 'new_device', `New sign-in to your ${PRODUCT} account`, lines);
}

/** Tells the owner that the account will be deleted, and how to stop it. */
export function deletionRequestedMail(to: string, purgeAt: Date, origin: MailOrigin): Mail {
  const lines = [
    `Your ${PRODUCT} account is scheduled for deletion on ${when(purgeAt)}.`,
    ...originLines(origin),
    'Every other device was signed out. Until that date you can still sign in and cancel the deletion in the settings.',
    'After it, the account, its sessions, invites, memberships and friendships are gone for good and this address is free.',
    `If this was not you, sign in now, cancel the deletion and change your password.`,
  ];
  return noticeMail(to, 'deletion_requested', `Your ${PRODUCT} account will be deleted`, lines);
}

/** Tells the owner that a pending deletion was cancelled. */
export function deletionCancelledMail(to: string, origin: MailOrigin): Mail {
  const lines = [`The deletion of your ${PRODUCT} account was cancelled: it stays as it is.`, ...originLines(origin)];
  return noticeMail(to, 'deletion_cancelled', `Your ${PRODUCT} account will not be deleted`, lines);
}

function originLines(origin: MailOrigin): string[] {
  return [
    `When: ${when(origin.at)}`,
    `Device: ${clean(origin.device) || 'not reported by the app'}`,
    `App: ${clean(origin.app) || 'unknown'}`,
    `Where: ${clean(origin.place) || 'unknown'}`,
  ];
}

/** `2026-11-26 02:47 UTC` */
function when(at: Date): string {
  return `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** Text a client supplied, on one line: control characters become spaces. */
function clean(text: string): string {
  return text.replace(/[\p{Cc}\u2028\u2029]+/gu, ' ').trim();
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function noticeMail(to: string, kind: string, subject: string, lines: string[]): Mail {
  return {
    to,
    kind,
    subject,
    text: [...lines, ''].join('\n'),
    html: ['<!doctype html><html><body style="font-family:sans-serif">', ...lines.map((l) => `<p>${escapeHtml(l)}</p>`), '</body></html>'].join('\n'),
  };
}

/** Every piece is our own text (no user input), so no escaping is needed. */
function htmlMail(intro: string, code: string, notes: string[]): string {
  return [
    '<!doctype html><html><body style="font-family:sans-serif">',
    `<p>${intro}</p>`,
    `<p style="font-size:28px;letter-spacing:6px;font-weight:bold">${code}</p>`,
    ...notes.map((n) => `<p>${n}</p>`),
    '</body></html>',
  ].join('\n');
}
