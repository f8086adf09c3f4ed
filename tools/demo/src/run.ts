/**
 * Runs the demo: creates the bus the environment selects (memory by default) with short retry
 * delays, starts the components of the chosen role (all of them, or one per process), waits until
 * each did its part, and fills in the summary from what happened and what the bus reports.
 */
import { MessageBusAdapter, MessageBusFactory, RoutedMessageBus, type BusConfig } from '@woodwork/bus-adapter';
import type { MessageBus } from '@woodwork/bus-core';
import { defaultHookGroupName } from '@woodwork/bus-events-bridge';
import { DEAD_LETTER_SCAN_LIMIT, startAgent, startHooks, startInput, startOutput, type DemoContext, type RunningComponent } from './components.js';
import { emptySummary, tally, Timeline, type DemoSummary } from './report.js';
import { COMPONENTS, DEMO_EVENTS, FAILING_HOOK, RAW_TOOL_OUTPUT, answerChunks, normalizeToolResult } from './script.js';
import { DemoTracing, formatTrace } from './trace.js';

export const ROLES = ['all', 'input', 'agent', 'output', 'hooks'] as const;
export type Role = (typeof ROLES)[number];

export interface DemoOptions {
  role: Role;
  sessionId: string;
  delayMs: number;
  window: number;
  timeoutMs: number;
  /** Print the timeline as it happens. */
  print: boolean;
  /**
   * Record the run with OpenTelemetry (`--trace`): the summary's `trace` holds its spans, and with
   * `print` the tree is printed after the run.
   */
  trace?: boolean;
  env: Readonly<Record<string, string | undefined>>;
}

/** The environment's bus config, with retries quick enough for the failing hook to dead-letter at once. */
export function demoBusConfig(env: DemoOptions['env']): BusConfig {
  return { ...MessageBusFactory.configFromEnvironment(env), max_retries: DEMO_MAX_RETRIES, retry: { ...DEMO_RETRY } };
}

/**
 * `demoBusConfig`, reading a config file when the environment names one (`WOODWORK_BUS_CONFIG`,
 * required with `WOODWORK_MESSAGE_BUS=routed`): a routed bus gets the demo's retries on each member.
 */
export async function loadDemoBusConfig(env: DemoOptions['env']): Promise<BusConfig> {
  const fromFile = env['WOODWORK_BUS_CONFIG'] !== undefined && env['WOODWORK_BUS_CONFIG'].trim() !== '';
  if (!fromFile && env['WOODWORK_MESSAGE_BUS']?.trim() !== 'routed') return demoBusConfig(env);
  const loaded = await MessageBusFactory.loadEnvironmentConfig(env);
  const quick = { max_retries: DEMO_MAX_RETRIES, retry: { ...DEMO_RETRY } };
  if (loaded.type !== 'routed') return { ...loaded.config, ...quick };
  const members = loaded.config['members'] as Record<string, BusConfig>;
  return { ...loaded.config, members: Object.fromEntries(Object.entries(members).map(([name, member]) => [name, { ...member, ...quick }])) };
}

const DEMO_MAX_RETRIES = 2;
const DEMO_RETRY = { initial_delay_ms: 10, max_delay_ms: 40, multiplier: 2, jitter: 0 };

/** The waits between the failing hook's attempts (no jitter, so exact lower bounds). */
function retryWaits(): number[] {
  return Array.from({ length: DEMO_MAX_RETRIES }, (_, i) =>
    Math.min(DEMO_RETRY.initial_delay_ms * DEMO_RETRY.multiplier ** i, DEMO_RETRY.max_delay_ms),
  );
}

/**
 * The run's deadline without `--timeout-ms`: 15 s for the bus, plus three times the pacing that
 * `--delay-ms` adds (the agent waits it after each chunk, the output twice that), so a slow demo
 * asked for with `--delay-ms 1000` is not cut off half way.
 */
export function defaultTimeoutMs(delayMs: number): number {
  return 15_000 + 3 * (delayMs * 3) * CHUNK_COUNT;
}

