import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadCommand } from '../../scripts/load/args.js';
import { formatReport } from '../../scripts/load/report.js';
import { runLoad } from '../../scripts/load/run.js';
import { mintGuestTokens } from '../../scripts/load/scenarios.js';
import { startGateway, type TestGateway } from '../helpers/stack.js';

describe('loadtest against a real gateway', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startGateway({ LOG_LEVEL: 'warn', RATE_LIMITS: 'off' });
  });
  after(async () => {
    await gateway.close();
  });

  it('runs a few hundred requests of a mixed scenario and reports each method without errors', async () => {
    const options = loadCommand.parse(['--url', gateway.url, '--connections', '8', '--requests', '400', '--workers', '0', '--max-time', '60',
      '--scenario', 'signin=1,authorize=2,sessions=2,invites=1,signup=1,idle=1', '--heartbeat', '0.05', '--quiet']);
    const report = await runLoad(options);
    assert.equal(report.errors, 0, formatReport(report));
    assert.equal(report.steps, 400);
    const count = (name: string) => report.operations.find((o) => o.name === name)?.count ?? 0;
    const requests = ['auth_sign_in', 'auth_authorize', 'auth_get_sessions', 'auth_lookup_invite', 'auth_sign_up'].map(count);
    assert.ok(requests.every((n) => n > 0), `every scenario ran: ${requests}`);
    assert.equal(requests.reduce((a, b) => a + b, 0), 400);
    assert.equal(count('reconnect+authorize'), count('auth_authorize'));
    assert.ok(count('heartbeat') > 0, 'the idle socket sent heartbeats');
    const invites = report.operations.find((o) => o.name === 'auth_lookup_invite')!;
    const expected = Object.values(invites.expectedByCode).reduce((a, b) => a + b, 0);
    assert.equal(expected, invites.count, 'random invite codes are answered 404 (or 501 where invites are not served)');
    assert.match(formatReport(report), /auth_get_sessions\s+\d+/);
  });

  it('measures the revocation push in worker threads and uses each given token once', async () => {
    const tokens = await mintGuestTokens(gateway.url, 60, 2, 4);
    assert.equal(new Set(tokens).size, 60);
    const storm = await runLoad(loadCommand.parse(['--url', gateway.url, '--connections', '4', '--requests', '60', '--workers', '2', '--quiet']), { tokens });
    assert.equal(storm.errors, 0, formatReport(storm));
    assert.equal(storm.operations.find((o) => o.name === 'auth_authorize')?.count, 60);

    const revoke = await runLoad(loadCommand.parse(['--url', gateway.url, '--connections', '2', '--requests', '20', '--workers', '1', '--scenario', 'revoke', '--quiet']));
    assert.equal(revoke.errors, 0, formatReport(revoke));
    const push = revoke.operations.find((o) => o.name === 'revoke->push')!;
    assert.equal(push.count, 20);
    assert.ok(push.p50 > 0 && push.p99 >= push.p50);
  });
});
