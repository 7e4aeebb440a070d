/**
 * Broker over Redis pub/sub. Publishing uses the shared command connection;
 * subscribing needs a dedicated connection (a subscribed Redis connection
 * accepts no other commands).
 */
import type { Redis } from 'ioredis';
import type { Broker, BrokerHandler } from './broker.js';

export class RedisBroker implements Broker {
  private readonly handlers = new Map<string, BrokerHandler[]>();
  private readonly resyncHandlers: Array<(lostAt: number) => void> = [];
  /** When the subscriber connection was lost (Unix ms); null while connected. */
  private lostAt: number | null = null;

  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    private readonly prefix: string,
  ) {
    subscriber.on('message', (channel: string, message: string) => {
      const topic = channel.slice(this.prefix.length);
      for (const handler of this.handlers.get(topic) ?? []) handler(message);
    });
    subscriber.on('close', () => {
      this.lostAt ??= Date.now();
    });
    // ioredis re-subscribes by itself after a reconnect; whatever was published
    // meanwhile is gone, so let the owners reconcile with Postgres.
    subscriber.on('ready', () => {
      const lostAt = this.lostAt;
      if (lostAt === null) return;
      this.lostAt = null;
      for (const handler of this.resyncHandlers) handler(lostAt);
    });
  }

  async publish(topic: string, payload: string): Promise<number> {
    return this.publisher.publish(this.prefix + topic, payload);
  }

  async subscribe(topic: string, handler: BrokerHandler): Promise<void> {
    this.handlers.set(topic, [...(this.handlers.get(topic) ?? []), handler]);
    await this.subscriber.subscribe(this.prefix + topic);
  }

  async unsubscribe(topic: string): Promise<void> {
    this.handlers.delete(topic);
    await this.subscriber.unsubscribe(this.prefix + topic);
  }

  onResync(handler: (lostAt: number) => void): void {
    this.resyncHandlers.push(handler);
  }

  async close(): Promise<void> {
    this.subscriber.disconnect();
  }
}
