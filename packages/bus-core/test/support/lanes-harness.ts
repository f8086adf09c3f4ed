/**
 * A SessionLanes with recording hooks, for the session-lanes-*.test.ts files: what succeeded, what
 * was given up, each failed attempt, each retry delay asked for, each hook error.
 */
import {
  createEnvelope,
  SessionLanes,
  type EnvelopeInit,
  type DeliveryContext,
  type LaneConsumer,
  type LaneDelivery,
  type LaneFailure,
  type LaneObserver,
  type SessionLanesHooks,
  type MessageEnvelope,
  type MessageHandler,
} from '../../src/index.js';

export interface HarnessOptions {
  /** Concurrency of the default consumer. */
  capacity?: number;
  handlerTimeoutMs?: number;
  /** Delay before each retry, ms. */
  retryDelay?: number;
  /** Replicas; default one ("sub-1" in group "g", concurrency `capacity`). */
  consumers?: LaneConsumer[];
  onSuccess?: (delivery: LaneDelivery) => void | Promise<void>;
  onGiveUp?: (delivery: LaneDelivery) => void | Promise<void>;
  hooks?: Partial<SessionLanesHooks<LaneDelivery>>;
  observer?: LaneObserver<LaneDelivery>;
  leaseMs?: number;
}

export function makeLanes(handler: MessageHandler, options: HarnessOptions = {}) {
  const successes: LaneDelivery[] = [];
  const giveUps: Array<{ delivery: LaneDelivery; error: unknown; attempts: number; reason: LaneFailure['reason'] }> = [];
  const failures: Array<{ delivery: LaneDelivery; error: unknown; attempt: number }> = [];
  const retryDelaysAskedFor: number[] = [];
  /** Each settling hook failure the observer saw. */
  const hookErrors: unknown[] = [];
  /** Each `left` call, with the lanes' size at that moment. */
  const done: Array<{ delivery: LaneDelivery; sizeThen: number }> = [];
  const consumers = options.consumers ?? [
    { subscriptionId: 'sub-1', group: 'g', handler, handlerTimeoutMs: options.handlerTimeoutMs ?? 0, concurrency: options.capacity ?? 16 },
  ];
  const lanes: SessionLanes<LaneDelivery> = new SessionLanes<LaneDelivery>(
    {
      acknowledge: async (delivery, reason) => {
        if (reason !== 'handled') return;
        await options.onSuccess?.(delivery);
        successes.push(delivery);
      },
      deadLetter: async (delivery, failure) => {
        await options.onGiveUp?.(delivery);
        giveUps.push({ delivery, error: failure.error, attempts: failure.attempts, reason: failure.reason });
      },
      retryDelayMs: (failedAttempts) => {
        retryDelaysAskedFor.push(failedAttempts);
        return options.retryDelay ?? 1;
      },
      ...options.hooks,
    },
    {
      attemptFailed: (delivery, error, attempt) => failures.push({ delivery, error, attempt }),
      left: (delivery) => done.push({ delivery, sizeThen: lanes.size }),
      settleFailed: (_delivery, _hook, error) => hookErrors.push(error),
      ...options.observer,
    },
    { leaseMs: options.leaseMs },
  );
  for (const consumer of consumers) lanes.attach(consumer);
  return { lanes, consumers, successes, giveUps, failures, retryDelaysAskedFor, hookErrors, done };
}

export function delivery(sessionId: string, n: number, init: Partial<EnvelopeInit> = {}, attemptsMade = 0): LaneDelivery {
  return {
    envelope: createEnvelope({ sessionId, eventType: 'lane.test', componentSource: 'test', payload: { n }, ...init }),
    attemptsMade,
  };
}

/** A handler that always throws `message`, and how many times it was called. */
export function alwaysFailing(message: string): { handler: MessageHandler; readonly attempts: number } {
  let attempts = 0;
  return {
    handler: () => {
      attempts++;
      throw new Error(message);
    },
    get attempts() {
      return attempts;
    },
  };
}

/** One handler call as a test records it: which delivery, which attempt, and the retryCount it saw. */
export interface Call {
  session: string;
  n: number;
  attempt: number;
  retryCount: number;
}

export function call(envelope: MessageEnvelope, context: DeliveryContext): Call {
  return { session: envelope.sessionId, n: envelope.payload['n'] as number, attempt: context.attempt, retryCount: envelope.retryCount };
}

/** The `n` a test put in the payload. */
export function nOf(d: { envelope: { payload: Record<string, unknown> } } | LaneDelivery): number {
  return d.envelope.payload['n'] as number;
}

/** A promise a test resolves by hand. */
export function gate(): { promise: Promise<void>; open: () => void; fail: (error: unknown) => void } {
  let open!: () => void;
  let fail!: (error: unknown) => void;
  const promise = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

/**
 * Waits until `condition` holds, polling; fails with `what` after `timeoutMs` (generous: a deadline
 * for evidence that is missing, not a margin a busy machine can eat).
 */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(1);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Lets queued microtasks and a few timer turns run. */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await sleep(0);
}
