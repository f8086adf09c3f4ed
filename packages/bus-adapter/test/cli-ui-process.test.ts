/**
 * `woodwork-bus ui` as a real child process over Redis (the shared server, a prefix of its own):
 * the bin loads @woodwork/bus-dashboard by name, prints the link with its token, serves what
 * another process (this test) left in the dead-letter queue, and exits 0 on SIGTERM.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessageBus } from '@woodwork/bus-core';
import { MessageBusFactory } from '../src/index.js';
import { builtBin } from './support/built-bin.js';

const bin = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const run = promisify(execFile);
const env = {
  PATH: process.env['PATH'] ?? '',
  WOODWORK_MESSAGE_BUS: 'redis',
  WOODWORK_REDIS_URL: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379',
  WOODWORK_STREAM_PREFIX: `ui-${randomBytes(4).toString('hex')}`,
};
let bus: MessageBus;

beforeAll(async () => {
  await builtBin();
  bus = await MessageBusFactory.createFromEnvironment(env);
}, 180_000);
afterAll(async () => {
  await bus?.close();
});

describe('woodwork-bus ui over redis', () => {
  it("serves another process's dead letters and stops cleanly on SIGTERM", async () => {
    await bus.subscribe('ui.fail', () => Promise.reject(new Error('always')), { componentId: 'ui-worker' });
    const { messageId } = await bus.publish({ sessionId: 's1', eventType: 'ui.fail', componentSource: 'test', payload: {}, maxRetries: 0 });
    await expect.poll(async () => (await bus.getDeadLetterMessages()).length, { timeout: 30_000 }).toBe(1);

    const child = spawn(process.execPath, [bin, 'ui', '--port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // 'close' (not 'exit'): it comes after the child's stdout and stderr have been read to the end.
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      await expect.poll(() => stdout.includes('\n') || child.exitCode !== null, { timeout: 30_000 }).toBe(true);
      const url = new URL(stdout.split('\n')[0]!);
      expect(url.hostname).toBe('127.0.0.1');
      const token = url.searchParams.get('token')!;
      // stderr is its own pipe: its line may arrive after stdout's.
      await expect.poll(() => stderr, { timeout: 30_000 }).toContain('dashboard over redis');
      const listed = (await (await fetch(new URL('/api/dead-letters', url), { headers: { Authorization: `Bearer ${token}` } })).json()) as { total: number; rows: Array<{ messageId: string }> };
      expect(listed.total).toBe(1);
      expect(listed.rows[0]!.messageId).toBe(messageId);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stderr).toContain('dashboard stopped');
  }, 60_000);
});
