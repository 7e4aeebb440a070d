// The start-to-ready ceiling (figure 5 and scripts/startToReady.mjs): plain node answering /readyz 200 with nothing
// else to start. Run it with `--import tsx` for the ceiling of a start through tsx.
import { createServer } from 'node:http';

createServer((_req, res) => {
  res.writeHead(200);
  res.end('ready\n');
}).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
