/**
 * The parent side of `child-consumer.ts`: starts a consumer process on the harness's
 * `childBusModule`, collects its JSON event lines, and lets a test wait for an event, close the
 * child cleanly or SIGKILL it. No test framework, so the fault runner uses it too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BusHarness } from './harness.js';
import type { ChildEvent, ChildSubscription } from './child-consumer.js';
import { waitFor } from './wait.js';

const childScript = fileURLToPath(new URL('./child-consumer.js', import.meta.url));

export interface ConsumerProcess {
  readonly process: ChildProcess;
  readonly events: ChildEvent[];
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
  /** Waits for an event matching `match`; fails at once if the child exits first. */
  waitForEvent(match: (event: ChildEvent) => boolean, what: string, timeoutMs?: number): Promise<ChildEvent>;
  /** SIGKILL, then waits for the exit. */
  kill(): Promise<void>;
  /** Asks the child to close its bus and exit; SIGKILLs it if that takes longer than `timeoutMs`. */
  close(timeoutMs?: number): Promise<void>;
}

export function startConsumerProcess(
  harness: BusHarness,
  options: Record<string, unknown>,
  subscriptions: ChildSubscription[],
): ConsumerProcess {
  if (!harness.childBusModule) throw new Error(`${harness.name} declares crossProcess but gives no childBusModule`);
  const config = { module: harness.childBusModule, options, subscriptions };
  const proc = spawn(process.execPath, [childScript, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const events: ChildEvent[] = [];
  let buffer = '';
  proc.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    for (const line of parts) if (line.startsWith('{')) events.push(JSON.parse(line) as ChildEvent);
  });
  let exitCode: number | string | null | undefined;
  const exited = new Promise<void>((resolve) =>
    proc.once('exit', (code, signal) => {
      exitCode = code ?? signal;
      resolve();
    }),
  );
  const child: ConsumerProcess = {
    process: proc,
    events,
    exited,
    async waitForEvent(match, what, timeoutMs = 20_000) {
      let found: ChildEvent | undefined;
      await waitFor(
        () => {
          found = events.find(match);
          if (found) return true;
          if (exitCode !== undefined) throw new Error(`the child consumer exited (${exitCode}) before ${what}`);
          return false;
        },
        what,
        timeoutMs,
      );
      return found as ChildEvent;
    },
    async kill() {
      if (exitCode === undefined) proc.kill('SIGKILL');
      await exited;
    },
    async close(timeoutMs = 15_000) {
      if (exitCode !== undefined) return;
      proc.stdin?.write('close\n');
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
  return child;
}
