// Ceiling of figure 5: plain node (no TypeScript loader) answering /readyz 200 with nothing else to start.
import { createServer } from 'node:http';

createServer((_req, res) => {
  res.writeHead(200);
  res.end('ready\n');
}).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
