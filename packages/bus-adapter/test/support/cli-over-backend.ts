/**
 * The built `woodwork-bus` bin over a server backend (the shared server, a prefix of its own): `tail`
 * in one process sees what another process publishes, `health` reports the backend, and `dlq list`
 * shows a dead letter another process left. Run for Redis and NATS by cli-servers.test.ts. On NATS the
 * prefix's streams are deleted afterwards (`deleteNamespace`).
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessageBus } from '@woodwork/bus-core';
import type { NatsMessageBus } from '@woodwork/bus-nats';
import { MessageBusFactory } from '../../src/index.js';
import { builtBin } from './built-bin.js';

const bin = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const run = promisify(execFile);

export interface CliBackend {
  /** `redis` or `nats`: WOODWORK_MESSAGE_BUS and what health reports. */
  backend: string;
  /** The backend's own variables (its URL). */
  env: Record<string, string>;
}

export function describeCliOverBackend({ backend, env: backendEnv }: CliBackend): void {
  const prefix = `cli-${randomBytes(4).toString('hex')}`;
  const env = { PATH: process.env['PATH'] ?? '', WOODWORK_MESSAGE_BUS: backend, WOODWORK_STREAM_PREFIX: prefix, ...backendEnv };
  let bus: MessageBus;

  beforeAll(async () => {
    await builtBin();
    bus = await MessageBusFactory.createFromEnvironment(env);
  }, 180_000);
  afterAll(async () => {
    // NATS: the prefix's streams go too, so the shared server keeps nothing of this test.
    if (backend === 'nats' && bus) await (bus as NatsMessageBus).deleteNamespace();
    else await bus?.close();
  }, 60_000);

  describe(`woodwork-bus over ${backend}`, () => {
    it('tail in one process sees what another publishes, and stops cleanly', async () => {
      const child = spawn(process.execPath, [bin, 'tail', '--session', 's1', '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code))); // after stdout and stderr are read to the end
      await new Promise<void>((resolve, reject) => {
        child.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          if (stderr.includes('tailing session s1')) resolve();
        });
        void exited.then(() => reject(new Error(`tail exited before its header; stderr: ${stderr}`)));
      });
      const { messageId } = await bus.publish({ sessionId: 's1', eventType: 'cli.seen', componentSource: 'test', pattern: 'pub_sub', payload: { n: 1 } });
      const deadline = Date.now() + 30_000;
      while (!stdout.includes(messageId) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(stdout).toContain(messageId);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(stderr).toContain(`on ${backend}`);
    }, 60_000);

    it('health and dlq list read the same namespace', async () => {
      await bus.subscribe('cli.fail', () => {
        throw new Error('always');
      }, { componentId: 'cli-fixer' });
      const { messageId } = await bus.publish({ sessionId: 's2', eventType: 'cli.fail', componentSource: 'test', pattern: 'pub_sub', payload: {}, maxRetries: 0 });
      const deadline = Date.now() + 30_000;
      while ((await bus.getDeadLetterMessages()).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const health = JSON.parse((await run(process.execPath, [bin, 'health', '--json'], { env })).stdout) as { backend: string; status: string; groups: Array<{ group: string }> };
      expect(health).toMatchObject({ backend, status: 'healthy' });
      expect(health.groups.map((g) => g.group)).toContain('cli-fixer~cli~fail');
      const listed = (await run(process.execPath, [bin, '--json', 'dlq', 'list'], { env })).stdout;
      expect(listed).toContain(messageId);
    }, 60_000);
  });
}
