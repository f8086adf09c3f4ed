/**
 * The built `woodwork-bus` bin as a real child process: its shebang, `health --json` on the memory
 * backend, and `tail` ending cleanly (exit 0) on SIGTERM and SIGINT. With memory the tail sees no
 * other process's messages; what matters here is that it starts, says so, and stops cleanly.
 */
import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { builtBin } from './support/built-bin.js';

const bin = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const run = promisify(execFile);

const childEnv = { PATH: process.env['PATH'] ?? '', WOODWORK_MESSAGE_BUS: 'memory' };

beforeAll(async () => {
  await builtBin();
  // A hang guard: tsc took over 60 s on the shared machine under load.
}, 180_000);

describe('woodwork-bus bin', () => {
  it('starts with a node shebang', async () => {
    expect((await readFile(bin, 'utf8')).split('\n')[0]).toBe('#!/usr/bin/env node');
  });

  it('prints health --json on the memory backend and exits 0', async () => {
    const { stdout, stderr } = await run(process.execPath, [bin, 'health', '--json'], { env: childEnv });
    expect(JSON.parse(stdout)).toMatchObject({ backend: 'memory', status: 'healthy', groups: [] });
    expect(stderr).toContain('memory backend lives inside one process');
  });

  it('exits 2 with the usage on a bad command line', async () => {
    const failure = await run(process.execPath, [bin, 'dlq', 'redrive'], { env: childEnv }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 2 });
    expect((failure as { stderr: string }).stderr).toContain('Usage: woodwork-bus');
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('ends tail cleanly on %s', async (signal) => {
    const child = spawn(process.execPath, [bin, 'tail', '--session', 's1'], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('close', (code, sig) => resolve({ code, signal: sig })),
    );
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('tailing session s1')) resolve();
      });
      void exited.then(() => reject(new Error(`tail exited before its header; stderr: ${stderr}`)));
    });
    child.kill(signal);
    expect(await exited).toEqual({ code: 0, signal: null });
    expect(stderr).toContain('woodwork-bus: tailing session s1, all events, on memory');
    expect(stderr).toContain('woodwork-bus: tail stopped');
    expect(stdout).toBe('');
  });

  it('a reader that closes stdout early ends the command quietly (no EPIPE stack trace)', async () => {
    const child = spawn(process.execPath, [bin, 'health', '--json'], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    // Closed before the child writes anything: its write meets a pipe without a reader.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('close', (code, sig) => resolve({ code, signal: sig })),
    );
    expect(stderr).not.toMatch(/EPIPE|Unhandled|at .*\.js:\d+/);
    expect(exit).toEqual({ code: 0, signal: null });
  });
});
