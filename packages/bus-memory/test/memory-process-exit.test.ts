/**
 * No timer of the memory bus keeps a process alive: after close() (with retries, deadlines and
 * publishes waiting, and a handler that never settles), and for a bus that is idle and never closed.
 * Each scenario runs in a child process that must exit on its own.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const child = fileURLToPath(new URL('./support/exit-child.mjs', import.meta.url));

function run(scenario: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [child, scenario], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // A process still alive after this is held by a timer (the bus's timers are a minute long here);
    // well under a minute, well over a child's start on a busy machine.
    const guard = setTimeout(() => proc.kill('SIGKILL'), 25_000);
    proc.on('exit', (code, signal) => {
      clearTimeout(guard);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describe('the process exits on its own', () => {
  it('after close() with a retry, a deadline and a publish waiting, and a handler that never settles', async () => {
    const result = await run('closed');
    expect(result.stderr).toBe('');
    expect(result).toMatchObject({ code: 0, signal: null, stdout: 'closed; waiting publish: BusClosedError\n' });
  }, 40_000);

  it('with an idle bus that is never closed', async () => {
    const result = await run('idle');
    expect(result.stderr).toBe('');
    expect(result).toMatchObject({ code: 0, signal: null, stdout: 'idle\n' });
  }, 40_000);
});
