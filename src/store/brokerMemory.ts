/** In-process Broker for one process (the embedded mode): each handler runs in its own microtask, after publish returns. */
import type { Broker, BrokerHandler } from './broker.js';

export class MemoryBroker implements Broker {
  private readonly handlers = new Map<string, BrokerHandler[]>();

  async publish(topic: string, payload: string): Promise<number> {
    const handlers = this.handlers.get(topic) ?? [];
    for (const handler of handlers) queueMicrotask(() => handler(payload));
    // Receivers are instances (as Redis counts subscribed connections): this process is one.
    return handlers.length ? 1 : 0;
  }

  async subscribe(topic: string, handler: BrokerHandler): Promise<void> {
    this.handlers.set(topic, [...(this.handlers.get(topic) ?? []), handler]);
  }

  async unsubscribe(topic: string): Promise<void> {
    this.handlers.delete(topic);
  }

  onResync(): void {
    // Nothing is ever lost in one process.
  }

  async close(): Promise<void> {
    this.handlers.clear();
  }
}
