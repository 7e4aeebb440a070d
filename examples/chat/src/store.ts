/**
 * The chat example's Postgres queries (tables: ../migrations/). Ids are
 * decimal strings, as pg returns bigint columns.
 */
import type pg from 'pg';
import { inTransaction } from './db.js';

export type Id = string;

export interface ChatRow {
  id: Id;
  kind: 'direct' | 'group';
  /** Groups only. */
  name: string | null;
  ownerId: Id | null;
  lastMessageId: Id;
  /** Every member's user id, ascending. */
  memberIds: Id[];
}

export interface MessageRow {
  id: Id;
  chatId: Id;
  authorId: Id;
  body: string;
}

const KIND = { 1: 'direct', 2: 'group' } as const;

interface RawChat {
  id: string;
  kind: 1 | 2;
  name: string | null;
  owner_id: string | null;
  last_message_id: string;
  member_ids: string[];
}

const CHAT_COLUMNS = `c.id, c.kind, c.name, c.owner_id, c.last_message_id,
  ARRAY(SELECT m.user_id::text FROM chat_members m WHERE m.chat_id = c.id ORDER BY m.user_id) AS member_ids`;

const chatFrom = (r: RawChat): ChatRow => ({
  id: r.id,
  kind: KIND[r.kind],
  name: r.name,
  ownerId: r.owner_id,
  lastMessageId: r.last_message_id,
  memberIds: r.member_ids,
});

const messageFrom = (r: { id: string; chat_id: string; author_id: string; body: string }): MessageRow => ({
  id: r.id,
  chatId: r.chat_id,
  authorId: r.author_id,
  body: r.body,
});

/** The smaller id first, as a direct chat stores its two users. */
const pair = (a: Id, b: Id): [Id, Id] => (BigInt(a) <= BigInt(b) ? [a, b] : [b, a]);

export class ChatStore {
  constructor(private readonly pool: pg.Pool) {}

  /** A group by id, or undefined (also for a direct chat's id). */
  async group(groupId: Id): Promise<ChatRow | undefined> {
    const { rows } = await this.pool.query<RawChat>(`SELECT ${CHAT_COLUMNS} FROM chats c WHERE c.id = $1 AND c.kind = 2`, [groupId]);
    return rows[0] && chatFrom(rows[0]);
  }

  /** The direct chat of two users (the same user twice: their saved messages), or undefined before its first use. */
  async directChat(a: Id, b: Id): Promise<ChatRow | undefined> {
    const [low, high] = pair(a, b);
    const { rows } = await this.pool.query<RawChat>(`SELECT ${CHAT_COLUMNS} FROM chats c WHERE c.user_low = $1 AND c.user_high = $2`, [low, high]);
    return rows[0] && chatFrom(rows[0]);
  }

  /** The direct chat of two users, made on first use (two first messages at once make one chat). */
  async openDirectChat(a: Id, b: Id): Promise<ChatRow> {
    const [low, high] = pair(a, b);
    await inTransaction(this.pool, async (client) => {
      const made = await client.query<{ id: string }>(
        `INSERT INTO chats (kind, user_low, user_high, last_message_id) VALUES (1, $1, $2, 0)
         ON CONFLICT (user_low, user_high) DO NOTHING RETURNING id`,
        [low, high],
      );
      if (made.rows[0]) {
        const id = made.rows[0].id;
        await client.query('UPDATE chats SET last_message_id = id WHERE id = $1', [id]);
        await client.query('INSERT INTO chat_members (chat_id, user_id) SELECT $1, u FROM unnest($2::bigint[]) u ON CONFLICT DO NOTHING', [id, [low, high]]);
      }
    });
    return (await this.directChat(low, high))!;
  }

  /** A new group owned by `ownerId`, with the owner and `memberIds` in it. */
  async createGroup(ownerId: Id, name: string, memberIds: Id[]): Promise<ChatRow> {
    const id = await inTransaction(this.pool, async (client) => {
      const { rows } = await client.query<{ id: string }>(
        `INSERT INTO chats (kind, name, owner_id, last_message_id) VALUES (2, $1, $2, 0) RETURNING id`,
        [name, ownerId],
      );
      const made = rows[0]!.id;
      await client.query('UPDATE chats SET last_message_id = id WHERE id = $1', [made]);
      await client.query('INSERT INTO chat_members (chat_id, user_id) SELECT $1, u FROM unnest($2::bigint[]) u ON CONFLICT DO NOTHING', [made, [ownerId, ...memberIds]]);
      return made;
    });
    return (await this.group(id))!;
  }

