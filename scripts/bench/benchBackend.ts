/**
 * Figure 9's backend: the smallest chat backend built with the package's own
 * helper (`createBackendHandler`, src/backend), in a process of its own. It
 * answers messages.sendMessage with a SentMessage at once, doing nothing else,
 * so the figure measures the hop (gateway or bare forwarder) and not a
 * backend. BENCH_BACKEND_SECRET is the BACKEND_SECRET the callers send.
 */
import { createServer } from 'node:http';
import { createBackendHandler } from '../../src/backend/index.js';

const secret = process.env.BENCH_BACKEND_SECRET ?? '';
/** SentMessage { fixed64 message_id = 1 }: the tag, then the id's 8 bytes, little-endian. */
let nextId = 283467841537081344n;
function sentMessage(): Uint8Array {
  const bytes = Buffer.allocUnsafe(9);
  bytes[0] = (1 << 3) | 1;
  bytes.writeBigUInt64LE(nextId++, 1);
  return bytes;
}

const handler = createBackendHandler({
  secret,
  methods: { messages_send_message: () => ({ result: { field: 'sent_message', bytes: sentMessage() } }) },
});
// Keep-alive longer than the gateway's 4 s (the README beside backend.proto asks for at least 5 s).
const server = createServer({ keepAliveTimeout: 10_000 }, handler);
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening ${typeof address === 'object' && address ? address.port : address}`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
