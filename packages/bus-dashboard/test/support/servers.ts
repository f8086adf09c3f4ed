/**
 * The shared Redis and NATS the browser tests use (REDIS_URL / NATS_URL, else the default local
 * ports). When neither answers the tests fail saying how to start one; they are never skipped.
 */
import { createConnection } from 'node:net';

function portOpen(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export async function sharedRedisUrl(): Promise<string> {
  if (process.env['REDIS_URL']) return process.env['REDIS_URL'];
  if (await portOpen('127.0.0.1', 6379)) return 'redis://127.0.0.1:6379';
  throw new Error('no Redis: set REDIS_URL, or start one on 127.0.0.1:6379 (`redis-server --save "" --appendonly no`)');
}

export async function sharedNatsUrl(): Promise<string> {
  if (process.env['NATS_URL']) return process.env['NATS_URL'];
  if (await portOpen('127.0.0.1', 4222)) return 'nats://127.0.0.1:4222';
  throw new Error('no NATS: set NATS_URL, or start one with JetStream on 127.0.0.1:4222 (`nats-server -js`)');
}