  /** Adds a member; false when they already were one. */
  async addMember(chatId: Id, userId: Id): Promise<boolean> {
    const { rowCount } = await this.pool.query('INSERT INTO chat_members (chat_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [chatId, userId]);
    return rowCount === 1;
  }

  /**
   * Stores a message and makes it the chat's last. With a client id already
   * used by this author in this chat, stores nothing and returns that message
   * (`created` false): a client's resend after a lost answer is not a second
   * message.
   */
  async addMessage(chatId: Id, authorId: Id, body: string, clientId: Id | undefined): Promise<{ message: MessageRow; created: boolean }> {
    return inTransaction(this.pool, async (client) => {
      const inserted = await client.query<{ id: string; chat_id: string; author_id: string; body: string }>(
        `INSERT INTO messages (chat_id, author_id, body, client_id) VALUES ($1, $2, $3, $4)
         ON CONFLICT (chat_id, author_id, client_id) WHERE client_id IS NOT NULL DO NOTHING
         RETURNING id, chat_id, author_id, body`,
        [chatId, authorId, body, clientId ?? null],
      );
      if (inserted.rows[0]) {
        await client.query('UPDATE chats SET last_message_id = GREATEST(last_message_id, $2) WHERE id = $1', [chatId, inserted.rows[0].id]);
        return { message: messageFrom(inserted.rows[0]), created: true };
      }
      const { rows } = await client.query<{ id: string; chat_id: string; author_id: string; body: string }>(
        'SELECT id, chat_id, author_id, body FROM messages WHERE chat_id = $1 AND author_id = $2 AND client_id = $3',
        [chatId, authorId, clientId],
      );
      return { message: messageFrom(rows[0]!), created: false };
    });
  }

  /**
   * A page of a chat's messages, oldest first: the latest `limit`; or the
   * first `limit` after `since`; or the last `limit` before `before`; or
   * around `around` (half before it, half from it on).
   */
  async history(chatId: Id, limit: number, offset: { since?: Id; before?: Id; around?: Id }): Promise<MessageRow[]> {
    const page = async (order: 'ASC' | 'DESC', bound: { op: '>' | '<' | '>='; id: Id } | undefined, count: number) => {
      const { rows } = await this.pool.query<{ id: string; chat_id: string; author_id: string; body: string }>(
        `SELECT id, chat_id, author_id, body FROM messages WHERE chat_id = $1 ${bound ? `AND id ${bound.op} $3` : ''} ORDER BY id ${order} LIMIT $2`,
        bound ? [chatId, count, bound.id] : [chatId, count],
      );
      const messages = rows.map(messageFrom);
      return order === 'DESC' ? messages.reverse() : messages;
    };
    if (offset.since !== undefined) return page('ASC', { op: '>', id: offset.since }, limit);
    if (offset.before !== undefined) return page('DESC', { op: '<', id: offset.before }, limit);
    if (offset.around !== undefined) {
      const half = Math.max(1, Math.floor(limit / 2));
      return [...(await page('DESC', { op: '<', id: offset.around }, half)), ...(await page('ASC', { op: '>=', id: offset.around }, limit - half))];
    }
    return page('DESC', undefined, limit);
  }

  /** A user's chats, the latest message first, with `last_message_id` below `maxId` / above `minId` when given. */
  async chatsOf(userId: Id, limit: number, maxId: Id | undefined, minId: Id | undefined): Promise<Array<ChatRow & { lastMessage: MessageRow | undefined }>> {
    const { rows } = await this.pool.query<RawChat & { m_id: string | null; m_author_id: string | null; m_body: string | null }>(
      `SELECT ${CHAT_COLUMNS}, lm.id AS m_id, lm.author_id AS m_author_id, lm.body AS m_body
         FROM chat_members me
         JOIN chats c ON c.id = me.chat_id
         LEFT JOIN messages lm ON lm.id = c.last_message_id
        WHERE me.user_id = $1 AND ($2::bigint IS NULL OR c.last_message_id < $2) AND ($3::bigint IS NULL OR c.last_message_id > $3)
        ORDER BY c.last_message_id DESC
        LIMIT $4`,
      [userId, maxId ?? null, minId ?? null, limit],
    );
    return rows.map((r) => ({
      ...chatFrom(r),
      lastMessage: r.m_id ? { id: r.m_id, chatId: r.id, authorId: r.m_author_id!, body: r.m_body! } : undefined,
    }));
  }
}
