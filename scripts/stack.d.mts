/** Types of scripts/stack.mjs (throwaway Postgres, Redis, Redis Cluster, PgBouncer). */
export interface RedisServer {
  port: number;
  url: string;
  stop(): void;
}
export interface RedisClusterServers {
  /** Seed nodes, host:port. */
  nodes: string[];
  ports: number[];
  dir: string;
  stop(): void;
}
export interface StackOptions {
  /** Also a Redis Cluster of 3 masters and 3 replicas. */
  redisCluster?: boolean;
  /** Also a PgBouncer (transaction pooling) in front of the Postgres. */
  pgbouncer?: boolean;
}
export interface Stack {
  dir: string;
  databaseUrl: string;
  redisUrl: string;
  redisPort: number;
  /** With `redisCluster`: seed nodes, host:port. */
  redisClusterNodes?: string[];
  /** With `pgbouncer`: a server URL like databaseUrl, through the bouncer. */
  pgbouncerUrl?: string;
  /** How long starting took. */
  startMs: number;
  stop(): void;
}
export function freePort(options?: { clusterBus?: boolean }): Promise<number>;
export function redisCli(port: number, ...args: string[]): Promise<string>;
export function createDatabase(serverUrl: string, prefix?: string): Promise<string>;
export function startRedis(dir: string, port?: number): Promise<RedisServer>;
export function startRedisCluster(dir: string, onStop?: (stop: () => void) => void): Promise<RedisClusterServers>;
export function startStack(options?: StackOptions): Promise<Stack>;
