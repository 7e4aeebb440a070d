/** The account events as a feed (GET /v1/events): numbered events after an id, oldest first. */
import type { AccountEvent } from '../domain/events.js';
import type { Id } from '../domain/ids.js';
import type { EventsRepo } from '../store/eventsRepo.js';

export const FEED_MAX_LIMIT = 1_000;

export class EventFeed {
  constructor(private readonly deps: { repo: Pick<EventsRepo, 'after'> }) {}

  /** Up to `limit` events whose id is greater than `after` ("0": from the oldest kept). */
  async after(after: Id, limit: number): Promise<AccountEvent[]> {
    const events = await this.deps.repo.after(after, Math.min(limit, FEED_MAX_LIMIT));
    return events.map(({ id, type, timestamp, data }) => ({ id, type, timestamp, data }));
  }
}
