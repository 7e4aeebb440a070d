/**
 * GET /v1/events?after=<id>&limit=<n> on the internal API: the account events
 * as a feed, for a service that was down longer than the webhook retries or
 * that prefers to pull (docs/events.md, "The feed"). Ids increase in the
 * order events became visible: continuing after the last id seen never skips
 * one. Answers `{"events": [...], "next_after": "<id>"}`.
 */
import { isSnowflake } from '../../domain/ids.js';
import { FEED_MAX_LIMIT, type EventFeed } from '../../services/eventFeed.js';
import { ApiError, type ApiListener } from '../apiListener.js';

const DEFAULT_LIMIT = 100;

export function registerEvents(api: ApiListener, feed: Pick<EventFeed, 'after'>): void {
  api.route('GET', '/v1/events', async (req) => {
    const after = req.query.get('after') ?? '0';
    if (after !== '0' && !isSnowflake(after)) throw new ApiError(400, 'after must be an event id (a decimal string) or 0');
    const limitParam = req.query.get('limit');
    const limit = limitParam === null ? DEFAULT_LIMIT : Number(limitParam);
    if (!Number.isInteger(limit) || limit < 1 || limit > FEED_MAX_LIMIT) throw new ApiError(400, `limit must be an integer from 1 to ${FEED_MAX_LIMIT}`);
    const events = await feed.after(after, limit);
    return { status: 200, json: { events, next_after: events.length ? events[events.length - 1]!.id : after } };
  });
}
