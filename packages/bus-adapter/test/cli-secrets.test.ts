/**
 * The CLI over a Redis that wants a password (a redis-server of the test's own, `--requirepass`):
 * the password comes from a config file's `${VAR}`, from `WOODWORK_REDIS_PASSWORD` or from the URL,
 * and never appears in what `health`, `dlq list`, `dlq show` print, as text or `--json`, nor in
 * the error of a refused login, even where a handler's error text quoted it. Tenants: the CLI on
 * one prefix sees none of another prefix's groups or dead letters.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessageBus } from '@woodwork/bus-core';
import { MessageBusFactory, runCli } from '../src/index.js';
import { OwnRedis } from './support/own-redis.js';

const SECRET = `Cli-S3cret-${randomBytes(6).toString('hex')}`;
const WRONG = `Wr0ng-S3cret-${randomBytes(6).toString('hex')}`;
const prefixA = `cli-sec-a-${randomBytes(3).toString('hex')}`;
const prefixB = `cli-sec-b-${randomBytes(3).toString('hex')}`;

let server: OwnRedis;
let dir: string;
let configFile: string;
let busA: MessageBus;
let deadLetterId: string;

async function cli(argv: string[], env: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { env, stdout: { write: (t: string) => void (out += t) }, stderr: { write: (t: string) => void (err += t) } });
  return { code, out, err };
}

beforeAll(async () => {
  server = await OwnRedis.start(['--requirepass', SECRET]);
  dir = mkdtempSync(join(tmpdir(), 'ww-cli-secrets-'));
  configFile = join(dir, 'bus.yml');
  writeFileSync(
    configFile,
    ['message_bus:', '  type: redis', `  redis_url: redis://127.0.0.1:${server.port}`, '  password: ${WW_TEST_REDIS_PASSWORD}', `  stream_prefix: ${prefixA}`, ''].join('\n'),
  );
  busA = await MessageBusFactory.createMessageBus({ type: 'redis', redis_url: `redis://127.0.0.1:${server.port}`, password: SECRET, stream_prefix: prefixA, max_retries: 0 });
  // A handler whose error quotes the password (it happens: a connection string in a message).
  await busA.subscribe('cli.secret', () => {
    throw new Error(`could not log in with redis://app:${SECRET}@db and ${SECRET}`);
  }, { componentId: 'leaky' });
  await busA.publish({ sessionId: 's1', eventType: 'cli.secret', componentSource: 'test', payload: { n: 1 }, maxRetries: 0 });
  const deadline = Date.now() + 20_000;
  while ((await busA.getDeadLetterMessages()).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  deadLetterId = (await busA.getDeadLetterMessages())[0]!.id;
}, 60_000);

afterAll(async () => {
  await busA?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the CLI never prints a secret', () => {
  it('config file with ${VAR}: health, dlq list and dlq show, as text and --json', async () => {
    const env = { WW_TEST_REDIS_PASSWORD: SECRET };
    const runs = [
      await cli(['--config', configFile, 'health'], env),
      await cli(['--config', configFile, 'health', '--json'], env),
      await cli(['--config', configFile, 'dlq', 'list'], env),
      await cli(['--config', configFile, '--json', 'dlq', 'list'], env),
      await cli(['--config', configFile, 'dlq', 'show', deadLetterId], env),
      await cli(['--config', configFile, '--json', 'dlq', 'show', deadLetterId], env),
    ];
    for (const run of runs) {
      expect(run.code, run.err).toBe(0);
      expect(run.out + run.err).not.toContain(SECRET);
    }
    const health = JSON.parse(runs[1]!.out) as { status: string; groups: Array<{ group: string }>; details: { server: string } };
    expect(health.status).toBe('healthy');
    expect(health.groups.map((g) => g.group)).toContain('leaky~cli~secret');
    expect(health.details.server).toBe(`redis://127.0.0.1:${server.port}`);
    // The dead letter is shown, with the handler's error, its secret replaced.
    expect(runs[5]!.out).toContain('could not log in with redis://app:***@db and ***');
    expect(JSON.parse(runs[3]!.out)).toBeTruthy();
  });

  it('environment variables: WOODWORK_REDIS_PASSWORD, or the password in WOODWORK_REDIS_URL', async () => {
    const base = { WOODWORK_MESSAGE_BUS: 'redis', WOODWORK_STREAM_PREFIX: prefixA };
    const viaVariable = await cli(['health', '--json'], { ...base, WOODWORK_REDIS_URL: `redis://127.0.0.1:${server.port}`, WOODWORK_REDIS_PASSWORD: SECRET });
    const viaUrl = await cli(['--json', 'dlq', 'show', deadLetterId], { ...base, WOODWORK_REDIS_URL: `redis://:${SECRET}@127.0.0.1:${server.port}` });
    for (const run of [viaVariable, viaUrl]) {
      expect(run.code, run.err).toBe(0);
      expect(run.out + run.err).not.toContain(SECRET);
    }
    expect(viaUrl.out).toContain(deadLetterId);
  });

  it('a refused login fails with the typed error, without the wrong password or the right one', async () => {
    const base = { WOODWORK_MESSAGE_BUS: 'redis', WOODWORK_STREAM_PREFIX: prefixA };
    const wrongVariable = await cli(['health'], { ...base, WOODWORK_REDIS_URL: `redis://127.0.0.1:${server.port}`, WOODWORK_REDIS_PASSWORD: WRONG });
    const wrongUrl = await cli(['health', '--json'], { ...base, WOODWORK_REDIS_URL: `redis://app:${WRONG}@127.0.0.1:${server.port}` });
    const wrongFile = await cli(['--config', configFile, 'health'], { WW_TEST_REDIS_PASSWORD: WRONG });
    for (const run of [wrongVariable, wrongUrl, wrongFile]) {
      expect(run.code).toBe(1);
      expect(run.err).toMatch(/woodwork-bus: Redis at redis:\/\/(app:\*\*\*@)?127\.0\.0\.1:\d+ refused the login of (the default user|user "app"): WRONGPASS/);
      expect(run.out + run.err).not.toContain(WRONG);
      expect(run.out + run.err).not.toContain(SECRET);
    }
  });

  it('tenants: the CLI on another prefix sees none of the first one\'s groups or dead letters', async () => {
    const env = { WOODWORK_MESSAGE_BUS: 'redis', WOODWORK_STREAM_PREFIX: prefixB, WOODWORK_REDIS_URL: `redis://127.0.0.1:${server.port}`, WOODWORK_REDIS_PASSWORD: SECRET };
    const health = await cli(['health', '--json'], env);
    const listed = await cli(['--json', 'dlq', 'list'], env);
    const shown = await cli(['dlq', 'show', deadLetterId], env);
    expect(health.code, health.err).toBe(0);
    expect((JSON.parse(health.out) as { groups: unknown[] }).groups).toEqual([]);
    expect(health.out).not.toContain(prefixA);
    expect(listed.code, listed.err).toBe(0);
    expect(listed.out).not.toContain(deadLetterId);
    expect(shown.code).toBe(1);
    expect(shown.err).not.toContain(SECRET);
  });
});
