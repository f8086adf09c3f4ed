/**
 * The demo on a Redis that wants a password (a redis-server of the test's own, `--requirepass`):
 * the password comes from WOODWORK_REDIS_PASSWORD or from WOODWORK_REDIS_URL, and never appears in
 * what the demo prints (its timeline, its summary, `--json`), nor in the error of a refused login.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OwnRedis } from '../../../packages/bus-adapter/test/support/own-redis.js';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const SECRET = `Demo-S3cret-${randomBytes(6).toString('hex')}`;
const WRONG = `Demo-Wr0ng-${randomBytes(6).toString('hex')}`;
let server: OwnRedis;

function runDemo(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('WOODWORK_')));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

beforeAll(async () => {
  server = await OwnRedis.start(['--requirepass', SECRET]);
});

afterAll(async () => {
  await server?.stop();
});

describe('the demo never prints a secret', () => {
  it('runs on a password-protected Redis, as text and as JSON, without printing the password', async () => {
    const prefix = `demo-sec-${randomBytes(3).toString('hex')}`;
    const viaVariable = await runDemo(['--delay-ms', '0'], { WOODWORK_MESSAGE_BUS: 'redis', WOODWORK_REDIS_URL: server.url, WOODWORK_REDIS_PASSWORD: SECRET, WOODWORK_STREAM_PREFIX: prefix });
    const viaUrl = await runDemo(['--delay-ms', '0', '--json'], { WOODWORK_MESSAGE_BUS: 'redis', WOODWORK_REDIS_URL: `redis://:${SECRET}@127.0.0.1:${server.port}`, WOODWORK_STREAM_PREFIX: prefix });
    expect(viaVariable.code, viaVariable.out).toBe(0);
    expect(viaVariable.out).toContain('Summary (backend redis');
    expect(viaUrl.code, viaUrl.out).toBe(0);
    expect((JSON.parse(viaUrl.out) as { backend: string }).backend).toBe('redis');
    for (const run of [viaVariable, viaUrl]) expect(run.out).not.toContain(SECRET);
  }, 60_000);

  it('a wrong password fails with the typed error and neither password', async () => {
    const wrong = await runDemo(['--delay-ms', '0', '--json'], { WOODWORK_MESSAGE_BUS: 'redis', WOODWORK_REDIS_URL: `redis://app:${WRONG}@127.0.0.1:${server.port}` });
    expect(wrong.code).toBe(1);
    expect(wrong.out).toMatch(/"name": "AuthenticationError"/);
    expect(wrong.out).toMatch(/refused the login of user \\"app\\": WRONGPASS/);
    expect(wrong.out).not.toContain(WRONG);
    expect(wrong.out).not.toContain(SECRET);
  }, 60_000);
});
