/** Types of scripts/stack.mjs (throwaway Postgres and Redis for tests and the benchmark). */
export interface Stack {
  dir: string;
  databaseUrl: string;
  redisUrl: string;
  redisPort: number;
  stop(): void;
}
export function startStack(): Promise<Stack>;
export function startRedis(dir: string, port?: number): Promise<{ port: number; url: string; stop(): void }>;
export function freePort(): Promise<number>;
