/**
 * examples/redis-app as a user gets it: core, redis and the adapter packed with `npm pack`,
 * installed from those tarballs into a copy outside the repository, compiled with
 * `moduleResolution` node16 (declaration files included) and run against the shared Redis
 * (`REDIS_URL`, else 127.0.0.1:6379; never flushed) under a stream prefix of its own, whose keys it
 * deletes afterwards. No Redis is a failure that says how to start one, never a skip. The bundler
 * type check is in example-app.slow-test.ts (`npm run test:slow`). Needs the packages built.
 */
import { randomUUID } from 'node:crypto';
import { createConnection } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRun, installExample, run, tsc, type InstalledExample } from './support/example-app.js';

const REDIS_EXAMPLE_PACKAGES = ['@woodwork/bus-core', '@woodwork/bus-redis', '@woodwork/bus-adapter'];
const prefix = `example-${randomUUID().slice(0, 8)}`;
let example: InstalledExample;
let redisUrl: string;

/** True when a Redis answers PING at the URL's host and port. */
function redisAnswers(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = createConnection({ host: hostname, port: Number(port || 6379) });
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(5000, () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG') || reply.startsWith('-NOAUTH'));
    });
    socket.once('error', () => done(false));
  });
}

/** Deletes the keys under this test's prefix, with the ioredis the example installed. */
const DELETE_PREFIX = `
const Redis = require('ioredis');
const [url, prefix] = process.argv.slice(1);
const redis = new Redis(url, { lazyConnect: false });
(async () => {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', prefix + ':*', 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.del(...keys);
  } while (cursor !== '0');
  console.log(deleted);
  await redis.quit();
})();
`;

beforeAll(async () => {
  redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  if (!(await redisAnswers(redisUrl))) {
    throw new Error(
      `no Redis at ${redisUrl}: set REDIS_URL, or start one on 127.0.0.1:6379 (\`redis-server\` or \`docker compose -f docker/compose.yml up -d redis\`)`,
    );
  }
  example = await installExample('redis-app', REDIS_EXAMPLE_PACKAGES);
}, 180_000);

afterAll(async () => {
  if (example) {
    const cleaned = await run(process.execPath, ['-e', DELETE_PREFIX, redisUrl, prefix], example.dir);
    example.remove();
    expect(cleaned.code, describeRun('deleting the example prefix', cleaned)).toBe(0);
  }
}, 60_000);

describe('examples/redis-app, installed from packed tarballs', () => {
  it('type-checks with moduleResolution node16 (with our declaration files), compiles, and runs on Redis', async () => {
    const built = await tsc(example, ['-p', 'tsconfig.json']);
    expect(built.code, describeRun('tsc -p tsconfig.json', built)).toBe(0);
    const started = await run(process.execPath, ['dist/main.js'], example.dir, {
      WOODWORK_MESSAGE_BUS: 'redis',
      WOODWORK_REDIS_URL: redisUrl,
      WOODWORK_STREAM_PREFIX: prefix,
    });
    expect(started.code, describeRun('node dist/main.js', started)).toBe(0);
    expect(started.stdout.split('\n')).toEqual([
      'backend: redis',
      'answer: 29 characters, well asked (to "How tall is the Eiffel Tower?")',
      'health: healthy',
      'closed',
      '',
    ]);
  });

  it('without WOODWORK_MESSAGE_BUS it asks for the memory package it did not install', async () => {
    const started = await run(process.execPath, ['dist/main.js'], example.dir, { WOODWORK_MESSAGE_BUS: '' });
    expect(started.code).not.toBe(0);
    expect(started.stderr).toContain('npm install @woodwork/bus-memory');
  });
});
