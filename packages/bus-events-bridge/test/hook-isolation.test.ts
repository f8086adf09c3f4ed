/**
 * Hooks over the bus are isolated from one another: a hook that changes its payload, or whose
 * subscription fails, affects no other hook, no retry, no dead-letter record and not the emitter.
 */
import { InvalidConfigError } from '@woodwork/bus-core';
import type { MemoryMessageBus } from '@woodwork/bus-memory';
import { describe, expect, it } from 'vitest';
import { MessageBusEventManager, defaultHookGroupName, type HookErrorInfo } from '../src/index.js';
import { busPerTest } from './support/memory-bus.js';
import { waitFor } from './support/waiting.js';

interface Events {
  'agent.thought': { session_id?: string; text: string; tags?: string[] };
}

let bus: MemoryMessageBus;
busPerTest(2, (b) => (bus = b));

describe('hook isolation on the bus', () => {
  it('gives every hook attempt its own payload: a hook that changes it affects no other hook, retry or dead letter', async () => {
    const manager = new MessageBusEventManager<Events>(bus, { componentId: 'app' });
    const seen: string[] = [];
    manager.on('agent.thought', (p, ctx) => {
      seen.push(`vandal#${ctx.attempt}:${p.text}:${(p.tags ?? []).join(',')}`);
      p.text = 'changed';
      p.tags?.push('vandalised');
      throw new Error('vandal failed');
    }, { name: 'vandal' });
    manager.on('agent.thought', async (p) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      seen.push(`reader:${p.text}:${(p.tags ?? []).join(',')}`);
    }, { name: 'reader' });
    await manager.emit('agent.thought', { session_id: 's1', text: 'original', tags: ['a'] });
    await waitFor('the dead letter', async () => (await bus.getDeadLetterMessages()).length === 1);
    await waitFor('the reader', () => seen.some((s) => s.startsWith('reader')));
    expect(seen.sort()).toEqual(['reader:original:a', 'vandal#1:original:a', 'vandal#2:original:a', 'vandal#3:original:a']);
    const [record] = await bus.getDeadLetterMessages();
    expect(record?.envelope.payload).toEqual({ session_id: 's1', text: 'original', tags: ['a'] });
    await manager.close();
  });

  it('publishes even when another hook could not subscribe, and reports that hook, not the emit', async () => {
    const reported: Array<{ error: unknown; info: HookErrorInfo }> = [];
    const manager = new MessageBusEventManager<Events>(bus, {
      componentId: 'app',
      onHookError: (error, info) => reported.push({ error, info }),
    });
    const elsewhere: string[] = [];
    const auditor = new MessageBusEventManager<Events>(bus, { componentId: 'auditor' });
    await auditor.registerHook('agent.thought', (p) => void elsewhere.push(p.text));
    // Another subscriber already holds the group name of manager's hook "broken" with another pattern.
    const taken = defaultHookGroupName({ componentId: 'app', event: 'agent.thought', hookName: 'broken' });
    await bus.subscribe('other.event', () => {}, { group: taken });
    manager.on('agent.thought', () => {}, { name: 'broken' });
    await expect(manager.emit('agent.thought', { text: 'still sent' })).resolves.toEqual({ text: 'still sent' });
    await waitFor('the other app', () => elsewhere.length === 1);
    expect(elsewhere).toEqual(['still sent']);
    expect(reported).toHaveLength(1);
    expect(reported[0]?.error).toBeInstanceOf(InvalidConfigError);
    expect(reported[0]?.info).toEqual({ event: 'agent.thought', hookName: 'broken', sessionId: null });
    // ready() still reports it once to whoever asks, and the failed hook is gone.
    await expect(manager.ready()).rejects.toBeInstanceOf(InvalidConfigError);
    await expect(manager.ready()).resolves.toBeUndefined();
    expect(manager.listHooks()).toEqual([]);
    await Promise.all([manager.close(), auditor.close()]);
  });
});
