/**
 * Outgoing mail: a queue in this process, sent in the background so that no
 * request ever waits for SMTP (its latency would say whether an account
 * exists, and a slow or failing server must not fail the request).
 *
 * - With SMTP_URL: sent with nodemailer over SMTP.
 * - Without: written as an `.eml` file to MAIL_OUTBOX_DIR (mode 0600: it
 *   holds a live code), so a local developer can finish the flows.
 *
 * A failed send is retried with growing delays (RETRY_DELAYS_MS), each
 * failure logged; after the last one the mail is dropped with an error log.
 * The log says where each mail went (address, SMTP host or file) but never its
 * subject or body: both carry the code. The queue is in memory: mails still
 * queued when the process stops are logged as dropped (the user asks for a
 * new code).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Transporter } from 'nodemailer';
import { JobQueue } from './jobQueue.js';

export interface Mail {
  to: string;
  subject: string;
  text: string;
  html?: string;
  /** What the mail is, for the log (e.g. `verify_email`). */
  kind: string;
}

export interface MailServiceDeps extends MailSettings {
  log: Logger;
}

export interface MailSettings {
  /** SMTP_URL; unset: write .eml files to `outboxDir`. */
  smtpUrl?: string;
  from: string;
  outboxDir: string;
  /** Delay before each retry; the mail is dropped after the last. */
  retryDelaysMs?: readonly number[];
  /** Mails sent at once. */
  concurrency?: number;
}

/** 5 retries over about 12 minutes. */
const RETRY_DELAYS_MS: readonly number[] = [1_000, 5_000, 30_000, 120_000, 600_000];

interface Queued {
  mail: Mail;
  /** Sends tried so far. */
  attempts: number;
  id: string;
}

/** Where a mail went, for the log. */
export type Delivery = { via: 'smtp'; host: string; messageId: string } | { via: 'outbox'; file: string };

export class MailService {
  private readonly sends: JobQueue;
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private readonly retryDelays: readonly number[];
  private readonly deliver: (mail: Mail, id: string) => Promise<Delivery>;
  private closed = false;
  /** Mails handed over (to SMTP or the outbox) and dropped, since start. */
  readonly counts = { sent: 0, failedAttempts: 0, dropped: 0 };

  private readonly settings: MailSettings;
  private readonly log: Logger;

  constructor(deps: MailServiceDeps) {
    const { log, ...settings } = deps;
    this.settings = settings;
    this.log = log;
    this.retryDelays = settings.retryDelaysMs ?? RETRY_DELAYS_MS;
    this.sends = new JobQueue({ concurrency: settings.concurrency ?? 2 });
    this.deliver = settings.smtpUrl ? this.smtpDelivery(settings.smtpUrl) : this.outboxDelivery(settings.outboxDir);
  }

  /** Where mail goes, for the start-up log line (no credentials). */
  get destination(): string {
    return this.settings.smtpUrl ? `smtp ${smtpHost(this.settings.smtpUrl)}` : `outbox ${this.settings.outboxDir}`;
  }

  /** Sends one mail now, without queue or retry (the admin CLI's test mail); rejects on failure. */
  async sendNow(mail: Mail): Promise<Delivery> {
    const delivery = await this.deliver(mail, randomBytes(6).toString('hex'));
    this.counts.sent++;
    return delivery;
  }

  /** Queues a mail and returns at once; sending and retries happen in the background. */
  send(mail: Mail): void {
    const id = randomBytes(6).toString('hex');
    if (this.closed) {
      this.counts.dropped++;
      this.log.error({ mailId: id, kind: mail.kind, to: mail.to }, 'mail dropped: mail service closed');
      return;
    }
    this.enqueue({ mail, attempts: 0, id });
  }

