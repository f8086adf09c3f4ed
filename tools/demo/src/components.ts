/**
 * The demo's four components, each usable alone (one per process, `--role`) or all together on
 * one bus:
 * - input sends the question to the agent (point_to_point) and emits `input.received`;
 * - agent thinks, calls a "tool" whose result a local pipe rewrites, and streams the answer to
 *   output in chunks (StreamManager, with backpressure);
 * - output reads the stream in order and emits `output.rendered`;
 * - hooks logs every event, and its `audit` hook always fails, so that message is retried and
 *   ends in the dead-letter queue.
 * Hooks and pipes come from `@woodwork/bus-events-bridge`; everything travels on the bus.
 */
import { MessageBusAdapter, StreamCancelledError, StreamManager } from '@woodwork/bus-adapter';
import type { MessageBus } from '@woodwork/bus-core';
import { MessageBusEventManager } from '@woodwork/bus-events-bridge';
import { tally, type DemoSummary, type Timeline } from './report.js';
import {
  COMPONENTS,
  DEMO_EVENTS,
  FAILING_HOOK,
  QUESTION,
  QUESTION_EVENT,
  RAW_TOOL_OUTPUT,
  answerChunks,
  normalizeToolResult,
  type DemoEvent,
  type DemoEvents,
} from './script.js';

export interface DemoContext {
  bus: MessageBus;
  adapter: MessageBusAdapter;
  timeline: Timeline;
  summary: DemoSummary;
  sessionId: string;
  /** Pause between the agent's chunks; the output reads at half that speed (so backpressure shows). */
  delayMs: number;
  window: number;
  /** How long the hooks wait for the dead letter before giving up. */
  timeoutMs: number;
  /** Ids of this session's messages this process's hooks saw: what makes a dead letter this run's. */
  seenMessageIds: Set<string>;
  /** From the publish of the failing hook's message to its dead letter, by the bus's clock. */
  deadLetterMs: number | undefined;
}

export interface RunningComponent {
  /** Resolves when the component has done its part of the run. */
  done: Promise<void>;
  close(): Promise<void>;
}

const sleep = (ms: number) => (ms > 0 ? new Promise<void>((resolve) => setTimeout(resolve, ms)) : Promise.resolve());

