/** Types of scripts/stack.mjs (throwaway Postgres and Redis). */
export interface RedisServer {
  port: number;
  url: string;
  stop(): void;
}
export interface Stack {
  dir: string;
  databaseUrl: string;
  redisUrl: string;
  redisPort: number;
  stop(): void;
}
export function freePort(): Promise<number>;
export function createDatabase(serverUrl: string, prefix?: string): Promise<string>;
export function startRedis(dir: string, port?: number): Promise<RedisServer>;
export function startStack(): Promise<Stack>;
