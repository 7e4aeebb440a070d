import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../scripts/commandLine.mjs';
import { assignScenarios, loadCommand, parseScenarioMix } from '../../scripts/load/args.js';

describe('loadtest arguments', () => {
  it('has bounded defaults: 10 sockets for 10 s of authorize on the local gateway', () => {
    const o = loadCommand.parse([]);
    assert.equal(o.url, 'ws://127.0.0.1:8080/');
    assert.equal(o.connections, 10);
    assert.equal(o.durationS, 10);
    assert.equal(o.requests, null);
    assert.deepEqual(o.scenarios, [{ name: 'authorize', weight: 1 }]);
    assert.equal(o.workers, 1);
    assert.equal(o.sourceAddresses, 1);
  });

  it('reads every option, with `--flag value` and `--flag=value`', () => {
    const o = loadCommand.parse([
      '--url=ws://localhost:9000', '--connections', '300', '--requests', '5000', '--rate', '2.5', '--ramp', '3',
      '--scenario', 'signin=3,authorize=5,sessions=2', '--workers', '0', '--json', 'out.json', '--invite-code', 'abc', '--quiet',
    ]);
    assert.equal(o.url, 'ws://localhost:9000/');
    assert.equal(o.peerUrl, 'ws://localhost:9000/');
    assert.equal(o.connections, 300);
    assert.equal(o.requests, 5000);
    assert.equal(o.durationS, null, 'a --requests run has no duration (it stops at --max-time)');
    assert.equal(o.maxTimeS, 600);
    assert.equal(o.ratePerSocket, 2.5);
    assert.equal(o.rampS, 3);
    assert.equal(o.workers, 0);
    assert.equal(o.json, 'out.json');
    assert.equal(o.inviteCode, 'abc');
    assert.equal(o.quiet, true);
    assert.deepEqual(o.scenarios.map((s) => [s.name, s.weight]), [['signin', 3], ['authorize', 5], ['sessions', 2]]);
  });

  it('spreads more than 20 000 sockets over several loopback source addresses', () => {
    assert.equal(loadCommand.parse(['--connections', '45000']).sourceAddresses, 3);
    assert.equal(loadCommand.parse(['--connections', '100', '--source-addresses', '4']).sourceAddresses, 4);
  });

  it('refuses a non-loopback target unless that host is allowed explicitly', () => {
    assert.throws(() => loadCommand.parse(['--url', 'ws://chat.example.com']), /not loopback.*--allow-remote chat\.example\.com/);
    assert.throws(() => loadCommand.parse(['--url', 'ws://chat.example.com', '--allow-remote', 'other.example.com']), UsageError);
    assert.equal(loadCommand.parse(['--url', 'wss://chat.example.com/ws', '--allow-remote', 'chat.example.com']).url, 'wss://chat.example.com/ws');
    assert.throws(() => loadCommand.parse(['--url', 'http://127.0.0.1:8080']), /ws:\/\/ or wss:\/\//);
    assert.throws(() => loadCommand.parse(['--peer-url', 'ws://10.0.0.8:8080']), /--peer-url host 10\.0\.0\.8 is not loopback/);
  });

  it('refuses unbounded, contradictory or unknown options with a message naming them', () => {
    assert.throws(() => loadCommand.parse(['--connections', '0']), /--connections must be an integer above 0 and at most 100000, got "0"/);
    assert.throws(() => loadCommand.parse(['--connections', '1000001']), /--connections must be an integer above 0 and at most 100000/);
    assert.throws(() => loadCommand.parse(['--duration', '99999']), /--duration must be a number above 0 and at most 3600/);
    assert.throws(() => loadCommand.parse(['--requests', '1e9']), /--requests must be an integer above 0 and at most 10000000/);
    assert.throws(() => loadCommand.parse(['--duration', '5', '--requests', '10']), /not both/);
    assert.throws(() => loadCommand.parse(['--rate', '5', '--total-rate', '100']), /not both/);
    assert.throws(() => loadCommand.parse(['--scenario', 'chat']), /unknown scenario "chat"/);
    assert.throws(() => loadCommand.parse(['--scenario', 'signin=0']), /weight of "signin"/);
    assert.throws(() => loadCommand.parse(['--scenario', 'signin,signin']), /listed twice/);
    assert.throws(() => loadCommand.parse(['--frobnicate', '1']), /unknown option --frobnicate/);
    assert.throws(() => loadCommand.parse(['--url']), /--url needs a value/);
    assert.throws(() => loadCommand.parse(['--json', '--quiet']), /--json needs a value \(--quiet is an option\)/);
    assert.throws(() => loadCommand.parse(['--connections', '5', '--connections', '6']), /--connections given twice/);
    assert.throws(() => loadCommand.parse(['--workers', '17']), /--workers must be an integer from 0 to 16/);
  });

  it('splits sockets over a weighted mix exactly, interleaved', () => {
    const slots = assignScenarios(parseScenarioMix('signin=3,authorize=5,sessions=2'), 10);
    const count = (name: string) => slots.filter((s) => s === name).length;
    assert.deepEqual([count('signin'), count('authorize'), count('sessions')], [3, 5, 2]);
    assert.deepEqual(slots.slice(0, 3), ['signin', 'authorize', 'sessions']);
    const uneven = assignScenarios(parseScenarioMix('idle=1,revoke=1'), 3);
    assert.equal(uneven.length, 3);
    assert.deepEqual(assignScenarios(parseScenarioMix('invites'), 4), ['invites', 'invites', 'invites', 'invites']);
  });
});
