/**
 * `--role`: one component per process. A memory bus shared by four `runDemo` calls in this process
 * stands for a backend that crosses processes (each role has its own components, summary and
 * timeline; only the bus is shared), so the role code runs now, before the Redis and NATS backends.
 */
import { MessageBusFactory, StreamCancelledError, StreamManager } from '@woodwork/bus-adapter';
import type { MessageBus } from '@woodwork/bus-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DemoSummary } from '../src/report.js';
import { demoBusConfig, runDemo, type DemoOptions, type Role } from '../src/run.js';
import { FAILING_HOOK, QUESTION, RAW_TOOL_OUTPUT, answerChunks, normalizeToolResult } from '../src/script.js';

const expectedChunks = answerChunks(normalizeToolResult({ session_id: 's', tool: 'search', output: RAW_TOOL_OUTPUT }).output);

let bus: MessageBus;
beforeEach(async () => {
  // The bus the demo itself would make from an empty environment (memory, quick retries).
  bus = await MessageBusFactory.createMessageBus(demoBusConfig({}));
});
afterEach(async () => {
  await bus.close();
});

/** Starts hooks, output and agent, and once all three are subscribed, input (as the README says). */
async function runRoles(sessionId: string): Promise<Record<Exclude<Role, 'all'>, DemoSummary>> {
  const base: Omit<DemoOptions, 'role'> = { sessionId, delayMs: 0, window: 3, timeoutMs: 10_000, print: false, env: {} };
  const listeners = (['hooks', 'output', 'agent'] as const).map((role) => {
    let started!: () => void;
    const subscribed = new Promise<void>((resolve) => (started = resolve));
    return { role, subscribed, summary: runDemo({ ...base, role }, { bus, onStarted: started }) };
  });
  await Promise.race([Promise.all(listeners.map((l) => l.subscribed)), Promise.all(listeners.map((l) => l.summary))]);
  const input = await runDemo({ ...base, role: 'input' }, { bus });
  const [hooks, output, agent] = await Promise.all(listeners.map((l) => l.summary));
  return { hooks: hooks as DemoSummary, output: output as DemoSummary, agent: agent as DemoSummary, input };
}

describe('the demo with one role per "process"', () => {
  it('splits the run between the roles: each reports its own part', async () => {
    const { hooks, output, agent, input } = await runRoles('roles-1');
    expect(input.question).toBe(QUESTION);
    expect(input.events_emitted).toEqual({ 'input.received': 1 });
    expect(agent.events_emitted).toEqual({ 'agent.thinking': 1, 'tool.result': 1, 'agent.answered': 1 });
    expect(agent.rewritten?.after).toBe('The Eiffel Tower is 330 metres tall.');
    expect(agent.stream.chunks_sent).toEqual(expectedChunks);
    expect(output.stream.chunks_received).toEqual(expectedChunks);
    expect(output.events_emitted).toEqual({ 'output.rendered': 1 });
    expect(hooks.hook_runs).toEqual({ log: 5 });
    expect(hooks.hook_failures).toEqual({ [FAILING_HOOK.name]: 3 });
    expect(hooks.dead_letters).toMatchObject([{ event_type: 'tool.result', hook: 'audit', attempts: 3 }]);
    for (const other of [input, agent, output]) expect(other.dead_letters).toEqual([]);
  });

  it('reports only its own run when a session id is used again (durable backends keep old dead letters)', async () => {
    await runRoles('reused');
    const { hooks, output } = await runRoles('reused');
    expect(hooks.hook_runs).toEqual({ log: 5 });
    expect(hooks.hook_failures).toEqual({ [FAILING_HOOK.name]: 3 });
    expect(hooks.dead_letters).toHaveLength(1);
    expect(output.dead_letters).toEqual([]);
    expect(output.stream.chunks_received).toEqual(expectedChunks);
    // Both runs' dead letters are still in the queue: nothing was purged behind the user's back.
    expect(await bus.getDeadLetterMessages(10, { sessionId: 'reused' })).toHaveLength(2);
  });

  it("cancels a stream left over from another session's run instead of rendering it", async () => {
    // A producer of an earlier run opened a stream to output and never ended it.
    const crashed = new StreamManager(bus, { componentId: 'agent-earlier' });
    await crashed.start();
    const leftover = await crashed.createStream<string>({ target: 'output', sessionId: 'earlier-run' });
    await leftover.write('stale ');
    const { output } = await runRoles('fresh-run');
    expect(output.stream.chunks_received).toEqual(expectedChunks);
    await expect(
      (async () => {
        for (;;) await leftover.write('more ');
      })(),
    ).rejects.toBeInstanceOf(StreamCancelledError);
    await crashed.close();
  });
});
