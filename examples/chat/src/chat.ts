/**
 * What the chat example serves over the gateway's hop: six client methods
 * and the two group hooks. Requests arrive as the client's bytes; answers go
 * back as encoded results; everything other people should see goes out
 * through the gateway's push API.
 *
 * Chats are direct (`ChatRef.user`: the two users; `ChatRef.self` or your
 * own id: your saved messages) or groups (`ChatRef.group`). A ChatRef always
 * names the chat as its reader sees it: in a direct chat between A and B, A
 * reads `user: B` and B reads `user: A`.
 *
 * Users are the gateway's: the example stores only their ids and trusts the
 * ids a caller names (a real backend would check them against its own user
 * directory, and fill `users` in its answers).
 */
import type Long from 'long';
import {
  BackendError,
  idFromWire,
  idToWire,
  RPC_RESULT_FIELDS,
  type BackendHooks,
  type Caller,
  type GatewayApi,
  type MethodFunction,
  type Push,
} from 'osmium-auth-gateway/backend';
import type { Logger } from 'pino';
import { osmium } from './gen/osmium.js';
import type { ChatRow, ChatStore, Id, MessageRow } from './store.js';

const { chats, messages, types, updates } = osmium.client;

const HISTORY_DEFAULT = 50; // messages.GetHistory.limit: "Defaults to 50"
const HISTORY_MAX = 100;
const CHATS_DEFAULT = 50;
const CHATS_MAX = 100;
const MESSAGE_MAX_CHARS = 4000;
const GROUP_NAME_MAX_CHARS = 100;
const GROUP_MAX_INITIAL_MEMBERS = 100;

/** The chat a request names, resolved for its caller. */
type Target = { kind: 'direct'; peerId: Id } | { kind: 'group'; group: ChatRow };

/** Decodes a request's bytes, or answers 400 naming the message expected. */
function decode<T>(type: { decode(bytes: Uint8Array): T }, payload: Uint8Array, name: string): T {
  try {
    return type.decode(payload);
  } catch {
    throw new BackendError(400, `the request is not a ${name}`);
  }
}

/** An id field the client had to set: a snowflake, else 400 naming it. */
function requiredId(value: Long | null | undefined, field: string): Id {
  const id = idFromWire(value);
  if (id === '0' || BigInt(id) > 0x7fff_ffff_ffff_ffffn) throw new BackendError(400, `${field} must be a user or chat id`);
  return id;
}

/** The client's optional id field, undefined when absent. */
const optionalId = (value: Long | null | undefined): Id | undefined => (value === null || value === undefined ? undefined : idFromWire(value));

/** The chat as `viewerId` names it. */
function chatRefFor(chat: ChatRow, viewerId: Id): osmium.client.refs.ChatRef.$Properties {
  if (chat.kind === 'group') return { group: { group_id: idToWire(chat.id) } };
  const peer = chat.memberIds.find((id) => id !== viewerId) ?? viewerId;
  return { user: { user_id: idToWire(peer) } };
}

/** The group as `viewerId` sees it (types.Group: `owner` is whether the viewer owns it). */
function groupFor(group: ChatRow, viewerId: Id): osmium.client.types.Group.$Properties {
  return { id: idToWire(group.id), name: group.name ?? '', owner: group.ownerId === viewerId, participant_ids: group.memberIds.map(idToWire) };
}

function messageFor(message: MessageRow, chat: ChatRow, viewerId: Id): osmium.client.types.Message.$Properties {
  return { chat_ref: chatRefFor(chat, viewerId), message_id: idToWire(message.id), author_id: idToWire(message.authorId), message: message.body };
}

const encodeUpdate = (update: osmium.client.updates.Update.$Properties) => updates.Update.encode(update).finish();

export interface ChatServiceOptions {
  store: ChatStore;
  gateway: GatewayApi;
  log: Logger;
}

