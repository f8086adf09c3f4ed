/**
 * A consumer run in a child process (suites with `crossProcess`, and the fault runner), so a test
 * can have several processes share one group and SIGKILL one while a handler runs.
 *
 * argv[2] is JSON (`ChildConfig`). It prints one JSON line per event on stdout:
 * `{"ev":"ready"}`, then per attempt `{"ev":"start"|"done"|"fail", "id", "session", "group", "sub",
 * "attempt", "at"}` (`at`: Date.now()). A line `close` on stdin closes the bus and exits 0.
 * What a handler does is read from the payload: `hang: true` never finishes (the test kills the
 * process), `hangOnce: <path>` hangs in the one process that creates that file first (the others
 * go on), `workMs: n` takes n ms, `failAttempts: n` fails its first n attempts.
 */
import { openSync, closeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { MessageBus, SubscribeOptions } from '@woodwork/bus-core';

export interface ChildSubscription {
  eventType: string;
  options: SubscribeOptions;
}

export interface ChildConfig {
  /** The harness's `childBusModule`. */
  module: string;
  /** JSON-safe bus options (prefix, retry, the own server's `busOptions`, fast recovery). */
  options: Record<string, unknown>;
  subscriptions: ChildSubscription[];
}

export interface ChildEvent {
  ev: 'ready' | 'start' | 'done' | 'fail';
  id?: string;
  session?: string;
  group?: string;
  sub?: string;
  attempt?: number;
  at?: number;
}

interface WorkPayload {
  hang?: boolean;
  hangOnce?: string;
  workMs?: number;
  failAttempts?: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
const { makeBus } = (await import(config.module)) as { makeBus(o: Record<string, unknown>): MessageBus | Promise<MessageBus> };
const bus = await makeBus(config.options);
const emit = (event: ChildEvent): void => void process.stdout.write(`${JSON.stringify(event)}\n`);

for (const { eventType, options } of config.subscriptions) {
  await bus.subscribe(
    eventType,
    async (envelope, context) => {
      const base = { id: envelope.messageId, session: envelope.sessionId, group: context.group, sub: context.subscriptionId, attempt: context.attempt };
      emit({ ev: 'start', ...base, at: Date.now() });
      const work = (envelope.payload ?? {}) as WorkPayload;
      if (work.hang || (work.hangOnce !== undefined && claimMarker(work.hangOnce))) await new Promise(() => undefined);
      if (work.workMs) await new Promise((resolve) => setTimeout(resolve, work.workMs));
      if (work.failAttempts !== undefined && context.attempt <= work.failAttempts) {
        emit({ ev: 'fail', ...base, at: Date.now() });
        throw new Error(`attempt ${context.attempt} fails on purpose`);
      }
      emit({ ev: 'done', ...base, at: Date.now() });
    },
    options,
  );
}
emit({ ev: 'ready' });

/** Creates `path` exclusively: true in the first process to get there. */
function claimMarker(path: string): boolean {
  try {
    closeSync(openSync(path, 'wx'));
    return true;
  } catch {
    return false;
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'close') return;
  void bus.close().then(() => process.exit(0));
});
