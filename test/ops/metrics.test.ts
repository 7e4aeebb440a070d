/** GET /metrics on its own listener: Prometheus text that moves with traffic. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { person } from '../helpers/accounts.js';
import { eventually } from '../helpers/eventually.js';
import { startGateway, uniqueEmail, type TestGateway } from '../helpers/stack.js';
import { assertRpcError, count } from '../helpers/results.js';

/** Parses Prometheus text into `name{labels}` → value. */
async function scrape(gw: TestGateway): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${gw.app.metricsPort}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  const samples = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    samples.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return samples;
}

const value = (samples: Map<string, number>, key: string) => samples.get(key) ?? 0;

describe('metrics', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway();
  });
  after(() => gw.close());

  it('exports process metrics and every gateway metric before any traffic', async () => {
    const samples = await scrape(gw);
    for (const name of [
      'osmium_connections_open',
      'osmium_connections_authorized',
      'osmium_frames_received_total',
      'osmium_frames_sent_total',
      'osmium_received_bytes_total',
      'osmium_sent_bytes_total',
      'osmium_password_hashes_queued',
      'osmium_password_hashes_running',
      'osmium_revocation_fanout_seconds_count',
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
    ]) {
      assert.ok(samples.has(name), `${name} is exported`);
    }
  });

  it('counts connections, frames, bytes, requests by method and code, latency and revocation fan-out', async () => {
    const before = await scrape(gw);
    const email = uniqueEmail('metrics');
    const alice = await gw.connect();
    const signedUp = await person(gw, { client: alice, email, password: 'metrics password', name: 'Metrics' });
    const bob = await gw.connect();
    const wrong = await bob.request('auth_sign_in', { email, password: 'not the password' });
    assertRpcError(wrong, 401);
    await bob.request('messages_send_message', new Uint8Array([1]));
    const other = await bob.call('auth_sign_in', { email, password: 'metrics password' });

    const during = await scrape(gw);
    assert.equal(value(during, 'osmium_connections_open'), 2);
    assert.equal(value(during, 'osmium_connections_authorized'), 2);

    await alice.call('auth_revoke_sessions', { session_ids: [other.authorization!.session_id!] });
    await bob.closed;
    // Signing herself out closes alice's socket (possibly before the result arrives).
    await alice.request('auth_revoke_sessions', { session_ids: [signedUp.authorization!.session_id!] }).catch(() => undefined);
    await alice.closed;

    // The self-revocation's result and the broker's echo may trail the close frame: scrape until they are in.
    let after = await scrape(gw);
    const moved = (key: string) => value(after, key) - value(before, key);
    await eventually(
      async () => {
        after = await scrape(gw);
        return moved('osmium_revocation_fanout_seconds_count') >= 2 && moved('osmium_requests_total{method="auth_revoke_sessions",code="0"}') >= 2;
      },
      { what: 'both revocations counted and back through the broker' },
    );
    assert.equal(moved('osmium_requests_total{method="auth_sign_up",code="0"}'), 1);
    assert.equal(moved('osmium_requests_total{method="auth_sign_in",code="401"}'), 1);
    assert.equal(moved('osmium_requests_total{method="auth_sign_in",code="0"}'), 1);
    assert.equal(moved('osmium_requests_total{method="messages_send_message",code="501"}'), 1);
    assert.equal(moved('osmium_requests_total{method="auth_revoke_sessions",code="0"}'), 2);
    assert.equal(moved('osmium_request_duration_seconds_count{method="auth_sign_in"}'), 2);
    assert.ok(moved('osmium_request_duration_seconds_sum{method="auth_sign_up"}') > 0);
    assert.ok(moved('osmium_frames_received_total') >= 6, 'six requests arrived');
    assert.ok(moved('osmium_frames_sent_total') >= 6, 'six results and an update left');
    assert.ok(moved('osmium_received_bytes_total') > 50);
    assert.ok(moved('osmium_sent_bytes_total') > 200, 'tokens went out');
    assert.equal(moved('osmium_revocation_fanout_seconds_count'), 2, 'each revocation came back through the broker');
    assert.equal(value(after, 'osmium_connections_open'), 0, 'both sockets were closed by the revocations');
    assert.equal(value(after, 'osmium_connections_authorized'), 0);
  });

  it('is served only on its own listener, never on the public gateway port', async () => {
    const publicPort = await fetch(`http://127.0.0.1:${gw.app.port}/metrics`);
    assert.equal(publicPort.status, 426);
    assert.doesNotMatch(await publicPort.text(), /osmium_/);
    assert.equal((await fetch(`http://127.0.0.1:${gw.app.metricsPort}/healthz`)).status, 404, 'the metrics listener serves nothing else');
    assert.equal(loadConfig({}).METRICS_HOST, '127.0.0.1', 'loopback unless configured');
    assert.equal(loadConfig({}).METRICS_PORT, undefined, 'no listener unless configured');
  });

  it('counts rate-limit refusals by limit name', async () => {
    const limited = await startGateway({ SOCKET_RATE: '1', SOCKET_BURST: '2' });
    try {
      const client = await limited.connect();
      const results = await Promise.all([1, 2, 3, 4, 5].map((id) => client.request('core_initialize', {}, { id })));
      const refused = count(results, 429);
      assert.ok(refused >= 2, `the socket's burst of 2 was used up: ${refused} refused`);
      const samples = await scrape(limited);
      assert.equal(value(samples, 'osmium_rate_limited_total{limit="socket_requests"}'), refused);
    } finally {
      await limited.close();
    }
  });
});