const CHUNK_COUNT = answerChunks(normalizeToolResult({ session_id: 'x', tool: 'search', output: RAW_TOOL_OUTPUT }).output).length;

/** Thrown for a role that cannot work on the chosen backend. */
export class DemoUsageError extends Error {
  override readonly name = 'DemoUsageError';
}

const STARTERS: Record<Exclude<Role, 'all'>, (ctx: DemoContext) => Promise<RunningComponent>> = {
  hooks: startHooks,
  output: startOutput,
  agent: startAgent,
  input: startInput,
};

/** For tests: run on a bus the caller owns (one memory bus shared by several roles stands for processes). */
export interface DemoDeps {
  bus?: MessageBus;
  /** Called once this role's components are subscribed (before waiting for the run). */
  onStarted?: () => void;
}

export async function runDemo(options: DemoOptions, deps: DemoDeps = {}): Promise<DemoSummary> {
  const config = await loadDemoBusConfig(options.env);
  const backend = config.type ?? 'memory';
  const memoryMembers = backend === 'routed' ? Object.entries(config['members'] as Record<string, BusConfig>).filter(([, m]) => (m.type ?? 'memory') === 'memory') : [];
  if (deps.bus === undefined && memoryMembers.length > 0 && options.role !== 'all') {
    throw new DemoUsageError(
      `--role ${options.role} needs a bus that crosses processes, but the routed bus's member ${memoryMembers.map(([n]) => n).join(', ')} is memory, ` +
        'which lives inside one process. Run with --role all (the default), or give every member a backend that crosses processes.',
    );
  }
  if (deps.bus === undefined && backend === 'memory' && options.role !== 'all') {
    throw new DemoUsageError(
      `--role ${options.role} needs a bus that crosses processes, but the memory backend lives inside one process ` +
        `(another process would never see its messages). Run with --role all (the default), or set ` +
        `WOODWORK_MESSAGE_BUS=redis or nats and start each role in its own process with the same --session.`,
    );
  }
  const created: MessageBus = deps.bus ?? (await MessageBusFactory.createMessageBus(config));
  // On a routed bus, count what each publish carried, to show which member carried what.
  const published: Record<string, number> = {};
  const bus = created instanceof RoutedMessageBus ? countingPublishes(created, published) : created;
  const timeline = new Timeline(options.print);
  const summary = emptySummary(bus.backend, options.role, options.sessionId, {
    delay_ms: options.delayMs,
    reader_delay_ms: options.delayMs * 2,
    window: options.window,
    max_retries: DEMO_MAX_RETRIES,
    retry_waits_ms: retryWaits(),
  });
  // `--trace`: the components see the bus through `instrumentBus`, and start inside the run's root span.
  const tracing = options.trace === true ? new DemoTracing(`demo run (${options.role})`) : undefined;
  const traced = tracing === undefined ? bus : tracing.wrap(bus);
  const adapter = new MessageBusAdapter(traced);
  const ctx: DemoContext = {
    bus: traced,
    adapter,
    timeline,
    summary,
    sessionId: options.sessionId,
    delayMs: options.delayMs,
    window: options.window,
    timeoutMs: options.timeoutMs,
    seenMessageIds: new Set(),
    deadLetterMs: undefined,
  };
  const running: RunningComponent[] = [];
  try {
    timeline.log('demo', `backend ${bus.backend}, role ${options.role}, session ${options.sessionId}`);
    // Listeners first, the input last: everything is subscribed before the question goes out.
    const roles = options.role === 'all' ? (['hooks', 'output', 'agent', 'input'] as const) : [options.role];
    for (const role of roles) running.push(await (tracing === undefined ? STARTERS[role](ctx) : tracing.inRoot(() => STARTERS[role](ctx))));
    deps.onStarted?.();
    await withTimeout(Promise.all(running.map((c) => c.done)), options.timeoutMs);
    await fillFromBus(ctx);
    if (created instanceof RoutedMessageBus) await fillMembers(ctx, created, published);
    fillTimings(ctx);
    return summary;
  } finally {
    for (const component of running.reverse()) await component.close().catch(() => undefined);
    await adapter.close({ closeBus: deps.bus === undefined });
    // After the close: every attempt has ended its span.
    if (tracing !== undefined) {
      summary.trace = await tracing.finish();
      if (options.print) console.log(`${formatTrace(summary.trace)}\n`);
    }
  }
}

