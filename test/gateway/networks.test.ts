/**
 * Per-address limits count IPv6 clients by their /64 (issue 23): every IPv6
 * customer picks freely within one, so keying each address would multiply
 * every limit by 2^64. IPv4 clients count by the address.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { networkOf } from '../../src/domain/network.js';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { assertRpcError } from '../helpers/results.js';
import { startGateway, type TestGateway } from '../helpers/stack.js';

describe('the network an address counts as', () => {
  it('IPv4 by the address, IPv6 by its /64 (or the configured prefix), mapped IPv4 as IPv4', () => {
    assert.equal(networkOf('203.0.113.7', 64), '203.0.113.7');
    assert.equal(networkOf('2001:db8:1:2:aaaa:bbbb:cccc:dddd', 64), '2001:db8:1:2::/64');
    assert.equal(networkOf('2001:db8:1:2::1', 64), networkOf('2001:0db8:0001:0002:ffff::9', 64));
    assert.notEqual(networkOf('2001:db8:1:2::1', 64), networkOf('2001:db8:1:3::1', 64));
    assert.equal(networkOf('2001:db8:1:3::1', 48), '2001:db8:1::/48');
    assert.equal(networkOf('::ffff:198.51.100.4', 64), '198.51.100.4');
  });
});

describe('per-address limits over IPv6', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ CLIENT_IP_HEADER: 'x-forwarded-for', TRUSTED_PROXIES: 'loopback', LIMIT_SIGNUP_IP: '2/3600' });
  });
  after(() => gw.close());

  /** A guest sign-up from `ip` (as the trusted proxy in front says). */
  async function signUpFrom(ip: string) {
    return (await gw.connect({ 'x-forwarded-for': ip })).request('auth_sign_up', { name: 'Six' });
  }

  it('addresses of one /64 share the allowance; another /64 and each IPv4 address have their own', async () => {
    assert.ok((await signUpFrom('2001:db8:1:2::1')).authorization);
    assert.ok((await signUpFrom('2001:db8:1:2:ffff::2')).authorization);
    assertRpcError(await signUpFrom('2001:db8:1:2:1234::3'), ErrorCode.RATE_LIMITED);
    assert.ok((await signUpFrom('2001:db8:1:3::1')).authorization, 'the next /64 is another customer');
    assert.ok((await signUpFrom('198.51.100.1')).authorization);
    assert.ok((await signUpFrom('198.51.100.2')).authorization, 'IPv4 neighbours are counted apart');
  });
});
