/**
 * `admin events ...`: the outbox of account events (docs/events.md). `list`
 * shows them, `retry` sends failed ones again (a fresh WEBHOOK_RETRY_HOURS),
 * `replay` sends delivered and failed ones again, with their ids, for a
 * receiver that lost what it had. The running dispatcher picks them up.
 */
import { EventsRepo, type EventState } from '../store/eventsRepo.js';
import { requireFlag, UsageError, type AdminCommand, type ParsedArgs } from './command.js';
import { limitFlag, optionalIdFlag } from './commandSupport.js';

const STATES: readonly EventState[] = ['pending', 'delivered', 'failed'];

/** --since: an ISO 8601 time, or an age such as 30m, 24h, 7d. */
export function sinceFlag(args: ParsedArgs): Date {
  const value = requireFlag(args, 'since');
  const age = /^(\d+(?:\.\d+)?)([mhd])$/.exec(value);
  if (age) return new Date(Date.now() - Number(age[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[age[2] as 'm' | 'h' | 'd']);
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) throw new UsageError(`--since must be an ISO 8601 time or an age such as 24h or 7d, not ${value}`);
  return at;
}

export const eventCommands: Record<string, AdminCommand> = {
  list: {
    usage: 'list --since <time|24h> [--state pending|delivered|failed] [--limit N]',
    summary: 'account events written since then, oldest first, with their delivery state, attempts and last error',
    async run(args, ctx) {
      const state = args.flags.get('state') as EventState | undefined;
      if (state !== undefined && !STATES.includes(state)) throw new UsageError(`--state must be one of ${STATES.join(', ')}`);
      const events = await new EventsRepo(ctx.db).list({ since: sinceFlag(args), state, limit: limitFlag(args) });
      for (const e of events) {
        ctx.print({
          id: e.id, type: e.type, user_id: e.userId, timestamp: e.timestamp, state: e.state, attempts: e.attempts,
          next_attempt_at: e.state === 'pending' ? e.nextAttemptAt.toISOString() : null, delivered_at: e.deliveredAt?.toISOString() ?? null,
          last_error: e.lastError, data: e.data,
        });
      }
    },
  },
  retry: {
    usage: 'retry --since <time|24h> [--id <eventId>]',
    summary: 'send failed events again (due now, with a fresh retry period); prints how many',
    async run(args, ctx) {
      const retried = await new EventsRepo(ctx.db).retry({ since: sinceFlag(args), id: optionalIdFlag(args, 'id') });
      ctx.print({ retried });
    },
  },
  replay: {
    usage: 'replay --since <time|24h>',
    summary: 'send every delivered or failed event since then again, same ids (receivers deduplicate on webhook-id); prints how many',
    async run(args, ctx) {
      ctx.print({ replayed: await new EventsRepo(ctx.db).replay({ since: sinceFlag(args) }) });
    },
  },
};
