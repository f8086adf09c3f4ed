/**
 * Hooks over the bus are isolated from one another: a hook that changes its payload affects no
 * other hook, no retry and no dead-letter record.
 */
import type { MemoryMessageBus } from '@woodwork/bus-memory';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MessageBusEventManager } from '../src/index.js';
import { makeBus, waitFor } from './support.js';

interface Events {
  'agent.thought': { session_id?: string; text: string; tags?: string[] };
}

let bus: MemoryMessageBus;
beforeEach(() => {
  bus = makeBus(2);
});
afterEach(async () => {
  await bus.close();
});

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
});
