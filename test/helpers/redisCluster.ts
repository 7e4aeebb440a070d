/**
 * Redis Cluster for tests (3 masters + 3 replicas on loopback, Redis 7).
 *
 *   const shared = sharedRedisCluster();   // the one `npm test` started (TEST_REDIS_CLUSTER_NODES)
 *   const own = await startRedisCluster(); // one of this test's own
 *   const [master] = await own.masters();
 *   await own.kill(master);                // SIGKILL, as a crash
 *   const promoted = await own.waitForFailover(master); // its replica, now serving its slots
 *   own.stop();
 *
 * Every test file of the run uses the shared cluster at the same time: never
 * kill or reconfigure its nodes, and keep keys under a prefix of your own.
 * A test that breaks nodes starts its own cluster (about 2-3 s).
 * Nodes detect a dead peer after 2 s (`cluster-node-timeout 2000`), so a
 * failover completes a few seconds after a kill.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis, type ClusterOptions } from 'ioredis';
import { startRedisCluster as startClusterServers } from '../../scripts/stack.mjs';
import { eventually } from './eventually.js';

export interface ClusterNode {
  id: string;
  host: string;
  port: number;
  role: 'master' | 'replica';
  /** The master's id, for a replica. */
  masterId: string | null;
  /** Slot ranges served, as CLUSTER NODES prints them ("0-5460"). */
  slots: string[];
  /** Marked failed (or possibly failed) by the node that was asked. */
  failed: boolean;
}

/** Parses CLUSTER NODES. */
function parseNodes(text: string): ClusterNode[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [id, address, flags, master, , , , , ...slots] = line.split(' ');
      const [hostPort] = address!.split('@');
      const cut = hostPort!.lastIndexOf(':');
      const flagList = flags!.split(',');
      return {
        id: id!,
        host: hostPort!.slice(0, cut),
        port: Number(hostPort!.slice(cut + 1)),
        role: flagList.includes('master') ? 'master' : 'replica',
        masterId: master === '-' ? null : master!,
        slots: slots.filter((s) => !s.startsWith('[')), // [slot->-id] are migrations in progress
        failed: flagList.includes('fail') || flagList.includes('fail?'),
      } satisfies ClusterNode;
    });
}

/** One command to one node, on a connection of its own that gives up at once when the node is gone. */
async function ask(host: string, port: number, ...command: [string, ...string[]]): Promise<string> {
  const node = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2_000 });
  node.on('error', () => {});
  try {
    await node.connect();
    return String(await node.call(...command));
  } finally {
    node.disconnect();
  }
}

export class TestRedisCluster {
  private readonly killed = new Set<number>();

  constructor(
    /** Seed nodes as host:port. */
    readonly seeds: readonly string[],
    private readonly owned?: { stop(): void },
  ) {}

  private get live(): Array<{ host: string; port: number }> {
    return this.seeds
      .map((seed) => {
        const cut = seed.lastIndexOf(':');
        return { host: seed.slice(0, cut), port: Number(seed.slice(cut + 1)) };
      })
      .filter((n) => !this.killed.has(n.port));
  }

  /** An ioredis Cluster client on the seeds (close it with `quit()` or `disconnect()`). */
  client(options: ClusterOptions = {}): Cluster {
    return new Cluster(this.live, options);
  }

  /** The cluster as a live node sees it. */
  async nodes(): Promise<ClusterNode[]> {
    const [first] = this.live;
    if (!first) throw new Error('every node of the cluster was killed');
    return parseNodes(await ask(first.host, first.port, 'CLUSTER', 'NODES'));
  }

  /** Masters serving slots, not failed. */
  async masters(): Promise<ClusterNode[]> {
    return (await this.nodes()).filter((n) => n.role === 'master' && n.slots.length > 0 && !n.failed);
  }

  async replicas(): Promise<ClusterNode[]> {
    return (await this.nodes()).filter((n) => n.role === 'replica' && !n.failed);
  }

  /** The master serving a key now (`CLUSTER KEYSLOT`, then the slot ranges). */
  async masterFor(key: string): Promise<ClusterNode> {
    const [first] = this.live;
    const slot = Number(await ask(first!.host, first!.port, 'CLUSTER', 'KEYSLOT', key));
    const master = (await this.masters()).find((m) =>
      m.slots.some((range) => {
        const [from, to = from] = range.split('-').map(Number);
        return slot >= from! && slot <= to!;
      }),
    );
    if (!master) throw new Error(`no live master serves slot ${slot}`);
    return master;
  }

  /** `CLUSTER INFO` of one node, as key → value. */
  async info(port: number): Promise<Map<string, string>> {
    const text = await ask('127.0.0.1', port, 'CLUSTER', 'INFO');
    return new Map(text.trim().split(/\r?\n/).map((l) => l.split(':') as [string, string]));
  }

  /** Kills a node's process with SIGKILL (a crash: no goodbye to its peers). */
  async kill(node: ClusterNode | number): Promise<void> {
    const port = typeof node === 'number' ? node : node.port;
    const info = await ask('127.0.0.1', port, 'INFO', 'server');
    const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
    if (!pid) throw new Error(`no process_id in INFO of port ${port}`);
    this.killed.add(port);
    process.kill(pid, 'SIGKILL');
  }

  /**
   * Waits until the killed master's slots are served by one of its replicas
   * and every live node says `cluster_state:ok`; resolves with that replica,
   * now a master.
   */
  async waitForFailover(killed: ClusterNode, timeoutMs = 30_000): Promise<ClusterNode> {
    if (killed.role !== 'master' || !killed.slots.length) throw new Error('waitForFailover needs a master that served slots');
    return eventually(
      async () => {
        const nodes = await this.nodes();
        const promoted = nodes.find((n) => n.id !== killed.id && n.role === 'master' && !n.failed && n.slots.includes(killed.slots[0]!));
        if (!promoted) return undefined;
        for (const n of this.live) if ((await this.info(n.port)).get('cluster_state') !== 'ok') return undefined;
        return promoted;
      },
      { what: `a replica of ${killed.host}:${killed.port} to take over its slots (${killed.slots.join(' ')})`, timeoutMs },
    );
  }

  /** Stops a cluster this test started (the shared one is stopped by `npm test`). */
  stop(): void {
    this.owned?.stop();
  }
}

/** The cluster `npm test` started for the whole run. */
export function sharedRedisCluster(): TestRedisCluster {
  const nodes = process.env.TEST_REDIS_CLUSTER_NODES;
  if (!nodes) throw new Error('TEST_REDIS_CLUSTER_NODES is not set: run the tests with `npm test`, which starts the Redis Cluster');
  return new TestRedisCluster(nodes.split(','));
}

/** A cluster of this test's own, to break at will; `stop()` it after. */
export async function startRedisCluster(): Promise<TestRedisCluster> {
  const dir = mkdtempSync(join(process.env.TEST_STACK_DIR ?? tmpdir(), 'cluster-'));
  const servers = await startClusterServers(dir);
  return new TestRedisCluster(servers.nodes, {
    stop() {
      servers.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}
