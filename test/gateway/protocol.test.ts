/** Framing rules over a real socket: binary only, limits, heartbeats, req_id, sequence ids, 501. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { protoRoot } from '../helpers/protoRoot.js';
import { OsmiumClient } from '../../src/client/client.js';
import { CloseCode } from '../../src/protocol/closeCodes.js';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { startGateway, type TestGateway } from '../helpers/stack.js';
import { assertRpcError } from '../helpers/results.js';

const SERVED = new Set([
  'auth_sign_in', 'auth_sign_up', 'chats_create_chat_invite', 'auth_lookup_invite', 'auth_use_invite', 'core_initialize',
  'auth_authorize', 'auth_get_sessions', 'auth_revoke_sessions', 'auth_reset_password', 'auth_verify_email',
  'auth_resend_email_verification', 'chats_delete_chat_invite', 'chats_list_chat_invites',
  'settings_get_account', 'settings_change_password', 'settings_change_email', 'settings_setup_totp', 'settings_delete_account',
]);

const ALL_METHODS = protoRoot.lookupType('osmium.client.core.ClientMessage').oneofs.message!.fieldsArray.map((f) => f.name);

describe('protocol framing', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ MAX_FRAME_BYTES: '1024' });
  });
  after(() => gw.close());

  it('closes a text frame with 1003 and leaves other sockets alone', async () => {
    const bystander = await gw.connect();
    const client = await gw.connect();
    client.sendRaw('hello');
    const closed = await client.closed;
    assert.equal(closed.code, CloseCode.UNSUPPORTED_DATA);
    const r = await bystander.request('core_initialize', {});
    assert.ok(r.initialized);
  });

  it('closes an oversized frame with 1009', async () => {
    const client = await gw.connect();
    client.sendRaw(new Uint8Array(2048));
    assert.equal((await client.closed).code, CloseCode.MESSAGE_TOO_BIG);
  });

  it('closes an undecodable frame with 1007', async () => {
    const client = await gw.connect();
    client.sendRaw(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
    assert.equal((await client.closed).code, CloseCode.INVALID_PAYLOAD);
  });

  it('never answers a heartbeat (only id set), and keeps serving after it', async () => {
    const client = await gw.connect();
    client.heartbeat(1);
    client.heartbeat(1);
    const r = await client.request('core_initialize', {}, { id: 9 });
    assert.equal(r.req_id, 9);
    assert.deepEqual(client.serverIds, [1], 'exactly one server message: the Initialize result');
    assert.ok(client.isOpen);
  });

  it('answers a request with id 0 with req_id 0', async () => {
    const client = await gw.connect();
    const r = await client.request('core_initialize', {}, { id: 0 });
    assert.equal(r.req_id, 0);
    assert.ok(r.initialized);
  });

  it('numbers server messages 1, 2, 3 on each connection', async () => {
    const client = await gw.connect();
    await Promise.all([1, 2, 3].map((id) => client.request('core_initialize', {}, { id })));
    assert.deepEqual(client.serverIds, [1, 2, 3]);
    const other = await gw.connect();
    await other.request('core_initialize', {});
    assert.deepEqual(other.serverIds, [1]);
  });

  it('answers every method it does not serve with 501 naming the method', async () => {
    const client = await gw.connect();
    const all = ALL_METHODS.filter((m) => !SERVED.has(m));
    assert.equal(all.length + SERVED.size, 95);
    let id = 100;
    for (const method of all) {
      const reqId = id++;
      const r = await client.request(method as 'messages_send_message', new Uint8Array([1, 2, 3]), { id: reqId });
      assert.equal(r.req_id, reqId);
      assertRpcError(r, ErrorCode.NOT_SERVED, undefined, method);
      assert.match(r.error?.error_message ?? '', new RegExp(method));
    }
  });

  it('core.Initialize returns the host and port the client connected to', async () => {
    const client = await gw.connect();
    const r = await client.request('core_initialize', { client_id: 7, device_type: 'desktop', device_version: 'Linux', app_version: '1.0' });
    const [entry] = r.initialized?.entrypoints?.entrypoints ?? [];
    assert.equal(entry?.hostname, '127.0.0.1');
    assert.equal(entry?.port, gw.app.port);
  });

  it('core.Initialize returns configured ENTRYPOINTS', async () => {
    const other = await startGateway({ ENTRYPOINTS: 'chat.example.com:443:2,backup.example.com:8443' });
    try {
      const client = await other.connect();
      const r = await client.request('core_initialize', {});
      const entries = r.initialized?.entrypoints?.entrypoints?.map((e) => [e.hostname, e.port, e.region]);
      assert.deepEqual(entries, [['chat.example.com', 443, 2], ['backup.example.com', 8443, 0]]);
    } finally {
      await other.close();
    }
  });

  it('serves health and readiness', async () => {
    const base = `http://127.0.0.1:${gw.app.port}`;
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
  });

  it('accepts the WebSocket upgrade on any path', async () => {
    const client = await OsmiumClient.connect(`${gw.url}/some/path?x=1`);
    const r = await client.request('core_initialize', {});
    assert.ok(r.initialized);
    await client.close();
  });
});

