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
