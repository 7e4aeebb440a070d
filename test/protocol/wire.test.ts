/**
 * Wire compatibility: every message, field name, number, type and label in
 * docs/osmium-protocol.md (restated from the public Osmium protocol) matches
 * proto/ exactly, and 64-bit ids survive the codec.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import Long from 'long';
import type protobuf from 'protobufjs';
import { decodeClientMessage, encodeServerMessage, idFromWire, idToWire, proto } from '../../src/protocol/codec.js';
import { protoRoot } from '../helpers/protoRoot.js';

const doc = readFileSync(new URL('../../docs/osmium-protocol.md', import.meta.url), 'utf8');

interface Row {
  pkg: string;
  message: string;
  number: number;
  field: string;
  type: string;
  label: string;
}

/** Rows of the per-package field tables (`| message | # | field | type | label |`). */
function fieldRows(): Row[] {
  const rows: Row[] = [];
  for (const section of doc.split(/^### /m).slice(1)) {
    const pkg = /package `osmium\.client\.(\w+)`/.exec(section)?.[1];
    if (!pkg) continue;
    for (const line of section.split('\n')) {
      const cells = line.split('|').slice(1, -1).map((c) => c.trim());
      if (cells.length !== 5 || !/^\d+$/.test(cells[1]!)) continue;
      const [message, number, field, type, label] = cells as [string, string, string, string, string];
      rows.push({ pkg, message: message.replace(/ \(nested\)$/, ''), number: Number(number), field, type, label: label === '(its only field)' ? '' : label });
    }
  }
  return rows;
}

function lookup(pkg: string, message: string): protobuf.Type {
  return protoRoot.lookupType(`osmium.client.${pkg}.${message}`);
}

/** The type name as the doc writes it, relative to the field's package. */
function docType(field: protobuf.Field, pkg: string): string {
  const resolved = field.resolvedType;
  if (!resolved) return field.type;
  const full = resolved.fullName.replace(/^\.osmium\.client\./, '');
  const [fieldPkg, ...rest] = full.split('.');
  return fieldPkg === pkg ? rest.join('.') : full;
}

describe('wire compatibility with the public Osmium protocol', () => {
  const rows = fieldRows();

  it('the doc has the field tables', () => {
    assert.ok(rows.length > 90, `parsed ${rows.length} rows`);
  });

  it('every documented field exists with the same name, number, type and label', () => {
    for (const row of rows) {
      const type = lookup(row.pkg, row.message);
      const field = type.fieldsById[row.number];
      assert.ok(field, `${row.pkg}.${row.message} has no field ${row.number}`);
      assert.equal(field.name, row.field, `${row.pkg}.${row.message}#${row.number}`);
      const expectedType = row.type.replace(/^ResetPassword\./, '');
      const actual = docType(field, row.pkg).replace(/^ResetPassword\./, '');
      assert.equal(actual, expectedType, `${row.pkg}.${row.message}.${row.field} type`);
      const label = field.repeated ? 'rep' : field.options?.proto3_optional ? 'opt' : field.partOf ? `oneof ${field.partOf.name}` : '';
      assert.equal(label, row.label, `${row.pkg}.${row.message}.${row.field} label`);
    }
  });

  it('ClientMessage carries all 95 methods of the method table with their numbers', () => {
    const table = [...doc.split('## Method table')[1]!.matchAll(/^\| (\d+) \| (\w+) \| ([\w.]+) \|/gm)];
    assert.equal(table.length, 95);
    const message = lookup('core', 'ClientMessage');
    for (const [, number, name] of table) {
      const field = message.fieldsById[Number(number)];
      assert.equal(field?.name, name, `ClientMessage #${number}`);
      assert.equal(field?.partOf?.name, 'message');
    }
  });

  it('RPCResult and Update oneofs match the documented numbers', () => {
    const results = doc.split('## Result oneof')[1]!.split('\n')[1]!;
    const rpc = lookup('core', 'RPCResult');
    for (const [, number, name] of results.matchAll(/(\d+) (\w+)/g)) {
      if (name === 'is') continue; // "12 is reserved"
      assert.equal(rpc.fieldsById[Number(number)]?.name, name, `RPCResult #${number}`);
    }
    assert.ok(rpc.reserved?.some((r) => Array.isArray(r) && r[0] === 12), '12 is reserved');
    const update = lookup('updates', 'Update');
    for (const [, number, name] of doc.matchAll(/^\| (\d+) \| (\w+) \| [\w.]+ \|$/gm)) {
      if (Number(number) > 25) continue;
      assert.equal(update.fieldsById[Number(number)]?.name, name, `Update #${number}`);
    }
  });

  it('enums match', () => {
    assert.deepEqual({ ...protoRoot.lookupEnum('osmium.client.auth.InviteType').values }, { UNKNOWN: 0, COMMUNITY: 1, GROUP: 2, USER: 3 });
    assert.deepEqual({ ...protoRoot.lookupEnum('osmium.client.types.NotifPrefs').values }, { ALL: 0, MENTIONS: 1, NONE: 2, DEFAULT: 3 });
    assert.deepEqual({ ...protoRoot.lookupEnum('osmium.client.types.UserStatus.Status').values }, { ONLINE: 0, IDLE: 1, INVISIBLE: 5 });
  });

  it('fixed64 ids survive the codec at full 64-bit precision, never as 0', () => {
    const big = '18446744073709551615';
    const snowflake = '7401234567890123456';
    const bytes = encodeServerMessage({ result: { req_id: 1, authorization: { token: 't', session_id: idToWire(big), user: { id: idToWire(snowflake), name: 'n' } } } }, 1);
    const decoded = proto.core.ServerMessage.decode(bytes);
    assert.equal(idFromWire(decoded.result!.authorization!.session_id as Long), big);
    assert.equal(idFromWire(decoded.result!.authorization!.user!.id as Long), snowflake);
    // A client sending ids as Long decodes to the same decimal string.
    const client = proto.core.ClientMessage.encode({ id: 3, auth_revoke_sessions: { session_ids: [Long.fromString(snowflake, true)] } }).finish();
    assert.equal(idFromWire(decodeClientMessage(client).auth_revoke_sessions!.session_ids![0] as Long), snowflake);
    for (const id of ['0', '1', '4294967295', '4294967296', '9223372036854775807', '9223372036854775808', big]) {
      assert.equal(idToWire(id).toString(), id);
      assert.ok(idToWire(id).unsigned);
    }
  });

  it('a frame names the oneof member it carries; with two members, the last one wins and the other is gone', () => {
    const { ClientMessage } = proto.core;
    const one = decodeClientMessage(ClientMessage.encode({ id: 1, auth_authorize: { token: 't' } }).finish());
    assert.equal(one.message, 'auth_authorize');
    assert.equal(one.auth_authorize!.token, 't');
    const signIn = ClientMessage.encode({ id: 2, auth_sign_in: { email: 'a@example.test', password: 'p' } }).finish();
    const authorize = ClientMessage.encode({ auth_authorize: { token: 'u' } }).finish();
    const both = decodeClientMessage(Buffer.concat([signIn, authorize])); // protobuf merges concatenated messages
    assert.equal(both.message, 'auth_authorize');
    assert.equal(both.auth_sign_in, null);
    assert.equal(both.auth_authorize!.token, 'u');
    assert.equal(both.id, 2);
    const heartbeat = decodeClientMessage(ClientMessage.encode({ id: 3 }).finish());
    assert.equal(heartbeat.message, undefined);
    assert.equal(new ClientMessage({ core_initialize: {} }).message, 'core_initialize', 'built, not decoded: the member is found');
  });
});
