/**
 * Bot accounts: programs that sign in with a token only (the Osmium SDK's
 * `client.login(token)`). A bot is a user with `bot = true`, owned by a
 * person; its token resumes one session that never idles out, through the
 * same Authorize as any token (same checks, same cache). Resetting the token
 * revokes the old session and opens a new one; deleting the bot removes it.
 * Both reach every gateway instance through Postgres (migrations 0007 and
 * 0010 notify them), so the operator's CLI needs no Redis, and live sockets
 * get `session_deleted` and close 4001 at once, whatever the mode.
 */
import { NO_DEVICE, NO_GEO } from '../domain/device.js';
import type { Id } from '../domain/ids.js';
import { ErrorCode, RpcError } from '../protocol/errorCodes.js';
import type { BotRecord, BotsRepo } from '../store/botsRepo.js';
import type { SessionsRepo } from '../store/sessionsRepo.js';
import type { SnowflakeGenerator } from './snowflake.js';
import type { TokenService } from './tokens.js';

export class BotService {
  private readonly bots: BotsRepo;
  private readonly sessions: SessionsRepo;
  private readonly tokens: TokenService;
  private readonly ids: SnowflakeGenerator;

  constructor(deps: { bots: BotsRepo; sessions: SessionsRepo; tokens: TokenService; ids: SnowflakeGenerator }) {
    ({ bots: this.bots, sessions: this.sessions, tokens: this.tokens, ids: this.ids } = deps);
  }

  /** Creates a bot owned by `ownerId` and its first token (shown once: only its session is stored). */
  async create(ownerId: Id, name: string): Promise<{ botId: Id; token: string }> {
    const botId = this.ids.next();
    await this.bots.insert({ id: botId, name, ownerId });
    return { botId, token: await this.openSession(botId) };
  }

  /** A new token for a bot; the old one stops at once, on every instance. */
  async resetToken(botId: Id): Promise<{ token: string }> {
    const bot = await this.require(botId);
    await this.sessions.revoke(botId, bot.sessionIds, 'bot_token_reset');
    return { token: await this.openSession(botId) };
  }

  /** Removes a bot: its token stops at once, on every instance. */
  async delete(botId: Id): Promise<void> {
    await this.require(botId);
    await this.bots.delete(botId);
  }

  /** A session for the bot and its token, signed with the newest key. */
  private async openSession(botId: Id): Promise<string> {
    const tokenKid = this.tokens.signingKid();
    const session = await this.sessions.insert({ id: this.ids.next(), userId: botId, device: NO_DEVICE, geo: NO_GEO, lastActive: Date.now(), tokenKid });
    if (!session) throw new RpcError(ErrorCode.NOT_FOUND, `bot ${botId} was deleted meanwhile`);
    return this.tokens.sign({ userId: botId, sessionId: session.id }, tokenKid);
  }

  list(options: { ownerId?: Id; limit: number }): Promise<BotRecord[]> {
    return this.bots.list(options);
  }

  private async require(botId: Id): Promise<BotRecord> {
    const bot = await this.bots.byId(botId);
    if (!bot) throw new RpcError(ErrorCode.NOT_FOUND, `no bot with id ${botId}`);
    return bot;
  }
}
