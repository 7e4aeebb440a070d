/**
 * Real clients as they are (issue 25): browsers send navigator.userAgent as
 * core.Initialize.device_version (70 to 160 characters), a Python client its
 * interpreter's version string as app_version (65 characters on 3.13). Each
 * initializes, authorizes, and lists its session with the device shown.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { DEVICE_FIELD_IN_MAX, DEVICE_FIELD_KEPT, cutAtGrapheme } from '../../src/methods/validate.js';
import { guest } from '../helpers/accounts.js';
import { assertRpcError } from '../helpers/results.js';
import { startGateway, type TestGateway } from '../helpers/stack.js';

/** Current user agents, as the browsers send them. */
const USER_AGENTS = {
  chrome: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/143.0.0.0 Safari/537.36',
  firefox: 'Mozilla/5.0 (X11; Linux x86_64; rv:146.0) Gecko/20100101 Firefox/146.0',
  safariIos: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.6 Mobile/15E148 Safari/604.1',
  edge: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/143.0.0.0 Safari/537.36 Edg/143.0.3650.75',
  androidWebView:
    'Mozilla/5.0 (Linux; Android 15; Pixel 9 Pro Build/AP4A.250105.002; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/143.0.7499.52 Mobile Safari/537.36',
};
/** `sys.version` of a current CPython 3.13 build: 65 characters. */
const PYTHON_VERSION = '3.13.9 (main, Dec 15 2025, 16:10:43) [GCC 14.2.0] on linux x86_64';

describe('device strings of real clients', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway();
  });
  after(() => gw.close());

  /** Initialize with `device`, authorize the token of a guest signed up elsewhere, list the sessions: the device as shown. */
  async function shownDevice(device: { device_type: string; device_version: string; app_version: string }) {
    const account = await guest(gw);
    const client = await gw.connect();
    await client.call('core_initialize', { client_id: 7, ...device });
    await client.call('auth_authorize', { token: account.token });
    const { sessions } = (await client.call('auth_get_sessions', {})).sessions!;
    const mine = sessions!.find((s) => String(s.id) === account.sessionId)!;
    return { device_type: mine.device_type, device_version: mine.device_version, app_version: mine.app_version };
  }

  for (const [browser, userAgent] of Object.entries(USER_AGENTS)) {
    it(`${browser}: its navigator.userAgent (${userAgent.length} characters) initializes, authorizes and is listed whole`, async () => {
      const device = { device_type: '@osmiumchat/sdk', device_version: userAgent, app_version: '0.1.1' };
      assert.deepEqual(await shownDevice(device), device);
    });
  }

  it(`a Python client's interpreter version (${PYTHON_VERSION.length} characters) as app_version`, async () => {
    assert.equal(PYTHON_VERSION.length, 65);
    const device = { device_type: 'python', device_version: 'Linux-6.12-x86_64', app_version: PYTHON_VERSION };
    assert.deepEqual(await shownDevice(device), device);
  });

  it(`a longer field is kept to ${DEVICE_FIELD_KEPT} units, cut between graphemes; over ${DEVICE_FIELD_IN_MAX} or with a control character it is refused`, async () => {
    // A family emoji (a ZWJ sequence of 11 units) straddling the cut: it goes whole, never half.
    const family = '👨‍👩‍👧‍👦';
    const long = `${'x'.repeat(DEVICE_FIELD_KEPT - 5)}${family}${'y'.repeat(500)}`;
    const shown = await shownDevice({ device_type: 'embedded', device_version: long, app_version: '1' });
    assert.equal(shown.device_version, 'x'.repeat(DEVICE_FIELD_KEPT - 5));
    assert.equal(cutAtGrapheme(`e\u0301${'z'.repeat(10)}`, 1), '', 'a combining sequence is never split');
    const client = await gw.connect();
    assertRpcError(await client.request('core_initialize', { device_version: 'v'.repeat(DEVICE_FIELD_IN_MAX + 1) }), ErrorCode.BAD_REQUEST, /device_version/);
    assertRpcError(await client.request('core_initialize', { device_version: 'Mozilla\u0000/5.0' }), ErrorCode.BAD_REQUEST, /control characters/);
  });
});
