import { BusClosedError, InvalidConfigError, InvalidMessageError, type JsonObject, type MessageEnvelope } from '@woodwork/bus-core';
import type { MemoryMessageBus } from '@woodwork/bus-memory';
import { describe, expect, it } from 'vitest';
import { MessageBusAdapter } from '../src/index.js';
import { adapterPerTest } from './support/adapter-per-test.js';
import { eventually, settle } from './support/memory.js';

let bus: MemoryMessageBus;
let adapter: MessageBusAdapter;
const setup = adapterPerTest((made) => ({ bus, adapter } = made));

describe('emitEvent', () => {
  it('publishes pub_sub by default and a hook gets the payload, the envelope and the delivery context', async () => {
    setup();
    const seen: Array<{ payload: JsonObject; envelope: MessageEnvelope; attempt: number; aborted: boolean }> = [];
    await adapter.registerHook('agent.thought', (payload, envelope, context) => {
      seen.push({ payload, envelope, attempt: context.attempt, aborted: context.signal.aborted });
    });
    const result = await adapter.emitEvent({
      eventType: 'agent.thought',
      payload: { text: 'thinking' },
      sessionId: 's1',
      componentSource: 'agent',
      metadata: { trace: 't-1' },
    });
    expect(result.messageId).toMatch(/^msg-[0-9a-f-]{36}$/);
    expect(result.duplicate).toBe(false);
    await eventually(() => expect(seen).toHaveLength(1));
    const [first] = seen;
    expect(first?.payload).toEqual({ text: 'thinking' });
    expect(first?.envelope).toMatchObject({
      messageId: result.messageId,
      sessionId: 's1',
      eventType: 'agent.thought',
      componentSource: 'agent',
      componentTarget: null,
      pattern: 'pub_sub',
      deliveryMode: 'at_least_once',
      metadata: { trace: 't-1' },
    });
    expect(first?.attempt).toBe(1);
    expect(first?.aborted).toBe(false);
  });

  it('rejects with the bus error instead of resolving false', async () => {
    setup();
    await expect(
      adapter.emitEvent({ eventType: 'x', payload: {}, sessionId: 'has space', componentSource: 'a' }),
    ).rejects.toBeInstanceOf(InvalidMessageError);
    await expect(
      adapter.emitEvent({ eventType: 'x', payload: { when: new Date() } as unknown as JsonObject, sessionId: 's', componentSource: 'a' }),
    ).rejects.toThrow(/payload\.when/);
    await expect(
      adapter.emitEvent({ eventType: 'x', payload: {}, sessionId: 's', componentSource: 'a', sesionId: 't' } as never),
    ).rejects.toThrow(/sesionId is not a field of an event/);
    await expect(
      adapter.sendToComponent('out', { eventType: 'x', payload: {}, sessionId: 's', componentSource: 'a', pattern: 'pub_sub' } as never),
    ).rejects.toThrow(/pattern is not a field/);
    await expect(adapter.emitEvent(null as never)).rejects.toBeInstanceOf(InvalidMessageError);
    await bus.close();
    await expect(adapter.emitEvent({ eventType: 'x', payload: {}, sessionId: 's', componentSource: 'a' })).rejects.toBeInstanceOf(
      BusClosedError,
    );
  });

  it('keeps an exactly_once message id so a repeated publish is reported as a duplicate', async () => {
    setup();
    const event = {
      eventType: 'order.placed',
      payload: { n: 1 },
      sessionId: 's',
      componentSource: 'shop',
      messageId: 'msg-fixed-1',
      deliveryMode: 'exactly_once' as const,
    };
    expect(await adapter.emitEvent(event)).toEqual({ messageId: 'msg-fixed-1', duplicate: false });
    expect(await adapter.emitEvent(event)).toEqual({ messageId: 'msg-fixed-1', duplicate: true });
  });
});

