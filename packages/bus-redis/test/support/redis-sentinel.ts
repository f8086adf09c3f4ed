/**
 * A local Sentinel setup from the `redis-server` binary: a master, one replica and three sentinels,
 * on free ports with their own folders, stopped by PID.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { OwnRedisServer, freePort } from './redis-server.js';

export interface LocalSentinel {
  master: OwnRedisServer;
  replica: OwnRedisServer;
  sentinels: OwnRedisServer[];
  /** `host:port,...` of the sentinels, what the `sentinels` option takes. */
  readonly sentinelList: string;
  readonly name: string;
  /** The port Sentinel names as master now. */
  masterPort(): Promise<number>;
  stop(): Promise<void>;
}

export interface SentinelAuth {
  /** `requirepass` (and `masterauth`) of the master and the replica; the sentinels' `auth-pass`. */
  password?: string;
  /** `requirepass` of the sentinels themselves. */
  sentinelPassword?: string;
}

export async function startSentinel(name = 'wwmaster', auth: SentinelAuth = {}): Promise<LocalSentinel> {
  const dataAuth = auth.password ? ['--requirepass', auth.password, '--masterauth', auth.password] : [];
  const master = await OwnRedisServer.start({ args: ['--appendfsync', 'always', ...dataAuth] });
  const replica = await OwnRedisServer.start({ args: ['--appendfsync', 'always', ...dataAuth, '--replicaof', '127.0.0.1', String(master.port)] });
  const sentinels: OwnRedisServer[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const server = await OwnRedisServer.start({ port, sentinelConfig: (dir) => {
      const file = join(dir, 'sentinel.conf');
      writeFileSync(file, [
        `port ${port}`,
        `bind 127.0.0.1`,
        `dir ${dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${master.port} 2`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 5000`,
        `sentinel parallel-syncs ${name} 1`,
        ...(auth.password ? [`sentinel auth-pass ${name} ${auth.password}`] : []),
        ...(auth.sentinelPassword ? [`requirepass ${auth.sentinelPassword}`, `sentinel sentinel-pass ${auth.sentinelPassword}`] : []),
        '',
      ].join('\n'));
      return file;
    } });
    sentinels.push(server);
  }
  const sentinelList = sentinels.map((s) => `127.0.0.1:${s.port}`).join(',');
  return {
    master,
    replica,
    sentinels,
    sentinelList,
    name,
    async masterPort() {
      const r = new Redis({ port: sentinels[0]!.port, host: '127.0.0.1', ...(auth.sentinelPassword ? { password: auth.sentinelPassword } : {}) });
      try {
        const [, port] = (await r.call('SENTINEL', 'get-master-addr-by-name', name)) as [string, string];
        return Number(port);
      } finally {
        r.disconnect();
      }
    },
    async stop() {
      await Promise.allSettled([...sentinels, replica, master].map((s) => s.stop()));
    },
  };
}
