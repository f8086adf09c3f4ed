/**
 * Type-level checks: `lint` (tsc over test/) fails if a typed event map stops catching wrong
 * event names, wrong payloads or wrong pipe results. The runtime part only proves the calls work.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { EventManager, MessageBusEventManager, type HookContext } from '../src/index.js';
import { makeBus } from './support/memory-bus.js';

interface AgentEvents {
  'agent.thought': { session_id: string; text: string };
  'tool.result': { sessionId?: string; tool: string; ok: boolean };
}

describe('typed event maps', () => {
  it('type-checks event names, payloads, hooks and pipes', async () => {
    const manager = new EventManager<AgentEvents>();
    manager.on('agent.thought', (payload, context) => {
      expectTypeOf(payload).toEqualTypeOf<{ session_id: string; text: string }>();
      expectTypeOf(context).toEqualTypeOf<HookContext>();
    });
    manager.addPipe('tool.result', (payload) => {
      expectTypeOf(payload.ok).toEqualTypeOf<boolean>();
      return { ...payload, ok: !payload.ok };
    });
    manager.addPipe('tool.result', async () => undefined);
    const result = await manager.emit('tool.result', { tool: 'grep', ok: true });
    expectTypeOf(result).toEqualTypeOf<AgentEvents['tool.result']>();
    expect(result).toEqual({ tool: 'grep', ok: false });

    // @ts-expect-error an event the map does not have
    manager.on('agent.dreamt', () => {});
    // @ts-expect-error a payload missing a required field
    void manager.emit('agent.thought', { session_id: 's1' }).catch(() => {});
    // @ts-expect-error a payload field of the wrong type
    void manager.emit('tool.result', { tool: 'grep', ok: 'yes' }).catch(() => {});
    // @ts-expect-error a pipe must return the payload type (or nothing)
    manager.addPipe('agent.thought', () => 42);
    // @ts-expect-error a hook of one event cannot take another event's payload
    manager.on('agent.thought', (payload: AgentEvents['tool.result']) => payload.ok);
  });

  it('types the bus manager the same way', async () => {
    const bus = makeBus();
    const manager = new MessageBusEventManager<AgentEvents>(bus, { componentId: 'typed' });
    manager.on('tool.result', (payload) => {
      expectTypeOf(payload.tool).toEqualTypeOf<string>();
    });
    const out = await manager.emit('agent.thought', { session_id: 's1', text: 'x' });
    expectTypeOf(out).toEqualTypeOf<AgentEvents['agent.thought']>();
    // @ts-expect-error unknown event on the bus manager
    void manager.emit('nope', {}).catch(() => {});
    await manager.close();
    await bus.close();
  });

  it('accepts any event without a map', async () => {
    const manager = new EventManager();
    manager.on('anything.goes', (payload) => {
      expectTypeOf(payload).toEqualTypeOf<Record<string, unknown>>();
    });
    await expect(manager.emit('anything.goes', { x: 1 })).resolves.toEqual({ x: 1 });
  });
});