function deferred(): { promise: Promise<void>; resolve(): void; reject(error: unknown): void } {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function eventManager(ctx: DemoContext, componentId: string): MessageBusEventManager<DemoEvents> {
  return new MessageBusEventManager<DemoEvents>(ctx.bus, { componentId });
}

async function emit<K extends DemoEvent>(
  ctx: DemoContext,
  events: MessageBusEventManager<DemoEvents>,
  event: K,
  payload: DemoEvents[K],
): Promise<DemoEvents[K]> {
  ctx.timeline.log(events.componentId, `emits ${event}`);
  ctx.timeline.mark(`${event}_emitted`);
  const result = await events.emit(event, payload);
  tally.count(ctx.summary.events_emitted, event);
  return result;
}

export async function startInput(ctx: DemoContext): Promise<RunningComponent> {
  const events = eventManager(ctx, COMPONENTS.input);
  const run = async () => {
    ctx.summary.question = QUESTION;
    await emit(ctx, events, 'input.received', { session_id: ctx.sessionId, question: QUESTION });
    ctx.timeline.log('input', `-> agent   ${QUESTION_EVENT} ${JSON.stringify(QUESTION)}`);
    ctx.timeline.mark('question_sent');
    await ctx.adapter.sendToComponent(COMPONENTS.agent, {
      eventType: QUESTION_EVENT,
      payload: { question: QUESTION },
      sessionId: ctx.sessionId,
      componentSource: COMPONENTS.input,
    });
  };
  return { done: run(), close: () => events.close() };
}

export async function startAgent(ctx: DemoContext): Promise<RunningComponent> {
  const events = eventManager(ctx, COMPONENTS.agent);
  events.addPipe('tool.result', (payload) => normalizeToolResult(payload));
  const streams = new StreamManager(ctx.bus, { componentId: COMPONENTS.agent, window: ctx.window });
  await streams.start();
  const answered = deferred();
  await ctx.adapter.registerComponentListener(
    COMPONENTS.agent,
    async (payload, envelope) => {
      const sessionId = envelope.sessionId;
      ctx.timeline.log('agent', `<- ${envelope.componentSource}   ${JSON.stringify(payload['question'])}`);
      await emit(ctx, events, 'agent.thinking', { session_id: sessionId, step: 'searching the web' });
      const raw: DemoEvents['tool.result'] = { session_id: sessionId, tool: 'search', output: RAW_TOOL_OUTPUT };
      const piped = await emit(ctx, events, 'tool.result', raw);
      ctx.summary.rewritten = { event: 'tool.result', before: raw.output, after: piped.output };
      ctx.timeline.log('pipe', `tool.result ${JSON.stringify(raw.output)} -> ${JSON.stringify(piped.output)}`);

      const writer = await streams.createStream<string>({ target: COMPONENTS.output, sessionId, metadata: { question: String(payload['question']) } });
      ctx.summary.stream.window = writer.window;
      ctx.timeline.log('agent', `=> output  stream ${writer.streamId} (window ${writer.window})`);
      try {
        for (const chunk of answerChunks(piped.output)) {
          if (writer.chunksWritten - writer.chunksTaken >= writer.window) ctx.summary.stream.writes_waited_for_credit++;
          await writer.write(chunk);
          ctx.summary.stream.chunks_sent.push(chunk);
          await sleep(ctx.delayMs);
        }
        await writer.end();
      } catch (error) {
        if (!(error instanceof StreamCancelledError)) throw error;
        ctx.timeline.log('agent', `stream cancelled by output: ${error.reason}`);
      }
      ctx.timeline.mark('stream_written');
      await emit(ctx, events, 'agent.answered', { session_id: sessionId, stream_id: writer.streamId, chunks: writer.chunksWritten });
      answered.resolve();
    },
    { eventPattern: QUESTION_EVENT, sessionId: ctx.sessionId },
  );
  return {
    done: answered.promise,
    close: async () => {
      await streams.close();
      await events.close();
    },
  };
}

export async function startOutput(ctx: DemoContext): Promise<RunningComponent> {
  const events = eventManager(ctx, COMPONENTS.output);
  const rendered = deferred();
  const streams = new StreamManager(ctx.bus, {
    componentId: COMPONENTS.output,
    onStream: async (reader) => {
      if (reader.sessionId !== ctx.sessionId) {
        // Left over from another run (its producer is gone): not this demo's answer.
        await reader.cancel(`not demo session ${ctx.sessionId}`);
        return;
      }
      ctx.timeline.log('output', `<= ${reader.source}   stream ${reader.streamId}`);
      try {
        for await (const chunk of reader) {
          ctx.timeline.mark('first_chunk');
          const text = String(chunk);
          ctx.summary.stream.chunks_received.push(text);
          ctx.timeline.log('output', `chunk ${String(ctx.summary.stream.chunks_received.length).padStart(2)} ${JSON.stringify(text)}`);
          await sleep(ctx.delayMs * 2);
        }
        ctx.timeline.mark('last_chunk');
        const text = ctx.summary.stream.chunks_received.join('');
        ctx.summary.answer = text;
        ctx.timeline.log('output', `rendered: ${text}`);
        await emit(ctx, events, 'output.rendered', { session_id: reader.sessionId, text, chunks: ctx.summary.stream.chunks_received.length });
        rendered.resolve();
      } catch (error) {
        rendered.reject(error);
      }
    },
  });
  await streams.start();
  return {
    done: rendered.promise,
    close: async () => {
      await streams.close();
      await events.close();
    },
  };
}

export async function startHooks(ctx: DemoContext): Promise<RunningComponent> {
  const events = eventManager(ctx, COMPONENTS.hooks);
  // Durable groups may still hold other sessions' messages (another run, a crashed process): the
  // hooks act on every message, as hooks do, but the demo reports only its own session.
  const logged = new Set<string>();
  const sawEveryEvent = deferred();
  for (const event of DEMO_EVENTS) {
    events.addHook(
      event,
      (payload, hook) => {
        if (hook.sessionId !== ctx.sessionId) return;
        if (hook.messageId !== null) ctx.seenMessageIds.add(hook.messageId);
        tally.count(ctx.summary.hook_runs, 'log');
        ctx.timeline.mark(`${hook.event}_hooked`);
        const { session_id: _session, ...rest } = payload as Record<string, unknown>;
        ctx.timeline.log('hook', `log   ${hook.event} from ${hook.componentSource} ${JSON.stringify(rest)}`);
        logged.add(hook.event);
        if (logged.size === DEMO_EVENTS.length) sawEveryEvent.resolve();
      },
      { name: 'log' },
    );
  }
  events.addHook(
    FAILING_HOOK.event,
    (_payload, hook) => {
      if (hook.sessionId === ctx.sessionId && hook.messageId !== null) {
        ctx.seenMessageIds.add(hook.messageId);
        tally.count(ctx.summary.hook_failures, FAILING_HOOK.name);
        ctx.timeline.log('hook', `${FAILING_HOOK.name} fails (attempt ${hook.attempt}): ${FAILING_HOOK.error}`);
      }
      throw new Error(FAILING_HOOK.error);
    },
    { name: FAILING_HOOK.name },
  );
  await events.ready();
  const auditGroup = events.hookGroup(FAILING_HOOK.event, FAILING_HOOK.name) as string;
  const deadLettered = waitForDeadLetter(ctx, auditGroup);
  return {
    done: Promise.all([sawEveryEvent.promise, deadLettered]).then(() => undefined),
    close: () => events.close(),
  };
}

/** How many dead letters of the session the demo looks through (oldest first). */
export const DEAD_LETTER_SCAN_LIMIT = 1000;

/**
 * Polls the dead-letter queue until a message the failing hook failed on in this run is there
 * (a session id used again may hold older runs' dead letters), or the timeout passes.
 */
async function waitForDeadLetter(ctx: DemoContext, group: string): Promise<void> {
  const deadline = Date.now() + ctx.timeoutMs;
  for (;;) {
    const records = await ctx.bus.getDeadLetterMessages(DEAD_LETTER_SCAN_LIMIT, { group, sessionId: ctx.sessionId });
    const record = records.find((r) => ctx.seenMessageIds.has(r.envelope.messageId));
    if (record) {
      // The bus's own times: right in every role, and not late by the polling interval.
      ctx.deadLetterMs = (record.lastFailedAt - record.envelope.timestamp) * 1000;
      ctx.timeline.log('bus', `dead-lettered ${record.envelope.eventType} from group ${group} after ${record.attempts} attempts`);
      return;
    }
    if (Date.now() > deadline) throw new Error(`no dead letter from group ${group} within ${ctx.timeoutMs} ms`);
    await sleep(10);
  }
}
