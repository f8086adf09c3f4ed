/**
 * The Redis backend as the fault runner sees it: a `redis-server` of its own per scenario (own
 * port, own folder under the OS tmpdir, AOF on with `appendfsync always` unless
 * WOODWORK_FAULTS_REDIS_FSYNC says `everysec`; stopped by PID), stored copies counted from every
 * partition stream, and an undecodable entry (it fails core's wire validation) written straight to
 * a partition.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { BusHarness, OwnServer } from '@woodwork/bus-conformance/harness';
import { RedisMessageBus, eventsKey, layoutFor } from '@woodwork/bus-redis';

const FSYNC = process.env['WOODWORK_FAULTS_REDIS_FSYNC'] === 'everysec' ? 'everysec' : 'always';

function binary(): string {
  const found = process.env['REDIS_SERVER_BIN'] ?? ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((b) => existsSync(b));
  if (!found) throw new Error('redis-server not found: install it or set REDIS_SERVER_BIN');
  return found;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

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

async function ownServer(): Promise<OwnServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'ww-faults-redis-'));
  let proc: ChildProcess | undefined;
  const start = async (options: { wipe?: boolean } = {}): Promise<void> => {
    if (options.wipe) rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    proc = spawn(binary(), ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', FSYNC, '--save', ''], { stdio: 'ignore' });
    for (let i = 0; !(await answers(port)); i++) {
      if (proc.exitCode !== null || i > 800) throw new Error(`redis-server did not start on ${port}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill('SIGCONT');
    p.kill(signal);
    await exited;
  };
  await start();
  return {
    busOptions: { url: `redis://127.0.0.1:${port}` },
    kill,
    start,
    pause: async () => void proc?.kill('SIGSTOP'),
    resume: async () => void proc?.kill('SIGCONT'),
    dispose: async () => {
      await kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
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
