/** The chat example's settings, from the environment, checked at start: a bad one stops it with one line naming it. */
import { z } from 'zod';

const secret = (what: string) => z.string({ error: `${what} is required` }).min(16, `${what} must be at least 16 characters`);

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8090),
  HOST: z.string().min(1).default('127.0.0.1'),
  /** Postgres; the example's tables go to DATABASE_SCHEMA there (the gateway's database will do). */
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, error: 'DATABASE_URL must be a postgres:// URL' }),
  DATABASE_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'DATABASE_SCHEMA must be a lowercase SQL identifier').default('chat_example'),
  /** The gateway's internal API (its API_HOST:API_PORT), for pushes. */
  GATEWAY_API_URL: z.url({ protocol: /^https?$/, error: 'GATEWAY_API_URL must be an http(s):// URL' }),
  /** One of the gateway's API_KEYS. */
  GATEWAY_API_KEY: secret('GATEWAY_API_KEY'),
  /** The gateway's BACKEND_SECRET: every call from it carries it. */
  BACKEND_SECRET: secret('BACKEND_SECRET'),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
});

export type ChatConfig = z.infer<typeof schema>;

/** Reads the settings; throws one Error naming every bad variable. */
export function loadChatConfig(env: NodeJS.ProcessEnv): ChatConfig {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  throw new Error(`bad settings: ${problems.join('; ')}`);
}
