/**
 * A real SMTP server on loopback inside the test process (`smtp-server`): the
 * gateway sends to it with nodemailer, tests read the codes from the mails.
 */
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import PostalMime from 'postal-mime';

export interface ReceivedMail {
  to: string[];
  subject: string;
  /** The From header, display name decoded. */
  from: { name: string; address: string };
  /** The decoded text/plain part. */
  text: string;
  /** The decoded text/html part ('' when there is none). */
  html: string;
  /** The whole message as received. */
  raw: string;
}

export class TestSmtp {
  readonly mails: ReceivedMail[] = [];
  /** Deliveries to refuse with a temporary error (451) before accepting again. */
  failNext = 0;
  /** Delay before answering each DATA (ms). */
  delayMs = 0;
  private waiters: Array<() => void> = [];
  private cursor = new Map<string, number>();

  private constructor(
    private readonly server: SMTPServer,
    readonly port: number,
  ) {}

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<TestSmtp> {
    let self: TestSmtp | undefined;
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const finish = () => {
            if (self!.failNext > 0) {
              self!.failNext--;
              const err = new Error('try again later') as Error & { responseCode: number };
              err.responseCode = 451;
              callback(err);
              return;
            }
            // Accepted once parsed: a mail the sender was told is delivered is in `mails`.
            self!.receive(Buffer.concat(chunks), session.envelope.rcptTo.map((r) => r.address.toLowerCase())).then(() => callback(), callback);
          };
          if (self!.delayMs) setTimeout(finish, self!.delayMs);
          else finish();
        });
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    self = new TestSmtp(server, (server.server.address() as AddressInfo).port);
    return self;
  }

  /** Mails received so far for an address (any case). */
  mailsTo(address: string): ReceivedMail[] {
    const a = address.toLowerCase();
    return this.mails.filter((m) => m.to.includes(a));
  }

  /** The next mail to `address` not returned before; waits up to `timeoutMs`. */
  async next(address: string, timeoutMs = 5_000): Promise<ReceivedMail> {
    const a = address.toLowerCase();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const seen = this.cursor.get(a) ?? 0;
      const mails = this.mailsTo(a);
      if (mails.length > seen) {
        this.cursor.set(a, seen + 1);
        return mails[seen]!;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no mail to ${address} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.waiters.push(done);
      });
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Mails are parsed one after another, so `mails` keeps the order they arrived in. */
  private parsing: Promise<unknown> = Promise.resolve();

  private async receive(raw: Buffer, to: string[]): Promise<void> {
    const parsed = parseMail(raw);
    const turn = this.parsing.then(() => parsed);
    this.parsing = turn.catch(() => undefined);
    this.mails.push({ to, raw: raw.toString('utf8'), ...(await turn) });
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/** The 6-digit code standing alone on a line of the text part (exactly one such line). */
export function codeOf(mail: ReceivedMail): string {
  const lines = mail.text.split(/\r?\n/).filter((l) => /^[0-9]{6}$/.test(l));
  if (lines.length !== 1) throw new Error(`expected one code line in the text part, found ${lines.length}:\n${mail.text}`);
  return lines[0]!;
}

/**
 * Subject, sender and text/plain part of a raw mail, decoded by postal-mime
 * (encoded words, quoted-printable, base64, charsets): what a mail program
 * shows its reader, non-ASCII included.
 */
export async function parseMail(raw: string | Buffer): Promise<{ subject: string; from: { name: string; address: string }; text: string; html: string }> {
  const mail = await PostalMime.parse(raw);
  if (mail.text === undefined) throw new Error('no text/plain part');
  return {
    subject: mail.subject ?? '',
    from: { name: mail.from?.name ?? '', address: mail.from?.address ?? '' },
    text: mail.text,
    html: mail.html ?? '',
  };
}

/** True when a decoded RPCResult is `()`: no error and the result oneof unset. */
export function isEmptyResult(r: object): boolean {
  const fields = r as { error?: unknown; result?: unknown };
  return (fields.error ?? null) === null && fields.result === undefined;
}