async function fillFromBus(ctx: DemoContext): Promise<void> {
  const auditGroup = defaultHookGroupName({ componentId: COMPONENTS.hooks, event: FAILING_HOOK.event, hookName: FAILING_HOOK.name });
  // Dead letters are the hooks' (only they fail); in another role's process they would show up or
  // not depending on how far the hooks process got. Only this run's: a session id used again
  // (every --role run's default) may hold older runs' records, so only messages our hooks saw count.
  const records = (await ctx.bus.getDeadLetterMessages(DEAD_LETTER_SCAN_LIMIT, { sessionId: ctx.sessionId })).filter((r) =>
    ctx.seenMessageIds.has(r.envelope.messageId),
  );
  const reportsDeadLetters = ctx.summary.role === 'all' || ctx.summary.role === 'hooks';
  ctx.summary.dead_letters = (reportsDeadLetters ? records : []).map((r) => ({
    event_type: r.envelope.eventType,
    group: r.group,
    hook: r.group === auditGroup ? FAILING_HOOK.name : null,
    error: r.error.message,
    attempts: r.attempts,
  }));
  const health = await ctx.bus.healthCheck();
  ctx.summary.bus = {
    published: health.metrics.messagesPublishedTotal,
    consumed: health.metrics.messagesConsumedTotal,
    failed_attempts: health.metrics.messagesFailedTotal,
    dead_lettered: health.metrics.messagesDeadLetteredTotal,
  };
}

/** A view of the bus whose `publish` also counts each event type (the bus itself is unchanged). */
function countingPublishes<B extends MessageBus>(bus: B, counts: Record<string, number>): B {
  return new Proxy(bus, {
    get(target, property) {
      if (property === 'publish') {
        return (envelope: Parameters<MessageBus['publish']>[0]) => {
          const result = target.publish(envelope);
          void result.then(() => tally.count(counts, envelope.eventType), () => undefined);
          return result;
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Which member of a routed bus carried which of this run's event types, and each member's counts. */
async function fillMembers(ctx: DemoContext, routed: RoutedMessageBus, published: Record<string, number>): Promise<void> {
  const health = await routed.healthCheck();
  const members: NonNullable<DemoSummary['members']> = {};
  for (const [name, report] of Object.entries(health.members)) {
    members[name] = { backend: report.backend, events: {}, published: report.metrics.messagesPublishedTotal, handled: report.metrics.messagesConsumedTotal };
  }
  for (const [eventType, n] of Object.entries(published)) {
    const member = members[routed.memberFor(eventType)];
    if (member) member.events[eventType] = n;
  }
  ctx.summary.members = members;
}

function fillTimings(ctx: DemoContext): void {
  const t = ctx.timeline;
  const timings = ctx.summary.timings_ms;
  const between = (from: string, to: string): number | undefined => {
    const a = t.at(from);
    const b = t.at(to);
    return a !== undefined && b !== undefined ? b - a : undefined;
  };
  const set = (name: string, ms: number | undefined) => {
    if (ms !== undefined) timings[name] = ms;
  };
  set('question_to_first_chunk', between('question_sent', 'first_chunk'));
  set('streaming', between('first_chunk', 'last_chunk'));
  // Both ends are seen only when the emitting component runs in this process (role all).
  const hookLatencies = DEMO_EVENTS.map((e) => between(`${e}_emitted`, `${e}_hooked`)).filter((ms): ms is number => ms !== undefined);
  if (hookLatencies.length > 0) {
    set('emit_to_log_hook_avg', hookLatencies.reduce((a, b) => a + b, 0) / hookLatencies.length);
    set('emit_to_log_hook_max', Math.max(...hookLatencies));
  }
  set('tool_result_to_dead_letter', ctx.deadLetterMs);
  timings['total'] = t.now();
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the run did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
