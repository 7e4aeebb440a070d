/**
 * Broker over a Redis Cluster's sharded pub/sub (SPUBLISH / SSUBSCRIBE,
 * Redis 7). Classic PUBLISH on a cluster is broadcast over the cluster bus to
 * every node, so its cost grows with the cluster; a sharded channel lives on
 * the one shard that owns its slot (master and replicas), and only that shard
 * carries its messages. Each topic is one channel: revocations are rare next
 * to Authorizes, so one shard carries them easily (docs/capacity.md says when
 * that would change). ioredis re-subscribes after a failover or a resharding;
 * messages published meanwhile are lost, so resync handlers reconcile with
 * Postgres, as with one Redis node.
 */
import type { Cluster } from 'ioredis';
import type { Broker, BrokerHandler } from './broker.js';

export class RedisClusterBroker implements Broker {
  private readonly handlers = new Map<string, BrokerHandler[]>();
  private readonly resyncHandlers: Array<(lostAt: number) => void> = [];
  /** When a shard subscriber was lost (Unix ms); null while all are connected. */
  private lostAt: number | null = null;

  constructor(
    private readonly publisher: Cluster,
    /** A Cluster client made with `shardedSubscribers: true`. */
    private readonly subscriber: Cluster,
    private readonly prefix: string,
  ) {
    subscriber.on('smessage', (channel: string, message: string) => {
      const topic = channel.slice(this.prefix.length);
      for (const handler of this.handlers.get(topic) ?? []) handler(message);
    });
    subscriber.on('-subscriber', () => {
      this.lostAt ??= Date.now();
    });
    subscriber.on('+subscriber', () => this.resynced());
    subscriber.on('subscribersReady', () => this.resynced());
  }

  async publish(topic: string, payload: string): Promise<number> {
    return (await this.publisher.spublish(this.prefix + topic, payload)) as number;
  }

  async subscribe(topic: string, handler: BrokerHandler): Promise<void> {
    this.handlers.set(topic, [...(this.handlers.get(topic) ?? []), handler]);
    await this.subscriber.ssubscribe(this.prefix + topic);
  }

  async unsubscribe(topic: string): Promise<void> {
    this.handlers.delete(topic);
    await this.subscriber.sunsubscribe(this.prefix + topic);
  }

  onResync(handler: (lostAt: number) => void): void {
    this.resyncHandlers.push(handler);
  }

  async close(): Promise<void> {
    this.subscriber.disconnect();
  }

  private resynced(): void {
    const lostAt = this.lostAt;
    if (lostAt === null) return;
    this.lostAt = null;
    for (const handler of this.resyncHandlers) handler(lostAt);
  }
}