describe('sendToComponent and registerComponentListener', () => {
  it('delivers point_to_point messages only to the target component', async () => {
    setup();
    const output: string[] = [];
    const agent: string[] = [];
    await adapter.registerComponentListener('output', (payload) => void output.push(String(payload['text'])));
    await adapter.registerComponentListener('agent', (payload) => void agent.push(String(payload['text'])));
    const result = await adapter.sendToComponent('output', {
      eventType: 'agent.reply',
      payload: { text: 'hello' },
      sessionId: 's1',
      componentSource: 'agent',
    });
    expect(result.duplicate).toBe(false);
    await eventually(() => expect(output).toEqual(['hello']));
    await settle();
    expect(agent).toEqual([]);
  });

  it('a component listener gets targeted messages only, never broadcasts; hooks get broadcasts', async () => {
    setup();
    const listener: MessageEnvelope[] = [];
    const hook: MessageEnvelope[] = [];
    await adapter.registerComponentListener('output', (_payload, envelope) => void listener.push(envelope));
    await adapter.registerHook('*', (_payload, envelope) => void hook.push(envelope));
    await adapter.emitEvent({ eventType: 'input.received', payload: { q: 1 }, sessionId: 's1', componentSource: 'input' });
    // pub_sub with a target still broadcasts (the contract routes only point_to_point / stream by target).
    await adapter.emitEvent({
      eventType: 'input.echo',
      payload: {},
      sessionId: 's1',
      componentSource: 'input',
      componentTarget: 'output',
    });
    await adapter.sendToComponent('output', { eventType: 'agent.reply', payload: { a: 2 }, sessionId: 's1', componentSource: 'agent' });
    await eventually(() => expect(listener).toHaveLength(1));
    await eventually(() => expect(hook.map((e) => e.eventType)).toEqual(['input.received', 'input.echo']));
    await settle();
    expect(listener.map((e) => [e.eventType, e.pattern, e.componentTarget])).toEqual([['agent.reply', 'point_to_point', 'output']]);
    expect(hook.map((e) => e.eventType)).not.toContain('agent.reply');
  });

  it('narrows a listener to one session and one event type when asked', async () => {
    setup();
    const got: string[] = [];
    await adapter.registerComponentListener('output', (_p, e) => void got.push(`${e.sessionId}/${e.eventType}`), {
      sessionId: 's2',
      eventPattern: 'agent.reply',
    });
    const send = (sessionId: string, eventType: string) =>
      adapter.sendToComponent('output', { eventType, payload: {}, sessionId, componentSource: 'agent' });
    await send('s1', 'agent.reply');
    await send('s2', 'agent.other');
    await send('s2', 'agent.reply');
    await eventually(() => expect(got).toEqual(['s2/agent.reply']));
    await settle();
    expect(got).toEqual(['s2/agent.reply']);
  });

  it('replicas of one component share its messages: each is handled once', async () => {
    setup();
    const second = new MessageBusAdapter(bus);
    const handledBy: string[] = [];
    await adapter.registerComponentListener('worker', () => void handledBy.push('a'));
    await second.registerComponentListener('worker', () => void handledBy.push('b'));
    for (let i = 0; i < 20; i++) {
      await adapter.sendToComponent('worker', { eventType: 'job', payload: { i }, sessionId: `s${i}`, componentSource: 'boss' });
    }
    await eventually(() => expect(handledBy).toHaveLength(20));
    await settle();
    expect(handledBy).toHaveLength(20);
    await second.close({ closeBus: false });
  });
});

describe('handler errors', () => {
  it('are not swallowed: the bus retries, then dead-letters the message with the error', async () => {
    setup();
    let attempts = 0;
    await adapter.registerHook(
      'tool.called',
      () => {
        attempts++;
        throw new Error('hook exploded');
      },
      { componentId: 'audit' },
    );
    await adapter.emitEvent({ eventType: 'tool.called', payload: { tool: 'search' }, sessionId: 's1', componentSource: 'agent', maxRetries: 2 });
    await eventually(async () => expect(await bus.getDeadLetterMessages()).toHaveLength(1));
    const [record] = await bus.getDeadLetterMessages();
    expect(attempts).toBe(3);
    expect(record?.attempts).toBe(3);
    expect(record?.error.message).toBe('hook exploded');
    expect(record?.envelope.payload).toEqual({ tool: 'search' });
  });

  it('an async handler that rejects fails its attempt the same way', async () => {
    setup();
    const attempts: number[] = [];
    await adapter.registerComponentListener('flaky', async (_payload, _envelope, context) => {
      attempts.push(context.attempt);
      if (context.attempt < 3) throw new Error(`attempt ${context.attempt} failed`);
    });
    await adapter.sendToComponent('flaky', { eventType: 'work', payload: {}, sessionId: 's', componentSource: 'boss' });
    await eventually(() => expect(attempts).toEqual([1, 2, 3]));
    await settle();
    expect(await bus.getDeadLetterMessages()).toEqual([]);
  });
});

