/**
 * A webhook receiver as a team's service would write one: a real HTTP server
 * that verifies every delivery with the `standardwebhooks` package (the
 * signature and the timestamp's age) before it accepts it. It can be down
 * (503), slow, or drop connections, and records what it accepted.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface Delivery {
  /** The webhook-id header: the event id. */
  id: string;
  type: string;
  timestamp: string;
  data: Record<string, unknown> & { user_id?: string };
  /** The user-agent (names the delivering instance's worker). */
  agent: string;
  raw: string;
  headers: Record<string, string>;
}

export interface WebhookReceiver {
  url: string;
  secret: string;
  /** Every accepted delivery, in arrival order (duplicates included). */
  deliveries: Delivery[];
  /** Deliveries whose signature or timestamp the package refused. */
  refused: number;
  /** While true, every call is answered 503 without being read. */
  down: boolean;
  /** Milliseconds each accepted call waits before answering. */
  delayMs: number;
  /** Calls in flight now, and the most ever in flight from two different agents at once. */
  inFlightAgents: Map<string, number>;
  overlappingAgents: number;
  /** verify() as the receiver runs it (throws for a bad signature or an old timestamp). */
  verify(raw: string, headers: Record<string, string>): unknown;
  close(): Promise<void>;
}

export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export async function startWebhookReceiver(secret = newWebhookSecret()): Promise<WebhookReceiver> {
  const webhook = new Webhook(secret);
  const server: Server = createServer((req, res) => {
    if (receiver.down) {
      res.writeHead(503).end();
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const headers = pick(req.headers);
      let body: { type: string; timestamp: string; data: Delivery['data'] };
      try {
        body = webhook.verify(raw, headers) as typeof body;
      } catch {
        receiver.refused++;
        res.writeHead(400).end();
        return;
      }
      const agent = headers['user-agent'] ?? '';
      const inFlight = receiver.inFlightAgents;
      inFlight.set(agent, (inFlight.get(agent) ?? 0) + 1);
      const busy = [...inFlight.entries()].filter(([, n]) => n > 0).length;
      receiver.overlappingAgents = Math.max(receiver.overlappingAgents, busy);
      const answer = () => {
        inFlight.set(agent, inFlight.get(agent)! - 1);
        receiver.deliveries.push({ id: headers['webhook-id']!, type: body.type, timestamp: body.timestamp, data: body.data, agent, raw, headers });
        res.writeHead(204).end();
      };
      if (receiver.delayMs > 0) setTimeout(answer, receiver.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const receiver: WebhookReceiver = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    secret,
    deliveries: [],
    refused: 0,
    down: false,
    delayMs: 0,
    inFlightAgents: new Map(),
    overlappingAgents: 0,
    verify: (raw, headers) => webhook.verify(raw, headers),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return receiver;
}

function pick(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** The distinct event ids each user received, in the order of their first arrival. */
export function firstArrivalsByUser(deliveries: readonly Delivery[]): Map<string, string[]> {
  const seen = new Set<string>();
  const byUser = new Map<string, string[]>();
  for (const d of deliveries) {
    if (seen.has(d.id)) continue;
    seen.add(d.id);
    const user = String(d.data.user_id);
    byUser.set(user, [...(byUser.get(user) ?? []), d.id]);
  }
  return byUser;
}
