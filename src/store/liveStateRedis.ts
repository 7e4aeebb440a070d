/**
 * LiveState in Redis, shared by every instance; works the same on one Redis
 * node and on a Redis Cluster (ioredis `Redis` or `Cluster` client).
 *
 * Keys (all under REDIS_PREFIX), both tagged with the session id, so the two
 * keys of a session always live in one slot and may be written together:
 * - `s:{<sid>}`: `v|<user id>|<bot 0/1>|<device fingerprint>|<name>` for a
 *   valid session, `r` for a revocation tombstone;
 * - `la:{<sid>}`: last activity in Unix ms;
 * - `revocation-watermark`: how far the revocation log is tombstoned here
 *   (no TTL; see LiveState.readWatermark).
 * Every key has a TTL, so Redis holds only sessions used within the idle
 * window. Writes that could race a revocation run as one Lua script on one
 * key, so a tombstone is never overwritten by a stale "valid"; every command
 * touches the keys of one session only (no CROSSSLOT on a cluster), and
 * batches are single commands sent at once (ioredis pipelines them per node).
 */
import type { Cluster, Redis } from 'ioredis';
import type { Id } from '../domain/ids.js';
import type { CachedSession, ConnectionListener, LiveState, LiveStateTtls, SessionEntry } from './liveState.js';

/** A single Redis node or a cluster: same commands. */
export type RedisClient = Redis | Cluster;

const TOMBSTONE = 'r';
const VALID = 'v';

/** Lua scripts, each on the keys of one session. */
const SCRIPTS = {
  /** SET unless the key holds a tombstone. */
  osmCacheSession: {
    numberOfKeys: 1,
    lua: `if redis.call('GET', KEYS[1]) == 'r' then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1`,
  },
  /** Tombstone the session and forget its activity. */
  osmRevokeSession: {
    numberOfKeys: 2,
    lua: `redis.call('SET', KEYS[1], 'r', 'PX', ARGV[1]) redis.call('DEL', KEYS[2]) return 1`,
  },
  /** DEL unless the key holds a tombstone. */
  osmForgetSession: {
    numberOfKeys: 1,
    lua: `local v = redis.call('GET', KEYS[1]) if v and v ~= 'r' then redis.call('DEL', KEYS[1]) end return 1`,
  },
  /**
   * A session's entry, its life extended: a tombstone's by ARGV[4], a valid
   * entry's by ARGV[1], and then, when ARGV[2] is not 0, the entry's activity
   * raised to ARGV[2] as osmTouch does (life ARGV[3]).
   */
  osmReadSession: {
    numberOfKeys: 2,
    lua: `local v = redis.call('GET', KEYS[1])
if not v then return false end
if v == 'r' then redis.call('PEXPIRE', KEYS[1], ARGV[4]) return v end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
local at = tonumber(ARGV[2])
if at > 0 then
  local cur = tonumber(redis.call('GET', KEYS[2]))
  if cur == nil or cur < at then redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  else redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
end
return v`,
  },
  /** Raise the watermark to ARGV[1], a decimal integer compared exactly (by length, then digits). */
  osmRaiseWatermark: {
    numberOfKeys: 1,
    lua: `local cur = redis.call('GET', KEYS[1])
if cur and (#cur > #ARGV[1] or (#cur == #ARGV[1] and cur >= ARGV[1])) then return 0 end
redis.call('SET', KEYS[1], ARGV[1]) return 1`,
  },
  /** Raise the activity to ARGV[1] (never lower it) and extend its life. */
  osmTouch: {
    numberOfKeys: 1,
    lua: `local cur = tonumber(redis.call('GET', KEYS[1]))
if cur == nil or cur < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 1`,
  },
} as const;

interface ScriptCommands {
  osmCacheSession(key: string, value: string, ttlMs: number): Promise<number>;
  osmRevokeSession(sessionKey: string, activityKey: string, ttlMs: number): Promise<number>;
  osmForgetSession(key: string): Promise<number>;
  osmTouch(key: string, at: number, ttlMs: number): Promise<number>;
  osmRaiseWatermark(key: string, horizon: string): Promise<number>;
  osmReadSession(sessionKey: string, activityKey: string, entryTtlMs: number, activeAt: number, activityTtlMs: number, tombstoneTtlMs: number): Promise<string | null>;
}

export function encodeEntry(entry: SessionEntry): string {
  return `${VALID}|${entry.userId}|${entry.bot ? 1 : 0}|${encodeDevice(entry)}|${entry.name}`;
}

/**
 * The device slot: the fingerprint, and when known `.<1|0 verified>.<base64url JSON of the device>`
 * (no '|' in either). An older release reads the whole slot as a fingerprint that differs from the
 * device it is told, and records the device again (a no-op UPDATE): nothing breaks in a rolling upgrade.
 */
function encodeDevice(entry: SessionEntry): string {
  if (entry.emailVerified === undefined || !entry.deviceInfo) return entry.device;
  const d = entry.deviceInfo;
  const json = Buffer.from(JSON.stringify([d.clientId, d.deviceType, d.deviceVersion, d.appVersion])).toString('base64url');
  return `${entry.device}.${entry.emailVerified ? 1 : 0}.${json}`;
}

