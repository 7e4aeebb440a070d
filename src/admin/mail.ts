/** `admin mail ...`: check the mail settings (SMTP_URL, MAIL_FROM, MAIL_OUTBOX_DIR) from the operator's shell. */
import { createLogger } from '../logger.js';
import { MailService, mailOutboxDir } from '../services/mail.js';
import * as v from '../methods/validate.js';
import { UsageError, type AdminCommand } from './command.js';

export const mailCommands: Record<string, AdminCommand> = {
  test: {
    usage: 'test <address>',
    summary: 'send one test mail now through SMTP_URL (or to the outbox) and say where it went',
    async run({ positional: [address] }, { config, print }) {
      let to: string;
      try {
        to = v.email(address, 'address');
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      const log = createLogger({ level: 'silent', pretty: false });
      const mail = new MailService({ smtpUrl: config.SMTP_URL, from: config.MAIL_FROM, outboxDir: mailOutboxDir(config), log });
      const delivery = await mail.sendNow({
        to,
        kind: 'test',
        subject: 'Osmium gateway test mail',
        text: 'This is a test mail from the Osmium auth gateway: the mail settings work.\n',
      });
      print({ to, ...delivery });
    },
  },
};
