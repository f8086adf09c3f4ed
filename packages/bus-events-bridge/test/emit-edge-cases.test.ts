/**
 * Edge cases a demanding user hits: listeners added or removed while an emit runs, hooks on the bus
 * running concurrently, a full queue failing the emit (typed, before any pipe), and group names that
 * stay the same across restarts and releases and are valid NATS durable names and Redis group names.
 */
import { QueueFullError } from '@woodwork/bus-core';
import { createMessageBus } from '@woodwork/bus-memory';
import { describe, expect, it } from 'vitest';
import { EventManager, MessageBusEventManager, defaultHookGroupName } from '../src/index.js';
import { makeBus } from './support/memory-bus.js';
import { barrier, waitFor, within } from './support/waiting.js';

interface Events {
  'agent.thought': { session_id?: string; text: string };
}

describe('listeners changed during an emit', () => {
  it('runs the listeners present when the emit started; changes apply from the next emit', async () => {
    const manager = new EventManager<Events>();
    const seen: string[] = [];
    const late = (): void => void seen.push('late hook');
    const secondPipe = (p: Events['agent.thought']): Events['agent.thought'] => ({ ...p, text: `${p.text}+2` });
    manager.on('agent.thought', () => {
      seen.push('first hook');
      manager.on('agent.thought', late);
      manager.removeHook('agent.thought', 'h1');
    });
    manager.on('agent.thought', () => void seen.push('second hook'));
    manager.addPipe('agent.thought', (p) => {
      manager.removePipe('agent.thought', secondPipe);
      return { ...p, text: `${p.text}+1` };
    });
    manager.addPipe('agent.thought', secondPipe);
    await expect(manager.emit('agent.thought', { text: 'a' })).resolves.toEqual({ text: 'a+1+2' });
    expect(seen).toEqual(['first hook', 'second hook']);
    seen.length = 0;
    await expect(manager.emit('agent.thought', { text: 'b' })).resolves.toEqual({ text: 'b+1' });
    expect(seen).toEqual(['first hook', 'late hook']);
  });
});

describe('MessageBusEventManager edge cases', () => {
  it('runs the hooks of one event concurrently on the bus, even within one session', async () => {
    const bus = makeBus(0);
    const manager = new MessageBusEventManager<Events>(bus, { componentId: 'app' });
    const both = barrier(2);
    const done: string[] = [];
    // Each waits for the other: run one after the other they would time out and dead-letter.
    manager.on('agent.thought', async () => {
      await within('the other hook', both.arrive(), 10_000);
      done.push('a');
    });
    manager.on('agent.thought', async () => {
      await within('the other hook', both.arrive(), 10_000);
      done.push('b');
    });
    await manager.emit('agent.thought', { session_id: 's1', text: 'x' });
    await waitFor('both hooks', () => done.length === 2);
    expect(done.sort()).toEqual(['a', 'b']);
    expect(await bus.getDeadLetterMessages()).toEqual([]);
    await manager.close();
    await bus.close();
  });

  it('rejects the emit with QueueFullError when a hook queue is full, without running the pipes', async () => {
    const bus = createMessageBus({ maxQueueSize: 1, onQueueFull: 'reject', closeTimeoutMs: 100 });
    const manager = new MessageBusEventManager<Events>(bus, { componentId: 'app' });
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => (release = resolve));
    manager.on('agent.thought', () => blocked);
    let piped = 0;
    manager.addPipe('agent.thought', () => void piped++);
    await manager.emit('agent.thought', { text: 'fills the queue' });
    expect(piped).toBe(1);
    const error = await manager.emit('agent.thought', { text: 'no room' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueFullError);
    expect(error).toMatchObject({ code: 'QUEUE_FULL' });
    expect(piped).toBe(1);
    release();
    await manager.close();
    await bus.close();
  });
});

describe('hook group names', () => {
  it('are the same in every process and release (pinned), so a restarted app resumes its groups', () => {
    // Changing these breaks every deployed app's groups: their replicas would start new, empty ones.
    expect(defaultHookGroupName({ componentId: 'app', event: 'agent.thought', hookName: 'h0' })).toBe(PINNED.short);
    expect(defaultHookGroupName({ componentId: 'planner-2', event: 'Tool_Call.v2.done', hookName: 'audit-log' })).toBe(PINNED.mixed);
  });

  it('are valid NATS durable names and Redis group names for every event name the bus accepts', () => {
    const events = ['a', 'agent.thought', 'A-b_c.D-e_f.0', `${'x'.repeat(120)}.${'y'.repeat(134)}`, 'a.b.c.d.e.f.g.h'];
    const components = ['a', 'app_1', 'c'.repeat(128)];
    const hooks = ['h0', 'audit', 'z'.repeat(64)];
    const names = new Set<string>();
    for (const event of events) {
      for (const componentId of components) {
        for (const hookName of hooks) {
          const name = defaultHookGroupName({ componentId, event, hookName });
          // NATS: no whitespace, ".", "*", ">", path separators or control characters; Redis: any
          // string, but core's name rule (1-128 of [A-Za-z0-9_-]) must hold for subscribe to accept it.
          expect(name).toMatch(/^[A-Za-z0-9_-]{1,128}$/);
          names.add(name);
        }
      }
    }
    expect(names.size).toBe(events.length * components.length * hooks.length);
  });
});

const PINNED = {
  short: 'app-hook-agent_thought-h0-ad1f35de',
  mixed: 'planner-2-hook-Tool_Call_v2_done-audit-log-ade31751',
};
