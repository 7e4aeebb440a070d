/**
 * The Redis connections of one gateway process: a command client (live state,
 * rate limits, publishing) and a subscriber (the broker), on one Redis node
 * (REDIS_URL) or on a Redis Cluster (REDIS_CLUSTER_NODES). Both fail fast
 * while disconnected, so callers fall back to Postgres instead of waiting.
 */
import { Cluster, Redis } from 'ioredis';
import type { RedisTarget } from '../config.js';
import type { Logger } from '../logger.js';
import type { Broker } from './broker.js';
import { RedisBroker } from './brokerRedis.js';
import { RedisClusterBroker } from './brokerRedisCluster.js';
import type { RedisClient } from './liveStateRedis.js';

export type RedisClients =
  | { kind: 'node'; commands: Redis; subscriber: Redis }
  | { kind: 'cluster'; commands: Cluster; subscriber: Cluster };


/** A command may wait this long before it fails and the caller falls back. */
const COMMAND_TIMEOUT_MS = 1_000;

export function connectRedis(target: RedisTarget, log: Logger, onError: (role: string) => void): RedisClients {
  if ('url' in target) {
    return {
      kind: 'node',
      commands: watch(new Redis(target.url, nodeOptions('commands')), 'commands', log, onError),
      subscriber: watch(new Redis(target.url, nodeOptions('subscriber')), 'subscriber', log, onError),
    };
  }
  const clusterOptions = (role: 'commands' | 'subscriber') => ({
    lazyConnect: true,
    // Commands fail at once while a slot has no reachable master (a failover): callers fall back to Postgres.
    enableOfflineQueue: role === 'subscriber',
    enableAutoPipelining: role === 'commands',
    // Sharded pub/sub (SSUBSCRIBE): each channel lives on the shard that owns its slot, re-subscribed after a failover.
    shardedSubscribers: role === 'subscriber',
    // A command to a master that just died is retried on the refreshed slot map this often, then fails
    // (ioredis's default, 16 tries 200 ms apart, held each such Authorize ~3 s before the Postgres fallback).
    retryDelayOnFailover: role === 'commands' ? 50 : 200,
    maxRedirections: role === 'commands' ? 3 : 16,
    clusterRetryStrategy: (times: number) => Math.min(100 * times, 2_000),
    redisOptions: {
      maxRetriesPerRequest: role === 'commands' ? 1 : null,
      commandTimeout: role === 'commands' ? COMMAND_TIMEOUT_MS : undefined,
    },
  });
  return {
    kind: 'cluster',
    commands: watch(new Cluster(target.clusterNodes, clusterOptions('commands')), 'commands', log, onError),
    subscriber: watch(new Cluster(target.clusterNodes, clusterOptions('subscriber')), 'subscriber', log, onError),
  };
}

/**
 * Resolves once the command connection is ready, or rejects after
 * `timeoutMs`: commands fail at once while it connects (no offline queue),
 * so a one-shot caller such as the admin CLI waits for it first.
 */
export function commandsReady(clients: RedisClients, timeoutMs = 5_000): Promise<void> {
  const client: RedisClient = clients.commands;
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('ready', ready);
      reject(new Error(`Redis was not ready within ${timeoutMs} ms`));
    }, timeoutMs);
    const ready = () => {
      clearTimeout(timer);
      resolve();
    };
    client.once('ready', ready);
  });
}

/** The broker on these connections: sharded pub/sub on a cluster, classic pub/sub on one node. */
export function redisBroker(clients: RedisClients, prefix: string): Broker {
  return clients.kind === 'cluster'
    ? new RedisClusterBroker(clients.commands, clients.subscriber, prefix)
    : new RedisBroker(clients.commands, clients.subscriber, prefix);
}

function nodeOptions(role: 'commands' | 'subscriber') {
  return {
    lazyConnect: true,
    enableOfflineQueue: role === 'subscriber',
    maxRetriesPerRequest: 1,
    commandTimeout: role === 'subscriber' ? undefined : COMMAND_TIMEOUT_MS,
    retryStrategy: (times: number) => Math.min(times * 100, 2_000),
    enableAutoPipelining: role === 'commands',
  };
}

/** Logs a lost and a restored connection once each, and counts every error. */
function watch<C extends RedisClient>(client: C, role: string, log: Logger, onError: (role: string) => void): C {
  let healthy = true;
  client.on('error', (err: Error) => {
    onError(role);
    if (healthy) log.warn({ err: err.message, role }, 'redis connection error');
    healthy = false;
  });
  client.on('ready', () => {
    if (!healthy) log.info({ role }, 'redis connection restored');
    healthy = true;
  });
  client.connect().catch(() => undefined);
  return client;
}
