/**
 * Figure 9's ceiling: a bare `ws` server that decodes each frame's envelope
 * (the gateway's own decoder: unserved methods stay bytes), sends it over
 * `undici` to the same backend as one BackendRequest with a fixed caller (no
 * auth, no session, no trace ids drawn, no breaker or metrics; the
 * contract's headers, fixed), and answers
 * the client with the backend's result spliced into an RPCResult, as the
 * gateway does. core.Initialize and auth.authorize get an empty result, so
 * the bench's clients can open their sockets the same way on both.
 * BARE_BACKEND_URL: the backend's origin; BARE_BACKEND_SECRET: its secret.
 */
import { Pool } from 'undici';
import { WebSocketServer } from 'ws';
import { osmium as backendProto } from '../../src/gen/backend.js';
import { CLIENT_METHOD_FIELDS } from '../../src/gen/fields.js';
import { decodeClientMessage, encodeServerMessage, encodeServerMessageAround, encodeSplicedResult, idToWire, rpcResult } from '../../src/protocol/codec.js';

const v1 = backendProto.gateway.v1;
const backend = new URL(process.env.BARE_BACKEND_URL ?? 'http://127.0.0.1:1');
const authorization = `Bearer ${process.env.BARE_BACKEND_SECRET ?? ''}`;
// The gateway's pool settings (src/gateway/backendRoute.ts).
const pool = new Pool(backend.origin, { keepAliveTimeout: 4_000, keepAliveMaxTimeout: 4_000, keepAliveTimeoutThreshold: 2_000, pipelining: 1 });
const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const TRACEPARENT = `00-${TRACE_ID}-b7ad6b7169203331-01`;
const CALLER = {
  user_id: idToWire('283467841537081344'),
  session_id: idToWire('283467841537081345'),
  bot: false,
  client_id: 1,
  device_type: 'Linux',
  device_version: '6.1',
  app_version: 'osmium-bench 1.0',
  ip: '127.0.0.1',
};

async function forward(method: string, payload: Uint8Array, reqId: number): Promise<Uint8Array> {
  const body = v1.BackendRequest.encode({
    trace_id: TRACE_ID,
    caller: CALLER,
    forward: { method_field: CLIENT_METHOD_FIELDS[method as keyof typeof CLIENT_METHOD_FIELDS], method_name: method, payload, req_id: reqId },
  }).finish();
  const response = await pool.request({
    path: '/osmium/v1/call',
    method: 'POST',
    // The contract's headers, as the gateway sends them (the backend reads x-osmium-timeout-ms to bound its work): the same work behind both.
    headers: { 'content-type': 'application/x-protobuf', authorization, traceparent: TRACEPARENT, 'x-osmium-method': method, 'x-osmium-timeout-ms': '3000' },
    body,
  });
  const chunks: Buffer[] = [];
  for await (const chunk of response.body) chunks.push(chunk as Buffer);
  const answer = v1.BackendResponse.decode(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
  const result = answer.result;
  if (response.statusCode !== 200 || !result) throw new Error(`backend answered ${response.statusCode} ${answer.outcome ?? ''}`);
  return encodeSplicedResult(reqId, TRACE_ID, result.field ?? 0, result.payload ?? new Uint8Array(0));
}

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 65536 });
wss.on('connection', (ws) => {
  let seq = 0;
  ws.on('error', () => {});
  ws.on('message', (data: Buffer, isBinary) => {
    if (!isBinary) return;
    const message = decodeClientMessage(data);
    const method = message.message;
    if (!method) return; // heartbeat
    const reqId = message.id >>> 0;
    if (method === 'core_initialize' || method === 'auth_authorize') {
      ws.send(encodeServerMessage({ result: rpcResult(reqId) }, ++seq));
      return;
    }
    const payload = (message as unknown as Record<string, unknown>)[method];
    forward(method, payload instanceof Uint8Array ? payload : new Uint8Array(0), reqId).then(
      (result) => ws.send(encodeServerMessageAround('result', result, ++seq)),
      (err: Error) => ws.send(encodeServerMessage({ result: rpcResult(reqId, { error: { error_code: 503, error_message: err.message } }) }, ++seq)),
    );
  });
});
wss.on('listening', () => {
  const address = wss.address();
  console.log(`listening ${typeof address === 'object' && address ? address.port : address}`);
});
process.on('SIGTERM', () => wss.close(() => void pool.close().then(() => process.exit(0))));