describe('registration bookkeeping', () => {
  it('unregister stops delivery, and is false for an unknown id', async () => {
    setup();
    const got: number[] = [];
    const id = await adapter.registerHook('tick', (payload) => void got.push(Number(payload['n'])));
    expect(adapter.registrations()).toEqual([id]);
    await adapter.emitEvent({ eventType: 'tick', payload: { n: 1 }, sessionId: 's', componentSource: 'clock' });
    await eventually(() => expect(got).toEqual([1]));
    expect(await adapter.unregister(id)).toBe(true);
    expect(await adapter.unregister(id)).toBe(false);
    expect(await adapter.unregister('hook-999')).toBe(false);
    await adapter.emitEvent({ eventType: 'tick', payload: { n: 2 }, sessionId: 's', componentSource: 'clock' });
    await settle();
    expect(got).toEqual([1]);
    expect(adapter.registrations()).toEqual([]);
  });

  it('local ids stay unique after unregistering', async () => {
    setup();
    const a = await adapter.registerHook('x', () => undefined);
    await adapter.unregister(a);
    const b = await adapter.registerHook('x', () => undefined);
    const c = await adapter.registerComponentListener('out', () => undefined);
    const d = await adapter.registerComponentListener('out', () => undefined);
    expect(new Set([a, b, c, d]).size).toBe(4);
    expect(c).toMatch(/^component-out-/);
  });

  it('rejects a handler that is not a function and bad subscribe options with typed errors', async () => {
    setup();
    await expect(adapter.registerHook('x', 'nope' as never)).rejects.toBeInstanceOf(InvalidConfigError);
    await expect(adapter.registerHook('x.*', () => undefined)).rejects.toBeInstanceOf(InvalidMessageError);
    await expect(adapter.registerComponentListener('bad id', () => undefined)).rejects.toThrow(/componentId/);
    expect(() => new MessageBusAdapter({} as never)).toThrow(InvalidConfigError);
  });

  it('close unregisters everything and closes the bus; later calls reject', async () => {
    setup();
    await adapter.registerHook('x', () => undefined);
    await adapter.registerComponentListener('out', () => undefined);
    expect((await bus.healthCheck()).metrics.activeSubscriptions).toBe(2);
    await adapter.close();
    await adapter.close();
    await expect(bus.publish({ eventType: 'x', sessionId: 's', componentSource: 'a' })).rejects.toBeInstanceOf(BusClosedError);
    await expect(adapter.emitEvent({ eventType: 'x', payload: {}, sessionId: 's', componentSource: 'a' })).rejects.toBeInstanceOf(
      BusClosedError,
    );
    await expect(adapter.registerHook('x', () => undefined)).rejects.toBeInstanceOf(BusClosedError);
  });

  it('close({ closeBus: false }) leaves a shared bus running', async () => {
    setup();
    const other = new MessageBusAdapter(bus);
    await other.registerHook('x', () => undefined);
    await other.close({ closeBus: false });
    expect((await bus.healthCheck()).metrics.activeSubscriptions).toBe(0);
    const got: string[] = [];
    await adapter.registerHook('x', (_p, e) => void got.push(e.eventType));
    await adapter.emitEvent({ eventType: 'x', payload: {}, sessionId: 's', componentSource: 'a' });
    await eventually(() => expect(got).toEqual(['x']));
  });
});