/** The methods and hooks for createBackendHandler. */
export function chatService({ store, gateway, log }: ChatServiceOptions): {
  methods: Partial<Record<'messages_send_message' | 'messages_get_history' | 'chats_create_chat' | 'chats_get_chats' | 'chats_add_chat_member' | 'chats_set_typing', MethodFunction>>;
  hooks: BackendHooks;
} {
  /** Resolves a ChatRef for the caller: a direct chat (made or not yet) or a group they are in. */
  async function target(ref: osmium.client.refs.ChatRef | null | undefined, caller: Caller): Promise<Target> {
    switch (ref?.ref) {
      case 'user':
        return { kind: 'direct', peerId: requiredId(ref.user?.user_id as Long | undefined, 'chat_ref.user.user_id') };
      case 'self':
        return { kind: 'direct', peerId: caller.userId };
      case 'group': {
        const group = await store.group(requiredId(ref.group?.group_id as Long | undefined, 'chat_ref.group.group_id'));
        // The same answer for a group that does not exist: outsiders learn nothing.
        if (!group?.memberIds.includes(caller.userId)) throw new BackendError(403, 'you are not a participant of that group');
        return { kind: 'group', group };
      }
      case 'channel':
        throw new BackendError(501, 'channels (communities) are not served by this backend');
      default:
        throw new BackendError(400, 'chat_ref is required');
    }
  }

  /** Publishes pushes; a failure is logged, never the caller's error: the change is stored, and delivery is at most once anyway. */
  async function publish(what: string, pushes: Push[]): Promise<void> {
    const wanted = pushes.filter((p) => (p.userIds?.length ?? 0) + (p.sessionIds?.length ?? 0) > 0);
    if (wanted.length === 0) return;
    try {
      if (wanted.length === 1) await gateway.push(wanted[0]!);
      else await gateway.pushBatch(wanted);
    } catch (err) {
      log.warn({ err, what }, 'push failed');
    }
  }

  /** UpdateGroup to every member (each sees their own `owner`), but not the acting session. */
  function groupPushes(group: ChatRow, excludeSession: Id | undefined): Push[] {
    const update = (viewerId: Id) => encodeUpdate({ group: { group: groupFor(group, viewerId) } });
    const others = group.memberIds.filter((id) => id !== group.ownerId);
    const excludeSessions = excludeSession ? [excludeSession] : [];
    return [
      { update: update(group.ownerId!), userIds: [group.ownerId!], excludeSessions },
      // Anyone but the owner reads owner: false, so one push serves them all.
      { update: update(others[0] ?? '0'), userIds: others, excludeSessions },
    ];
  }

  const methods = {
    async messages_send_message(payload, { caller }) {
      const request = decode(messages.SendMessage, payload, 'messages.SendMessage');
      const body = request.message.trim();
      if (!body) throw new BackendError(400, 'message must not be empty');
      if (body.length > MESSAGE_MAX_CHARS) throw new BackendError(400, `message is over ${MESSAGE_MAX_CHARS} characters`);
      const to = await target(request.chat_ref as osmium.client.refs.ChatRef, caller);
      const chat = to.kind === 'group' ? to.group : await store.openDirectChat(caller.userId, to.peerId);
      const clientId = optionalId(request.client_id);
      const { message, created } = await store.addMessage(chat.id, caller.userId, body, clientId);
      if (created) {
        // Everyone in the chat, and the sender's other sessions; the sending session has its SentMessage
        // (the official SDK uses only that, and does no reconciliation of an echo). In a direct chat each
        // side reads the other as the chat, so each side gets its own push.
        const created = (viewerId: Id) =>
          encodeUpdate({ message_created: { message: messageFor(message, chat, viewerId), channel_unread_count: 0, client_id: clientId ? idToWire(clientId) : null } });
        const others = chat.memberIds.filter((id) => id !== caller.userId);
        await publish('message_created', [
          { update: created(caller.userId), userIds: [caller.userId], excludeSessions: [caller.sessionId] },
          ...(others.length ? [{ update: created(others[0]!), userIds: chat.kind === 'group' ? others : [others[0]!] }] : []),
        ]);
      }
      return { result: { field: RPC_RESULT_FIELDS.sent_message, bytes: messages.SentMessage.encode({ message_id: idToWire(message.id) }).finish() } };
    },

    async messages_get_history(payload, { caller }) {
      const request = decode(messages.GetHistory, payload, 'messages.GetHistory');
      const to = await target(request.chat_ref as osmium.client.refs.ChatRef, caller);
      const chat = to.kind === 'group' ? to.group : await store.directChat(caller.userId, to.peerId);
      const limit = Math.min(request.limit || HISTORY_DEFAULT, HISTORY_MAX);
      const offset = request.offset ? { [request.offset]: idFromWire(request[request.offset] as Long) } : {};
      const page = chat ? await store.history(chat.id, limit, offset) : [];
      const answer = messages.Messages.encode({ messages: page.map((m) => messageFor(m, chat!, caller.userId)) }).finish();
      return { result: { field: RPC_RESULT_FIELDS.messages, bytes: answer } };
    },

    async chats_create_chat(payload, { caller }) {
      const request = decode(chats.CreateChat, payload, 'chats.CreateChat');
      const name = request.name.trim();
      if (!name) throw new BackendError(400, 'name must not be empty');
      if (name.length > GROUP_NAME_MAX_CHARS) throw new BackendError(400, `name is over ${GROUP_NAME_MAX_CHARS} characters`);
      const memberIds = [...new Set(request.users.map((u, i) => requiredId(u.user_id as Long, `users[${i}].user_id`)))].filter((id) => id !== caller.userId);
      if (memberIds.length > GROUP_MAX_INITIAL_MEMBERS) throw new BackendError(400, `users: at most ${GROUP_MAX_INITIAL_MEMBERS}`);
      const group = await store.createGroup(caller.userId, name, memberIds);
      await publish('group', groupPushes(group, caller.sessionId));
      return { result: { field: RPC_RESULT_FIELDS.group, bytes: types.Group.encode(groupFor(group, caller.userId)).finish() } };
    },

    async chats_get_chats(payload, { caller }) {
      const request = decode(chats.GetChats, payload, 'chats.GetChats');
      const limit = Math.min(request.limit || CHATS_DEFAULT, CHATS_MAX);
      const rows = await store.chatsOf(caller.userId, limit, optionalId(request.max_id), optionalId(request.min_id));
      const answer = chats.Chats.encode({
        chats: rows.map((chat) => ({ chat_ref: chatRefFor(chat, caller.userId), last_message_id: idToWire(chat.lastMessageId) })),
        groups: rows.filter((chat) => chat.kind === 'group').map((group) => groupFor(group, caller.userId)),
        messages: rows.flatMap((chat) => (chat.lastMessage ? [messageFor(chat.lastMessage, chat, caller.userId)] : [])),
      }).finish();
      return { result: { field: RPC_RESULT_FIELDS.chats, bytes: answer } };
    },

    async chats_add_chat_member(payload, { caller }) {
      const request = decode(chats.AddChatMember, payload, 'chats.AddChatMember');
      if (request.chat_ref?.ref !== 'group') throw new BackendError(400, 'chat_ref must name a group: only groups have members to add');
      const userId = requiredId(request.user_id, 'user_id');
      const to = await target(request.chat_ref as osmium.client.refs.ChatRef, caller);
      if (to.kind !== 'group') throw new BackendError(400, 'chat_ref must name a group');
      if (!(await store.addMember(to.group.id, userId))) throw new BackendError(409, 'already a participant of that group');
      await publish('group', groupPushes((await store.group(to.group.id))!, caller.sessionId));
      return undefined;
    },

    async chats_set_typing(payload, { caller }) {
      const request = decode(chats.SetTyping, payload, 'chats.SetTyping');
      const to = await target(request.chat_ref as osmium.client.refs.ChatRef, caller);
      // Ephemeral: nothing stored, and a direct chat need not exist yet.
      const readers = to.kind === 'group' ? to.group.memberIds.filter((id) => id !== caller.userId) : to.peerId === caller.userId ? [] : [to.peerId];
      const chatRef: osmium.client.refs.ChatRef.$Properties = to.kind === 'group' ? { group: { group_id: idToWire(to.group.id) } } : { user: { user_id: idToWire(caller.userId) } };
      const update = encodeUpdate({ chat_typing: { chat_ref: chatRef, user_id: idToWire(caller.userId), typing: request.typing, action: request.action ?? null } });
      await publish('chat_typing', [{ update, userIds: readers }]);
      return undefined;
    },
  } satisfies Record<string, MethodFunction>;

  const hooks: BackendHooks = {
    async groupMembership({ groupId, userId }) {
      const group = await store.group(groupId);
      if (!group) return { found: false };
      return {
        found: true,
        member: group.memberIds.includes(userId),
        owner: group.ownerId === userId,
        group: types.Group.encode(groupFor(group, userId)).finish(),
      };
    },

    async groupJoin({ groupId, userId }) {
      const existing = await store.group(groupId);
      if (!existing) throw new BackendError(404, 'that group no longer exists');
      const added = await store.addMember(groupId, userId);
      const group = (await store.group(groupId))!;
      // The gateway pushes nothing for groups it does not own: tell the members, the new one included, and
      // the joining socket too (auth.useInvite answers it `()`, no group: this push is how it learns the group).
      if (added) await publish('group', groupPushes(group, undefined));
      return { alreadyMember: !added, group: types.Group.encode(groupFor(group, userId)).finish() };
    },
  };

  return { methods, hooks };
}
