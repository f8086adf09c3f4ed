/**
 * The Redis backend as the fault runner sees it: a `redis-server` of its own per scenario (own
 * port, own folder under the OS tmpdir, AOF on with `appendfsync always` unless
 * WOODWORK_FAULTS_REDIS_FSYNC says `everysec`; stopped by PID), stored copies counted from every
 * partition stream, and an undecodable entry (it fails core's wire validation) written straight to
 * a partition.
 */
import { createConnection } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { BusHarness, OwnServer } from '@woodwork/bus-conformance/harness';
import { RedisMessageBus, eventsKey, layoutFor } from '@woodwork/bus-redis';
import { findBinary, startServerProcess } from './server-process.js';

const FSYNC = process.env['WOODWORK_FAULTS_REDIS_FSYNC'] === 'everysec' ? 'everysec' : 'always';

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean) => (socket.destroy(), resolve(ok));
    socket.setTimeout(500, () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => {
      reply += d.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.once('error', () => done(false));
  });
}

function ownServer(): Promise<OwnServer> {
  return startServerProcess({
    name: 'redis',
    binary: findBinary('REDIS_SERVER_BIN', ['/usr/bin/redis-server', '/usr/local/bin/redis-server'], 'redis-server'),
    args: (port, dir) => ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', FSYNC, '--save', ''],
    answers,
    busOptions: (port) => ({ url: `redis://127.0.0.1:${port}` }),
  });
}

async function withRedis<T>(busOptions: Record<string, unknown>, run: (redis: Redis, partitions: number) => Promise<T>): Promise<T> {
  const redis = new Redis(String(busOptions['url']));
  try {
    const prefix = String(busOptions['streamPrefix']);
    const partitions = Number((await redis.hget(layoutFor(prefix, 1).meta, 'partitions')) ?? 8);
    return await run(redis, partitions);
  } finally {
    redis.disconnect();
  }
}

export const redisHarness: BusHarness = {
  name: 'redis',
  features: { persistence: true, crossProcess: true, serverRestart: true },
  makeBus: (options) => RedisMessageBus.connect(options),
  ownServer,
  childBusModule: fileURLToPath(new URL('./redis-child.js', import.meta.url)),
  fastRecoveryOptions: { claimIdleMs: 1_500 },
  recoveryIdleMs: 1_500,
  timing: { quietMs: 200 },
  serverLossWindowMs: FSYNC === 'always' ? 0 : 1_000,
  // trim-while-lagging: trimming as eager as it gets (every entry older than 1 ms, every 50 ms), so
  // it runs all the time a group lags; it may remove only what every group acknowledged.
  boundedQueueOptions: () => ({ retentionMs: 1, maintenanceIntervalMs: 50 }),
  faultScenarios: ['server-kill-9', 'server-wiped', 'server-paused', 'server-down', 'consumer-killed', 'trim-while-lagging', 'poison-message', 'hot-session'],
  async countStoredCopies(busOptions) {
    return withRedis(busOptions, async (redis, partitions) => {
      const layout = layoutFor(String(busOptions['streamPrefix']), partitions);
      const copies = new Map<string, number>();
      for (let n = 0; n < partitions; n++) {
        const entries = (await redis.xrange(eventsKey(layout, n), '-', '+')) as Array<[string, string[]]>;
        for (const [, fields] of entries) {
          try {
            const id = (JSON.parse(fields[fields.indexOf('envelope') + 1] ?? '') as { message_id?: unknown }).message_id;
            if (typeof id === 'string') copies.set(id, (copies.get(id) ?? 0) + 1);
          } catch {
            // The undecodable entry (poison-message) has no id to count.
          }
        }
      }
      return copies;
    });
  },
  async writeUndecodable(busOptions, eventType) {
    await withRedis(busOptions, async (redis, partitions) => {
      const layout = layoutFor(String(busOptions['streamPrefix']), partitions);
      // Valid JSON of the right type, but a message id with spaces: core's wire validation refuses it.
      const text = JSON.stringify({ message_id: 'not a valid id', session_id: 'poison', event_type: eventType, component_source: 'faults' });
      await redis.xadd(eventsKey(layout, 0), '*', 'envelope', text);
    });
  },
};
