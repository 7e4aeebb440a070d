/** Conversions from invite records to protocol messages. */
import type { osmium } from '../gen/osmium.js';
import type { Id } from '../domain/ids.js';
import { idToWire } from '../protocol/codec.js';
import { InviteTargetType, type InviteDetails } from '../domain/invite.js';
import type { GroupPreview } from '../services/groupDirectory.js';
import { userView } from './views.js';

type InvitePreviewInit = osmium.client.auth.InvitePreview.$Properties;

/**
 * An InvitePreview as `viewerId` sees it (null: not signed in). `owner` in
 * the community and group says whether the viewer owns the target. `group`:
 * a group invite's group as the group directory gave it (a chat backend's
 * group exists only there); null: the invite's own record.
 */
export function invitePreviewView(invite: InviteDetails, viewerId: Id | null, group: GroupPreview | null = null): InvitePreviewInit {
  const creator = userView({ id: invite.creatorId, name: invite.creatorName, bot: invite.creatorBot });
  const preview: InvitePreviewInit = {
    code: invite.code,
    creator_id: idToWire(invite.creatorId),
    target_id: idToWire(invite.target.id),
    target_type: invite.target.type,
    creator,
    ...(invite.expiresAt !== null ? { expires_at: idToWire(invite.expiresAt) } : {}),
  };
  if (invite.target.type === InviteTargetType.COMMUNITY && invite.community) {
    const c = invite.community;
    preview.community = { id: idToWire(c.id), name: c.name, owner: viewerId !== null && viewerId === c.ownerId, permissions: idToWire(0) };
  } else if (invite.target.type === InviteTargetType.GROUP && group) {
    preview.chat = {
      id: idToWire(group.id),
      name: group.name,
      owner: group.owner,
      participant_ids: group.participantIds.map((id) => idToWire(id)),
      ...(group.photo ? { photo: group.photo } : {}),
    };
  } else if (invite.target.type === InviteTargetType.GROUP && invite.group) {
    const g = invite.group;
    preview.chat = {
      id: idToWire(g.id),
      name: g.name,
      owner: viewerId !== null && viewerId === g.ownerId,
      participant_ids: g.participantIds.map((id) => idToWire(id)),
    };
  } else if (invite.target.type === InviteTargetType.USER) {
    preview.user = creator;
  }
  return preview;
}
