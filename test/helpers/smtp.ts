/**
 * A real SMTP server on loopback inside the test process (`smtp-server`): the
 * gateway sends to it with nodemailer, tests read the codes from the mails.
 */
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';

export interface ReceivedMail {
  to: string[];
  subject: string;
  /** The decoded text/plain part. */
  text: string;
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
            const raw = Buffer.concat(chunks).toString('utf8');
            self!.receive(raw, session.envelope.rcptTo.map((r) => r.address.toLowerCase()));
            callback();
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

  private receive(raw: string, to: string[]): void {
    this.mails.push({ to, raw, ...parseMail(raw) });
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

/** Just enough MIME for our own mails: the Subject header and the text/plain part. */
export function parseMail(raw: string): { subject: string; text: string } {
  const { headers, body } = splitPart(raw);
  const subject = headers.get('subject') ?? '';
  const type = headers.get('content-type') ?? 'text/plain';
  if (!/^multipart\//i.test(type)) return { subject, text: decodeBody(body, headers) };
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (!boundary) throw new Error('multipart mail without boundary');
  for (const chunk of body.split(`--${boundary}`).slice(1)) {
    if (chunk.startsWith('--')) break;
    const part = splitPart(chunk.replace(/^\r?\n/, ''));
    if (/^text\/plain/i.test(part.headers.get('content-type') ?? '')) return { subject, text: decodeBody(part.body, part.headers) };
  }
  throw new Error('no text/plain part');
}

function splitPart(raw: string): { headers: Map<string, string>; body: string } {
  const match = /\r?\n\r?\n/.exec(raw);
  const head = match ? raw.slice(0, match.index) : raw;
  const body = match ? raw.slice(match.index + match[0].length) : '';
  const headers = new Map<string, string>();
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { headers, body };
}

function decodeBody(body: string, headers: Map<string, string>): string {
  const encoding = (headers.get('content-transfer-encoding') ?? '7bit').toLowerCase();
  if (encoding === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (encoding === 'quoted-printable') {
    return body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  }
  return body.replace(/\r?\n$/, '');
}

/** True when a decoded RPCResult is `()`: no error and the result oneof unset. */
export function isEmptyResult(r: object): boolean {
  const fields = r as { error?: unknown; result?: unknown };
  return (fields.error ?? null) === null && fields.result === undefined;
}
