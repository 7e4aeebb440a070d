/**
 * The ceiling of figures 1, 1a, 1b and 2: a bare `ws` server on this machine
 * that decodes each ClientMessage and answers requests with a ServerMessage
 * of the same size as the gateway's Authorize answer (BARE_ANSWER_BYTES), a
 * core.Initialize with one the size of the gateway's Initialized answer
 * (BARE_INITIALIZE_BYTES, default: BARE_ANSWER_BYTES), and holds idle sockets
 * with nothing attached. No auth, no storage.
 */
import { WebSocketServer } from 'ws';
import { osmium } from '../../src/gen/osmium.js';
import { idToWire } from '../../src/protocol/codec.js';

const answerBytes = Number(process.env.BARE_ANSWER_BYTES ?? 400);
const initializeBytes = Number(process.env.BARE_INITIALIZE_BYTES ?? answerBytes);
const ServerMessage = osmium.client.core.ServerMessage;
const ClientMessage = osmium.client.core.ClientMessage;
const USER_ID = idToWire('283467841537081344');
const SESSION_ID = idToWire('283467841537081345');

/** Builds an Authorization-shaped answer padded to exactly `bytes` bytes. */
function answer(reqId: number, seq: number, token: string): Uint8Array {
  const base = { id: seq, result: { req_id: reqId, authorization: { token, user: { id: USER_ID, name: 'Bare' }, session_id: SESSION_ID } } };
  let encoded = ServerMessage.encode(base).finish();
  const pad = Math.max(0, answerBytes - encoded.length);
  if (pad) {
    const padded = { ...base, result: { ...base.result, authorization: { ...base.result.authorization, user: { id: USER_ID, name: 'Bare' + 'x'.repeat(pad) } } } };
    encoded = ServerMessage.encode(padded).finish();
    // The name's length prefix may grow by a byte; trim the padding to match.
    const over = encoded.length - answerBytes;
    if (over > 0) {
      padded.result.authorization.user.name = 'Bare' + 'x'.repeat(pad - over);
      encoded = ServerMessage.encode(padded).finish();
    }
  }
  return encoded;
}

/** An Initialized answer padded to exactly `bytes` bytes (through the entrypoint's host name). */
function initialized(reqId: number, seq: number): Uint8Array {
  const make = (hostname: string) =>
    ServerMessage.encode({ id: seq, result: { req_id: reqId, initialized: { entrypoints: { entrypoints: [{ hostname, port: 8080, region: 0 }] } } } }).finish();
  const pad = Math.max(0, initializeBytes - make('bare').length);
  let encoded = make('bare' + 'x'.repeat(pad));
  // The name's length prefix may grow by a byte; trim the padding to match.
  const over = encoded.length - initializeBytes;
  if (pad && over > 0) encoded = make('bare' + 'x'.repeat(pad - over));
  return encoded;
}

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 65536 });
wss.on('connection', (ws) => {
  let seq = 0;
  ws.on('error', () => {});
  ws.on('message', (data: Buffer, isBinary) => {
    if (!isBinary) return;
    const message = ClientMessage.decode(data);
    if (!message.message) return; // heartbeat
    if (message.core_initialize) {
      ws.send(initialized(message.id >>> 0, ++seq));
      return;
    }
    const token = message.auth_authorize?.token ?? '';
    ws.send(answer(message.id >>> 0, ++seq, token));
  });
});
wss.on('listening', () => {
  const address = wss.address();
  console.log(`listening ${typeof address === 'object' && address ? address.port : address}`);
});
process.on('SIGTERM', () => wss.close(() => process.exit(0)));
