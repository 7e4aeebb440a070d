/**
 * Broker over Redis pub/sub. Publishing uses the shared command connection;
 * subscribing needs a dedicated connection (a subscribed Redis connection
 * accepts no other commands).
 */
import type { Redis } from 'ioredis';
import type { Broker, BrokerHandler } from './broker.js';

export class RedisBroker implements Broker {
  private readonly handlers = new Map<string, BrokerHandler[]>();
  private readonly resyncHandlers: Array<() => void> = [];
  private lostConnection = false;

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
      this.lostConnection = true;
    });
    // ioredis re-subscribes by itself after a reconnect; whatever was published
    // meanwhile is gone, so let the owners reconcile with Postgres.
    subscriber.on('ready', () => {
      if (!this.lostConnection) return;
      this.lostConnection = false;
      for (const handler of this.resyncHandlers) handler();
    });
  }

  async publish(topic: string, payload: string): Promise<void> {
    await this.publisher.publish(this.prefix + topic, payload);
  }

  async subscribe(topic: string, handler: BrokerHandler): Promise<void> {
    this.handlers.set(topic, [...(this.handlers.get(topic) ?? []), handler]);
    await this.subscriber.subscribe(this.prefix + topic);
  }

  onResync(handler: () => void): void {
    this.resyncHandlers.push(handler);
  }

  async close(): Promise<void> {
    this.subscriber.disconnect();
  }
}
