/**
 * A local Redis Cluster of three masters (no replicas) from the `redis-server` binary, on free
 * ports, each in its own folder; slots assigned with `redis-cli --cluster create`. Stopped by PID.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { OwnRedisServer } from './redis-server.js';

const run = promisify(execFile);

export interface LocalCluster {
  readonly nodes: OwnRedisServer[];
  /** Seed URLs, comma-separated: what `url` takes with `cluster: true`. */
  readonly url: string;
  stop(): Promise<void>;
}

/** `password`: `requirepass` (and `masterauth`) on every node. */
export async function startCluster(masters = 3, password?: string): Promise<LocalCluster> {
  const nodes: OwnRedisServer[] = [];
  const auth = password ? ['--requirepass', password, '--masterauth', password] : [];
  try {
    for (let i = 0; i < masters; i++) {
      nodes.push(await OwnRedisServer.start({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000', ...auth] }));
    }
    await run('redis-cli', [...(password ? ['-a', password, '--no-auth-warning'] : []), '--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: 60_000 });
    const deadline = Date.now() + 30_000;
    for (const node of nodes) {
      const r = new Redis({ port: node.port, host: '127.0.0.1', ...(password ? { password } : {}) });
      try {
        while (!String(await r.cluster('INFO')).includes('cluster_state:ok')) {
          if (Date.now() > deadline) throw new Error(`cluster node ${node.port} not ok within 30 s`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      } finally {
        r.disconnect();
      }
    }
  } catch (error) {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    throw error;
  }
  return {
    nodes,
    url: nodes.map((n) => n.url).join(','),
    stop: async () => void (await Promise.allSettled(nodes.map((n) => n.stop()))),
  };
}

/** Keys per master (DBSIZE of each node). */
export async function keysPerNode(cluster: LocalCluster): Promise<number[]> {
  const out: number[] = [];
  for (const node of cluster.nodes) {
    const r = new Redis(node.port, '127.0.0.1');
    out.push(Number(await r.dbsize()));
    r.disconnect();
  }
  return out;
}
