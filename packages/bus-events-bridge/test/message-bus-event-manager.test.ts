import { BusClosedError, InvalidConfigError, InvalidMessageError, type MessageEnvelope } from '@woodwork/bus-core';
import type { MemoryMessageBus } from '@woodwork/bus-memory';
import { describe, expect, it } from 'vitest';
import { MessageBusEventManager, defaultHookGroupName, type HookContext } from '../src/index.js';
import { busPerTest } from './support/memory-bus.js';
import { barrier, waitFor, within } from './support/waiting.js';

interface Events {
  'agent.thought': { session_id?: string; sessionId?: string; text: string };
  'tool.call': { tool: string };
}

let bus: MemoryMessageBus;
busPerTest(2, (b) => (bus = b));

describe('MessageBusEventManager', () => {
  it('delivers hooks over the bus with the payload as emitted; pipes run locally for the emitter', async () => {
    const manager = new MessageBusEventManager<Events>(bus, { componentId: 'app' });
    const seen: Array<{ text: string; ctx: HookContext }> = [];
    manager.on('agent.thought', (p, ctx) => void seen.push({ text: p.text, ctx }));
    manager.addPipe('agent.thought', (p) => ({ ...p, text: `${p.text}!` }));
    manager.addPipe('agent.thought', (p) => ({ ...p, text: `${p.text}?` }));
    const result = await manager.emit('agent.thought', { session_id: 's1', text: 'hello' });
    expect(result).toEqual({ session_id: 's1', text: 'hello!?' });
    await waitFor('the hook', () => seen.length === 1);
    const [{ text, ctx }] = seen as [(typeof seen)[0]];
    expect(text).toBe('hello');
    expect(ctx).toMatchObject({ event: 'agent.thought', sessionId: 's1', attempt: 1, componentSource: 'app' });
    expect(ctx.messageId).toMatch(/^msg-/);
    const health = await bus.healthCheck();
    expect(health.groups.map((g) => [g.group, g.durable])).toEqual([[manager.hookGroup('agent.thought', 'h0'), true]]);
    await manager.close();
  });

  it('publishes pub_sub envelopes whose event type is the event name, from the componentId', async () => {
    const manager = new MessageBusEventManager<Events>(bus, { componentId: 'emitter', maxRetries: 0 });
    const envelopes: MessageEnvelope[] = [];
    await bus.subscribe('tool.call', (e) => void envelopes.push(e));
    await manager.emit('tool.call', { tool: 'search' });
    await waitFor('the envelope', () => envelopes.length === 1);
    expect(envelopes[0]).toMatchObject({
      eventType: 'tool.call',
      pattern: 'pub_sub',
      componentSource: 'emitter',
      sessionId: 'default',
      payload: { tool: 'search' },
      maxRetries: 0,
    });
  });

  it('dead-letters a failing hook with its error after the retries; other hooks and the emitter are unaffected', async () => {
    const manager = new MessageBusEventManager<Events>(bus, { componentId: 'app' });
    const attempts: number[] = [];
    const ok: string[] = [];
    manager.on('agent.thought', (_p, ctx) => {
      attempts.push(ctx.attempt);
      throw new Error('hook exploded');
    }, { name: 'fragile' });
    manager.on('agent.thought', (p) => void ok.push(p.text), { name: 'steady' });
    await expect(manager.emit('agent.thought', { session_id: 's1', text: 'x' })).resolves.toEqual({ session_id: 's1', text: 'x' });
    await waitFor('the dead letter', async () => (await bus.getDeadLetterMessages()).length === 1);
    const [record] = await bus.getDeadLetterMessages();
    expect(record).toMatchObject({
      group: manager.hookGroup('agent.thought', 'fragile'),
      attempts: 3,
      error: { name: 'Error', message: 'hook exploded' },
      envelope: { eventType: 'agent.thought', sessionId: 's1', payload: { session_id: 's1', text: 'x' } },
    });
    expect(attempts).toEqual([1, 2, 3]);
    expect(ok).toEqual(['x']);
    await manager.close();
  });

  it('shares each hook between replicas of one app: every message is handled once', async () => {
    const replicaA = new MessageBusEventManager<Events>(bus, { componentId: 'worker' });
    const replicaB = new MessageBusEventManager<Events>(bus, { componentId: 'worker' });
    const handled: Array<{ replica: string; messageId: string | null; text: string }> = [];
    for (const [name, replica] of [['a', replicaA], ['b', replicaB]] as const) {
      // Both replicas register the same hooks in the same order, so their groups agree.
      replica.on('agent.thought', async (p, ctx) => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        handled.push({ replica: name, messageId: ctx.messageId, text: p.text });
      });
    }
    await Promise.all([replicaA.ready(), replicaB.ready()]);
    expect(replicaA.hookGroup('agent.thought', 'h0')).toBe(replicaB.hookGroup('agent.thought', 'h0'));
    const total = 40;
    for (let i = 0; i < total; i++) {
      await (i % 2 === 0 ? replicaA : replicaB).emit('agent.thought', { session_id: `s${i % 8}`, text: `m${i}` });
    }
    await waitFor('every message', () => handled.length >= total);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(handled).toHaveLength(total);
    expect(new Set(handled.map((h) => h.messageId)).size).toBe(total);
    expect(handled.map((h) => h.text).sort()).toEqual(Array.from({ length: total }, (_, i) => `m${i}`).sort());
    const health = await bus.healthCheck();
    expect(health.groups).toHaveLength(1);
    expect(health.groups[0]?.consumers).toBe(2);
    await Promise.all([replicaA.close(), replicaB.close()]);
  });

  it('fans a hook event out to every app (each app has its own group)', async () => {
    const emitter = new MessageBusEventManager<Events>(bus, { componentId: 'emitter' });
    const auditor = new MessageBusEventManager<Events>(bus, { componentId: 'auditor' });
    const metrics = new MessageBusEventManager<Events>(bus, { componentId: 'metrics' });
    const seen: string[] = [];
    await auditor.registerHook('tool.call', (p) => void seen.push(`auditor:${p.tool}`));
    await metrics.registerHook('tool.call', (p) => void seen.push(`metrics:${p.tool}`));
    await emitter.emit('tool.call', { tool: 'grep' });
    await waitFor('both apps', () => seen.length === 2);
    expect(seen.sort()).toEqual(['auditor:grep', 'metrics:grep']);
  });

  it('runs hooks of different sessions concurrently and routes by session id', async () => {
    const manager = new MessageBusEventManager<Events>(bus, { componentId: 'app', defaultSessionId: 'main' });
    const sessions: string[] = [];
    const both = barrier(2);
    manager.on('agent.thought', async (p, ctx) => {
      sessions.push(ctx.sessionId);
      if (p.text === 'wait') await within('the other session', both.arrive());
    });
    await manager.emit('agent.thought', { session_id: 'left', text: 'wait' });
    await manager.emit('agent.thought', { sessionId: 'right', text: 'wait' });
    await manager.emit('agent.thought', { text: 'no session' });
    await waitFor('three deliveries', () => sessions.length === 3);
    expect(sessions.sort()).toEqual(['left', 'main', 'right']);
    expect(await bus.getDeadLetterMessages()).toEqual([]);
  });

  it('rejects an event name the bus cannot carry with a typed error, before anything is sent', async () => {
    const manager = new MessageBusEventManager(bus, { componentId: 'app' });
    const bad = (): unknown => manager.on('agent thought', () => {});
    expect(bad).toThrow(InvalidMessageError);
    expect(bad).toThrow(/invalid message: event must be dot-separated tokens/);
    expect(() => manager.addPipe('a.*', () => undefined)).toThrow(/invalid message: event/);
    await expect(manager.emit('bad>name', {})).rejects.toMatchObject({ name: 'InvalidMessageError', field: 'event' });
    expect(manager.listHooks()).toEqual([]);
    expect((await bus.healthCheck()).metrics.messagesPublishedTotal).toBe(0);
  });

  it('rejects the emit when the publish fails, without running the pipes', async () => {
    const manager = new MessageBusEventManager(bus, { componentId: 'app' });
    let piped = 0;
    manager.addPipe('agent.thought', () => void piped++);
    await expect(manager.emit('agent.thought', { session_id: 'bad.session' })).rejects.toMatchObject({ field: 'sessionId' });
    await expect(manager.emit('agent.thought', { when: new Date() })).rejects.toThrow(/payload.when must be JSON-serialisable/);
    await bus.close();
    await expect(manager.emit('agent.thought', { text: 'x' })).rejects.toBeInstanceOf(BusClosedError);
    expect(piped).toBe(0);
  });

  it('reports a hook whose subscription failed on ready() and onHookError; the next emit still publishes', async () => {
    const reported: string[] = [];
    const manager = new MessageBusEventManager(bus, { componentId: 'app', onHookError: (_e, info) => void reported.push(info.hookName) });
    // Another subscriber already holds the group name with a different event pattern.
    await bus.subscribe('other.event', () => {}, { group: defaultHookGroupName({ componentId: 'app', event: 'agent.thought', hookName: 'h0' }) });
    manager.on('agent.thought', () => {});
    await expect(manager.ready()).rejects.toBeInstanceOf(InvalidConfigError);
    expect(reported).toEqual(['h0']);
    expect(manager.listHooks()).toEqual([]);
    await expect(manager.registerHook('agent.thought', () => {}, { name: 'h0' })).rejects.toThrow(/already exists with eventPattern/);
    await expect(manager.emit('agent.thought', { text: 'x' })).resolves.toEqual({ text: 'x' });
  });

  it('stops delivering to a removed hook and to every hook after close; the bus stays open', async () => {
    const manager = new MessageBusEventManager<Events>(bus, { componentId: 'app' });
    const seen: string[] = [];
    const hook = (p: Events['tool.call']): void => void seen.push(p.tool);
    await manager.registerHook('tool.call', hook);
    await manager.emit('tool.call', { tool: 'one' });
    await waitFor('first delivery', () => seen.length === 1);
    expect(manager.removeHook('tool.call', hook)).toBe(true);
    await manager.ready();
    expect((await bus.healthCheck()).metrics.activeSubscriptions).toBe(0);
    manager.on('tool.call', hook);
    await manager.close();
    await manager.close();
    expect((await bus.healthCheck()).metrics.activeSubscriptions).toBe(0);
    expect(() => manager.on('tool.call', hook)).toThrow(BusClosedError);
    await expect(manager.emit('tool.call', { tool: 'two' })).rejects.toBeInstanceOf(BusClosedError);
    expect(seen).toEqual(['one']);
  });

  it('checks its options', () => {
    expect(() => new MessageBusEventManager(bus, {} as never)).toThrow(/invalid config: componentId must be 1-128/);
    expect(() => new MessageBusEventManager(bus, { componentId: 'a', colour: 'red' } as never)).toThrow(/colour is not a known option/);
    expect(() => new MessageBusEventManager(bus, { componentId: 'a', onHookError: 'log' } as never)).toThrow(/invalid config: onHookError must be a function/);
    expect(() => new MessageBusEventManager({} as never, { componentId: 'a' })).toThrow(/invalid config: bus must be a MessageBus/);
    const manager = new MessageBusEventManager(bus, { componentId: 'a', groupName: () => 'not.valid' });
    expect(() => manager.on('x', () => {})).toThrow(/invalid config: groupName must return a group name/);
  });
});

describe('defaultHookGroupName', () => {
  it('is stable, readable, within 128 characters, and keeps look-alike events apart', () => {
    const a = defaultHookGroupName({ componentId: 'app', event: 'agent.thought', hookName: 'h0' });
    expect(a).toMatch(/^app-hook-agent_thought-h0-[0-9a-f]{8}$/);
    expect(defaultHookGroupName({ componentId: 'app', event: 'agent.thought', hookName: 'h0' })).toBe(a);
    expect(defaultHookGroupName({ componentId: 'app', event: 'agent_thought', hookName: 'h0' })).not.toBe(a);
    const long = defaultHookGroupName({ componentId: 'c'.repeat(128), event: 'e'.repeat(255), hookName: 'h0' });
    expect(long).toMatch(/^[A-Za-z0-9_-]{128}$/);
  });
});
