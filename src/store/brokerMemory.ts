/** In-process Broker for one process (the embedded mode): each handler runs in its own microtask, after publish returns. */
import type { Broker, BrokerHandler } from './broker.js';

export class MemoryBroker implements Broker {
  private readonly handlers = new Map<string, BrokerHandler[]>();

  async publish(topic: string, payload: string): Promise<void> {
    for (const handler of this.handlers.get(topic) ?? []) queueMicrotask(() => handler(payload));
  }

  async subscribe(topic: string, handler: BrokerHandler): Promise<void> {
    this.handlers.set(topic, [...(this.handlers.get(topic) ?? []), handler]);
  }

  onResync(): void {
    // Nothing is ever lost in one process.
  }

  async close(): Promise<void> {
    this.handlers.clear();
  }
}
