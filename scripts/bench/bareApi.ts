/**
 * The ceiling of figures 10 and 11: a bare HTTP server (with a `ws` server on
 * the same port) that does what the gateway's internal API does minus auth,
 * checks and storage:
 *
 * - POST /v1/sessions/introspect: reads the JSON body, parses it and answers
 *   a JSON body of BARE_INTROSPECT_BYTES (the gateway's answer size).
 * - POST /v1/push, /v1/push/batch (protobuf): decodes the request and sends
 *   each update, in a ServerMessage with the socket's next sequence id (the
 *   gateway's frame), to every socket of each target user, here in this
 *   process (no broker), answering `instances: 1`.
 * - WebSocket `/?u=<user id>`: a socket of that user (no token, no session).
 */
import { createServer, type IncomingMessage } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { osmium as backendProto } from '../../src/gen/backend.js';
import { encodeServerMessageAround, idFromWire } from '../../src/protocol/codec.js';

const v1 = backendProto.gateway.v1;
const introspectBytes = Number(process.env.BARE_INTROSPECT_BYTES ?? 300);

/** An introspection answer of exactly `introspectBytes` bytes (padding the name). */
function introspected(): string {
  const make = (name: string) =>
    JSON.stringify({
      active: true,
      user_id: '283467841537081344',
      session_id: '283467841537081345',
      bot: false,
      name,
      email_verified: false,
      device: { client_id: 1, device_type: 'Linux', device_version: '6.1', app_version: 'osmium-bench 1.0' },
    });
  return make('Bare' + 'x'.repeat(Math.max(0, introspectBytes - make('Bare').length)));
}
const INTROSPECTED = introspected();

interface Held {
  ws: WebSocket;
  seq: number;
}
const byUser = new Map<string, Set<Held>>();

function deliver(push: backendProto.gateway.v1.PushRequest.$Properties): void {
  const update = push.update!;
  for (const wire of push.user_ids ?? []) {
    const sockets = byUser.get(idFromWire(wire as never));
    if (!sockets) continue;
    for (const held of sockets) held.ws.send(encodeServerMessageAround('update', update, ++held.seq));
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

const server = createServer({ keepAliveTimeout: 10_000 }, (req, res) => {
  void readBody(req).then((body) => {
    if (req.url === '/v1/sessions/introspect') {
      const given = JSON.parse(body.toString('utf8') || 'null') as { token?: unknown } | null;
      const json = typeof given?.token === 'string' ? INTROSPECTED : '{"active":false}';
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(json);
      return;
    }
    let answer: Uint8Array;
    if (req.url === '/v1/push') {
      deliver(v1.PushRequest.decode(body));
      answer = v1.PushResponse.encode({ instances: 1 }).finish();
    } else if (req.url === '/v1/push/batch') {
      const batch = v1.PushBatchRequest.decode(body);
      for (const push of batch.pushes) deliver(push);
      answer = v1.PushBatchResponse.encode({ results: batch.pushes.map(() => ({ instances: 1 })) }).finish();
    } else {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': answer.length }).end(answer);
  });
});

const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 65536 });
wss.on('connection', (ws, req) => {
  const userId = new URL(req.url ?? '/', 'http://bare').searchParams.get('u') ?? '0';
  const held: Held = { ws, seq: 0 };
  let sockets = byUser.get(userId);
  if (!sockets) byUser.set(userId, (sockets = new Set()));
  sockets.add(held);
  ws.on('error', () => {});
  ws.on('close', () => {
    sockets.delete(held);
    if (!sockets.size) byUser.delete(userId);
  });
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening ${typeof address === 'object' && address ? address.port : address}`);
});
process.on('SIGTERM', () => {
  for (const client of wss.clients) client.terminate();
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
