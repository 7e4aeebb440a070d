/** The admin CLI run as operators run it (a child process on the gateway's database), checked over real sockets. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ErrorCode } from '../../src/protocol/errorCodes.js';
import { type Account, guest } from '../helpers/accounts.js';
import { runAdmin, type AdminRun } from '../helpers/admin.js';
import { channelRef, createInvite, groupRef, id, selfRef } from '../helpers/invites.js';
import { startGateway, type TestGateway } from '../helpers/stack.js';
import { assertRpcError } from '../helpers/results.js';

const DECIMAL_ID = /^[1-9][0-9]{0,18}$/;

describe('admin CLI', () => {
  let gw: TestGateway;
  let owner: Account;
  let friend: Account;
  let run: (...args: string[]) => Promise<AdminRun>;

  before(async () => {
    gw = await startGateway();
    run = (...args) => runAdmin(args, { DATABASE_URL: gw.databaseUrl });
    [owner, friend] = await Promise.all([guest(gw, 'Olga Operator'), guest(gw, 'Fred Friend')]);
  });
  after(() => gw.close());

  it('prints help listing the community, group, user and invite commands', async () => {
    const r = await run('help');
    assert.equal(r.code, 0);
    for (const command of ['community create --owner', 'community list', 'group create --owner', 'group list', 'user show', 'invite list', 'invite delete']) {
      assert.ok(r.stdout.includes(command), `help mentions ${command}`);
    }
  });

  it('community create prints the ids of a community whose owner can invite through its channel at once', async () => {
    const r = await run('community', 'create', '--owner', owner.userId, '--name', 'Operators Guild');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines.length, 1);
    const { community_id, channel_id } = r.lines[0] as { community_id: string; channel_id: string };
    assert.match(community_id, DECIMAL_ID);
    assert.match(channel_id, DECIMAL_ID);
    assert.notEqual(community_id, channel_id);

    const community = { communityId: community_id, channelId: channel_id };
    const code = await createInvite(owner, channelRef(community));
    const preview = (await friend.client.call('auth_lookup_invite', { code })).invite_preview!;
    assert.equal(preview.community?.name, 'Operators Guild');
    assert.equal(id(preview.community?.id), community_id);
    await friend.client.call('auth_use_invite', { code });

    const list = await run('community', 'list', '--owner', owner.userId);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(list.lines.map((l) => [l.community_id, l.channel_ids, l.member_count, l.name]), [
      [community_id, [channel_id], 2, 'Operators Guild'],
    ]);
    const invites = await run('invite', 'list', '--community', community_id, '--all');
    assert.equal(invites.code, 0, invites.stderr);
    assert.deepEqual(invites.lines.map((l) => [l.code, l.uses, l.target_type, l.state]), [[code, 1, 'community', 'live']]);
  });

  it('group create prints the id of a group its owner can invite to', async () => {
    const r = await run('group', 'create', '--owner', owner.userId, '--name', 'Night shift');
    assert.equal(r.code, 0, r.stderr);
    const { group_id } = r.lines[0] as { group_id: string };
    assert.match(group_id, DECIMAL_ID);
    const code = await createInvite(owner, groupRef(group_id));
    await friend.client.call('auth_use_invite', { code });
    const list = await run('group', 'list', '--owner', owner.userId);
    assert.deepEqual(list.lines.map((l) => [l.group_id, l.name, (l.participant_ids as string[]).sort()]), [
      [group_id, 'Night shift', [owner.userId, friend.userId].sort()],
    ]);
  });

  it('user show prints communities, groups, friends and sessions as decimal-string ids', async () => {
    const user = await guest(gw, 'Shown User');
    const community = (await run('community', 'create', '--owner', user.userId, '--name', 'Own place')).lines[0]!.community_id as string;
    const group = (await run('group', 'create', '--owner', user.userId, '--name', 'Own group')).lines[0]!.group_id as string;
    await friend.client.call('auth_use_invite', { code: await createInvite(user, selfRef()) });
    const sessions = (await user.client.call('auth_get_sessions', {})).sessions!;

    const r = await run('user', 'show', user.userId);
    assert.equal(r.code, 0, r.stderr);
    const shown = r.lines[0] as { id: string; name: string; communities: string[]; groups: string[]; friends: string[]; sessions: Array<{ id: string }> };
    assert.equal(shown.id, user.userId);
    assert.equal(shown.name, 'Shown User');
    assert.deepEqual(shown.communities, [community]);
    assert.deepEqual(shown.groups, [group]);
    assert.deepEqual(shown.friends, [friend.userId]);
    assert.deepEqual(shown.sessions.map((s) => s.id), [id(sessions.current)]);
  });

  it('invite delete stops a code at once', async () => {
    const code = await createInvite(owner, selfRef());
    const r = await run('invite', 'delete', code);
    assert.equal(r.code, 0, r.stderr);
    assertRpcError(await friend.client.request('auth_lookup_invite', { code }), ErrorCode.NOT_FOUND);
    const again = await run('invite', 'delete', code);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /no live invite/);
  });

  it('fails with a clear message on stderr and a non-zero exit, creating nothing', async () => {
    const unknownUser = gw.app.ids.next();
    const unknown = await run('community', 'create', '--owner', unknownUser, '--name', 'Ghost town');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, new RegExp(`unknown user id ${unknownUser}`));
    assert.equal(unknown.stdout, '');
    const groupUnknown = await run('group', 'create', '--owner', unknownUser, '--name', 'Ghosts');
    assert.equal(groupUnknown.code, 1);
    assert.match(groupUnknown.stderr, /unknown user id/);
    const showUnknown = await run('user', 'show', unknownUser);
    assert.equal(showUnknown.code, 1);
    assert.match(showUnknown.stderr, /unknown user id/);
    assert.equal((await run('community', 'list', '--owner', unknownUser)).lines.length, 0);

    const malformed = await run('user', 'show', 'abc');
    assert.equal(malformed.code, 2);
    assert.match(malformed.stderr, /userId must be a decimal id/);
    const missingName = await run('group', 'create', '--owner', owner.userId);
    assert.equal(missingName.code, 2);
    assert.match(missingName.stderr, /--name is required/);
    // Options come from the usage text (node:util parseArgs): a misspelt one, or one without its value, is refused.
    const misspelt = await run('community', 'create', '--owner', owner.userId, '--nmae', 'Typo');
    assert.equal(misspelt.code, 2);
    assert.match(misspelt.stderr, /Unknown option '--nmae'[\s\S]*usage: npm run admin -- community create --owner <userId> --name <name>/);
    const valueless = await run('community', 'list', '--limit');
    assert.equal(valueless.code, 2);
    assert.match(valueless.stderr, /--limit/);
    const unknownCommand = await run('community', 'explode');
    assert.equal(unknownCommand.code, 2);
    assert.match(unknownCommand.stderr, /unknown command/);
  });
});