  /** Sends in the background; composing the message starts on a later turn, so it never delays the answer being written. */
  private enqueue(item: Queued): void {
    this.sends.run(() => new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.attempt(item))).catch(() => {
      // Only close() rejects queued sends; it counts and logs them.
    });
  }

  /**
   * Stops retrying and waits (at most `timeoutMs`) for sends in flight and
   * those still queued; whatever is left is logged as dropped.
   */
  async close(timeoutMs = 5_000): Promise<void> {
    this.closed = true;
    for (const t of this.retryTimers) clearTimeout(t);
    const waitingRetries = this.retryTimers.size;
    this.retryTimers.clear();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.sends.idle(), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    const left = waitingRetries + this.sends.queued + this.sends.running;
    this.sends.clear(new Error('mail service closed'));
    if (left) {
      this.counts.dropped += left;
      this.log.error({ mails: left }, 'mails dropped at shutdown: not sent yet');
    }
  }

  private async attempt(item: Queued): Promise<void> {
    item.attempts++;
    const { mail, id } = item;
    try {
      const delivery = await this.deliver(mail, id);
      this.counts.sent++;
      this.log.info({ mailId: id, kind: mail.kind, to: mail.to, attempts: item.attempts, ...delivery }, 'mail sent');
    } catch (err) {
      this.counts.failedAttempts++;
      const delay = this.retryDelays[item.attempts - 1];
      const failure = { mailId: id, kind: mail.kind, to: mail.to, attempts: item.attempts, err: errorText(err) };
      if (delay === undefined || this.closed) {
        this.counts.dropped++;
        this.log.error(failure, 'mail dropped: every attempt failed');
        return;
      }
      this.log.warn({ ...failure, retryInMs: delay }, 'mail send failed; will retry');
      const timer = setTimeout(() => {
        this.retryTimers.delete(timer);
        this.enqueue(item);
      }, delay);
      this.retryTimers.add(timer);
    }
  }

  private smtpDelivery(url: string): (mail: Mail, id: string) => Promise<Delivery> {
    let transport: Promise<Transporter> | undefined;
    const host = smtpHost(url);
    return async (mail) => {
      transport ??= nodemailer().then(({ createTransport }) =>
        createTransport(
          // Bounded waits: a hung server must free the slot and go to the retry path.
          { url, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 },
          { from: this.settings.from },
        ),
      );
      const info = await (await transport).sendMail({ to: mail.to, subject: mail.subject, text: mail.text, html: mail.html });
      return { via: 'smtp', host, messageId: String(info.messageId ?? '') };
    };
  }

  private outboxDelivery(dir: string): (mail: Mail, id: string) => Promise<Delivery> {
    let transport: Promise<Transporter> | undefined;
    let made = false;
    return async (mail, id) => {
      transport ??= nodemailer().then(({ createTransport }) =>
        createTransport({ streamTransport: true, buffer: true, newline: 'unix' }, { from: this.settings.from }),
      );
      const info = await (await transport).sendMail({ to: mail.to, subject: mail.subject, text: mail.text, html: mail.html });
      if (!made) {
        await mkdir(dir, { recursive: true, mode: 0o700 });
        made = true;
      }
      const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${mail.kind}-${id}.eml`);
      await writeFile(file, info.message as Buffer, { mode: 0o600 });
      return { via: 'outbox', file };
    };
  }
}

/**
 * nodemailer, loaded when the first mail goes out rather than at start: it is
 * the largest package the gateway uses, and most processes start long before
 * their first mail (in the production bundle it is a module not initialised,
 * nor compiled, until then).
 */
let loaded: Promise<typeof import('nodemailer')> | undefined;
function nodemailer(): Promise<typeof import('nodemailer')> {
  loaded ??= import('nodemailer');
  return loaded;
}

/** MAIL_OUTBOX_DIR, or `<DATA_DIR>/outbox` when unset. */
export function mailOutboxDir(config: Pick<Config, 'MAIL_OUTBOX_DIR' | 'dataDir'>): string {
  return resolve(config.MAIL_OUTBOX_DIR ?? join(config.dataDir, 'outbox'));
}

/** host:port of an SMTP URL, without credentials. */
function smtpHost(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return 'smtp';
  }
}

function errorText(err: unknown): string {
  const e = err as { code?: string; responseCode?: number; message?: string };
  return [e.code, e.responseCode, e.message].filter((x) => x !== undefined && x !== '').join(' ');
}
