/** Conversions from records to protocol messages. */
import type { osmium } from '../gen/osmium.js';
import { idToWire } from '../protocol/codec.js';
import type { UserRecord } from '../store/usersRepo.js';

export function userView(user: Pick<UserRecord, 'id' | 'name'>): osmium.client.types.User.$Properties {
  return { id: idToWire(user.id), name: user.name, bot: false };
}
