/** Invites to a community, a group or a friendship (auth.InviteType). */
import type { Id } from './ids.js';

/** Values of auth.InviteType stored in `invites.target_type`. */
export const InviteTargetType = { COMMUNITY: 1, GROUP: 2, USER: 3 } as const;
export type InviteTargetTypeValue = (typeof InviteTargetType)[keyof typeof InviteTargetType];

export interface InviteTarget {
  type: InviteTargetTypeValue;
  id: Id;
}

export interface InviteRecord {
  code: string;
  creatorId: Id;
  target: InviteTarget;
  /** Unix ms, or null for never. */
  expiresAt: number | null;
  /** 0 = unlimited. */
  maxUses: number;
  uses: number;
  createdAt: Date;
  deletedAt: Date | null;
}

/** An invite with what a preview shows: its creator and its target. */
export interface InviteDetails extends InviteRecord {
  creatorName: string;
  /** The creator is a bot account (types.User.bot). */
  creatorBot: boolean;
  /** Set for COMMUNITY invites. */
  community: { id: Id; name: string; ownerId: Id } | null;
  /** Set for GROUP invites. */
  group: { id: Id; name: string; ownerId: Id; participantIds: Id[] } | null;
}
