/**
 * ALLOWED_ORIGINS: a browser page of an origin not listed cannot open a
 * socket (HTTP 403 at upgrade), a listed one can, the gateway's own console page on
 * loopback can (never whatever Host says), and clients that are not browsers (no Origin) are let through.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { OsmiumClient } from '../../src/client/client.js';
import { ConfigError, loadConfig, parseAllowedOrigins } from '../../src/config.js';
import { loopbackConsoleOrigins, originAllowed } from '../../src/gateway/origin.js';
import { startGateway, type TestGateway } from '../helpers/stack.js';
import { launchChromium, type Browser, type Page } from './browser.js';

/** Opens a WebSocket from the page and resolves with what happened: `open`, or `closed <code>`. */
function tryWebSocket(page: Page, url: string): Promise<string> {
  return page.evaluate(
    (target) =>
      new Promise<string>((resolve) => {
        const socket = new WebSocket(target);
        socket.onopen = () => {
          socket.close();
          resolve('open');
        };
        socket.onclose = (event) => resolve(`closed ${event.code}`);
      }),
    url,
  );
}

describe('Origin check at upgrade (browser)', () => {
  let pages: Server;
  let pagePort: number;
  let gw: TestGateway;
  let browser: Browser;
  before(async () => {
    // Some web app's pages, on another port: a different origin from the gateway's.
    pages = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>'));
    await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
    pagePort = (pages.address() as AddressInfo).port;
    gw = await startGateway({ ALLOWED_ORIGINS: `http://localhost:${pagePort}` });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
    pages?.close();
  });

  it('refuses a page of an origin not listed with 403, and lets a listed one in', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (message) => consoleErrors.push(message.text()));

    await page.goto(`http://127.0.0.1:${pagePort}/`); // same page server, but 127.0.0.1 is another origin than localhost
    assert.equal(await tryWebSocket(page, gw.url), 'closed 1006', 'the browser reports a failed upgrade');
    assert.ok(consoleErrors.some((text) => /403/.test(text)), `the browser saw HTTP 403: ${consoleErrors.join(' | ')}`);
    const refused = gw.logs.find((l) => l.msg === 'upgrade refused: origin not in ALLOWED_ORIGINS');
    assert.equal(refused?.origin, `http://127.0.0.1:${pagePort}`);

    await page.goto(`http://localhost:${pagePort}/`);
    assert.equal(await tryWebSocket(page, gw.url), 'open');
    await context.close();
  });

  it('clients that are not browsers (no Origin) connect; a forged foreign Origin gets 403', async () => {
    const native = await OsmiumClient.connect(gw.url);
    assert.ok(native.isOpen);
    await native.close();
    await assert.rejects(OsmiumClient.connect(gw.url, { headers: { Origin: 'https://evil.example' } }), /upgrade refused: 403/);
    const listed = await OsmiumClient.connect(gw.url, { headers: { Origin: `HTTP://LOCALHOST:${pagePort}` } });
    await listed.close();
  });

  it('unset ALLOWED_ORIGINS lets any origin in, and the start log says so', async () => {
    const open = await startGateway({}, { databaseUrl: gw.databaseUrl });
    try {
      assert.ok(open.logs.some((l) => /ALLOWED_ORIGINS is not set: web pages of any origin may open sockets/.test(String(l.msg))));
      const client = await OsmiumClient.connect(open.url, { headers: { Origin: 'https://anything.example' } });
      await client.close();
    } finally {
      await open.close();
    }
  });
});

describe('Origin rule', () => {
  const policy = parseAllowedOrigins('https://chat.example.com, http://localhost:3000');
  const own = loopbackConsoleOrigins(8080);

  it("allows listed origins (case and default port aside), the console's own loopback origin, and requests without Origin", () => {
    assert.equal(originAllowed(policy, 'https://chat.example.com', own), true);
    assert.equal(originAllowed(policy, 'https://CHAT.example.com:443', own), true);
    assert.equal(originAllowed(policy, 'http://localhost:3000', own), true);
    assert.equal(originAllowed(policy, 'http://localhost:8080', own), true, 'its own console on loopback');
    assert.equal(originAllowed(policy, 'https://gw.example.com', own), false, 'never its Host header');
    assert.equal(originAllowed(policy, undefined, own), true, 'not a browser');
  });

  it('refuses other origins, other ports and schemes, and opaque origins', () => {
    assert.equal(originAllowed(policy, 'https://evil.example', own), false);
    assert.equal(originAllowed(policy, 'http://chat.example.com', own), false);
    assert.equal(originAllowed(policy, 'http://localhost:3001', own), false);
    assert.equal(originAllowed(policy, 'https://chat.example.com.evil.example', own), false);
    assert.equal(originAllowed(policy, 'null', own), false);
  });

  it('`*` allows every origin; a malformed entry stops the start naming ALLOWED_ORIGINS', () => {
    assert.equal(originAllowed(parseAllowedOrigins('*'), 'https://evil.example', own), true);
    for (const bad of ['chat.example.com', 'https://chat.example.com/app', 'ftp://files.example', ',']) {
      assert.throws(() => loadConfig({ ALLOWED_ORIGINS: bad }), (err: unknown) => err instanceof ConfigError && /ALLOWED_ORIGINS=/.test(err.message), bad);
    }
  });
});