function decodeDevice(slot: string): Pick<SessionEntry, 'device' | 'emailVerified' | 'deviceInfo'> {
  const [device, verified, json] = slot.split('.');
  if (verified === undefined || json === undefined) return { device: slot };
  try {
    const [clientId, deviceType, deviceVersion, appVersion] = JSON.parse(Buffer.from(json, 'base64url').toString('utf8')) as [number, string, string, string];
    return { device: device!, emailVerified: verified === '1', deviceInfo: { clientId, deviceType, deviceVersion, appVersion } };
  } catch {
    return { device: device! };
  }
}

/** The entry in a stored value; null for anything that is not one (treated as a miss). */
export function decodeEntry(value: string): SessionEntry | null {
  // The name comes last: it may contain '|'.
  const a = value.indexOf('|');
  const b = value.indexOf('|', a + 1);
  const c = value.indexOf('|', b + 1);
  const d = value.indexOf('|', c + 1);
  if (value.slice(0, a) !== VALID || d < 0) return null;
  return { userId: value.slice(a + 1, b), bot: value.slice(b + 1, c) === '1', ...decodeDevice(value.slice(c + 1, d)), name: value.slice(d + 1) };
}

export class RedisLiveState implements LiveState {
  private readonly scripts: RedisClient & ScriptCommands;

  constructor(
    redis: RedisClient,
    private readonly prefix: string,
    private readonly ttls: LiveStateTtls,
  ) {
    for (const [name, { numberOfKeys, lua }] of Object.entries(SCRIPTS)) {
      if (!(name in redis)) redis.defineCommand(name, { numberOfKeys, lua });
    }
    this.scripts = redis as RedisClient & ScriptCommands;
  }

  private sessionKey(id: Id): string {
    return `${this.prefix}s:{${id}}`;
  }

  private activityKey(id: Id): string {
    return `${this.prefix}la:{${id}}`;
  }

  async readSession(sessionId: Id, activeAt?: number): Promise<CachedSession> {
    // A tombstone's life is extended too: a revoked token presented again and again stays refused from Redis.
    const value = await this.scripts.osmReadSession(
      this.sessionKey(sessionId),
      this.activityKey(sessionId),
      this.ttls.entryMs,
      activeAt ?? 0,
      this.ttls.activityMs,
      this.ttls.tombstoneMs,
    );
    if (value === null) return { state: 'unknown' };
    if (value === TOMBSTONE) return { state: 'revoked' };
    const entry = decodeEntry(value);
    return entry ? { state: 'valid', entry } : { state: 'unknown' };
  }

  async cacheSession(sessionId: Id, entry: SessionEntry): Promise<void> {
    await this.scripts.osmCacheSession(this.sessionKey(sessionId), encodeEntry(entry), this.ttls.entryMs);
  }

  async markRevoked(sessionIds: readonly Id[]): Promise<void> {
    await Promise.all(sessionIds.map((id) => this.scripts.osmRevokeSession(this.sessionKey(id), this.activityKey(id), this.ttls.tombstoneMs)));
  }

  async forget(sessionIds: readonly Id[]): Promise<void> {
    await Promise.all(sessionIds.map((id) => this.scripts.osmForgetSession(this.sessionKey(id))));
  }

  async touch(activity: ReadonlyMap<Id, number>): Promise<void> {
    const writes: Array<Promise<unknown>> = [];
    for (const [id, at] of activity) writes.push(this.scripts.osmTouch(this.activityKey(id), at, this.ttls.activityMs));
    await Promise.all(writes);
  }

  async lastActive(sessionIds: readonly Id[]): Promise<Map<Id, number>> {
    const values = await Promise.all(sessionIds.map((id) => this.scripts.get(this.activityKey(id))));
    const out = new Map<Id, number>();
    sessionIds.forEach((id, i) => {
      const value = values[i];
      if (value) out.set(id, Number(value));
    });
    return out;
  }

  async readWatermark(): Promise<string | null> {
    return this.scripts.get(`${this.prefix}revocation-watermark`);
  }

  async raiseWatermark(horizon: string): Promise<void> {
    await this.scripts.osmRaiseWatermark(`${this.prefix}revocation-watermark`, horizon);
  }

  /**
   * One node: its connection closing and becoming ready again. A cluster:
   * any node's connection failing, and the cluster being ready or a node
   * (re)joining; a doubt raised for the whole store is cheap (Postgres
   * answers for a moment) where a missed one is not.
   */
  onConnection(listener: ConnectionListener): void {
    const client = this.scripts as RedisClient;
    const lostEvents = 'nodes' in client ? ['node error', '-node', 'close'] : ['close', 'end'];
    const restoredEvents = 'nodes' in client ? ['ready', '+node'] : ['ready'];
    for (const event of lostEvents) client.on(event, () => listener.lost());
    for (const event of restoredEvents) client.on(event, () => listener.restored());
  }

  async ping(): Promise<void> {
    await this.scripts.ping();
  }

  async close(): Promise<void> {
    this.scripts.disconnect();
  }
}
