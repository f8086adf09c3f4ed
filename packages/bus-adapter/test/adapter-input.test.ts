/**
 * What the adapter does with input a caller gets wrong, and with a listener that comes late: a
 * missing target must never turn a `sendToComponent` into a broadcast, a misspelt option must be
 * named against the adapter's own options, and messages sent before a component listens wait for it.
 */
import { InvalidConfigError, InvalidMessageError, type MessageEnvelope } from '@woodwork/bus-core';
import type { MemoryMessageBus } from '@woodwork/bus-memory';
import { describe, expect, it } from 'vitest';
import type { MessageBusAdapter } from '../src/index.js';
import { adapterPerTest } from './support/adapter-per-test.js';
import { eventually, settle } from './support/memory.js';

let bus: MemoryMessageBus;
let adapter: MessageBusAdapter;
const setup = adapterPerTest((made) => ({ bus, adapter } = made));

const event = { eventType: 'agent.reply', payload: { text: 'hi' }, sessionId: 's1', componentSource: 'agent' };

describe('sendToComponent without a valid target', () => {
  it.each([undefined, null, '', 'has space', 42])('rejects target %j naming targetComponent, and nobody receives anything', async (target) => {
    setup();
    const seen: MessageEnvelope[] = [];
    await adapter.registerHook('*', (_p, e) => void seen.push(e));
    const error = await adapter.sendToComponent(target as never, event).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidMessageError);
    expect((error as InvalidMessageError).field).toBe('targetComponent');
    await settle();
    expect(seen).toEqual([]);
    expect((await bus.healthCheck()).metrics.messagesPublishedTotal).toBe(0);
  });
});

describe('adapter options', () => {
  it('a misspelt hook or listener option is an InvalidConfigError listing the adapter’s own options', async () => {
    setup();
    const listener = await adapter.registerComponentListener('out', () => undefined, { eventPatern: 'x' } as never).catch((e: unknown) => e);
    expect(listener).toBeInstanceOf(InvalidConfigError);
    expect((listener as InvalidConfigError).key).toBe('eventPatern');
    expect((listener as InvalidConfigError).allowed).toEqual(['sessionId', 'eventPattern', 'concurrency', 'handlerTimeoutMs']);
    const hook = await adapter.registerHook('x', () => undefined, { componentId: 'c', targetedOnly: true } as never).catch((e: unknown) => e);
    expect(hook).toBeInstanceOf(InvalidConfigError);
    expect((hook as InvalidConfigError).key).toBe('targetedOnly');
    expect((hook as InvalidConfigError).allowed).toEqual(['componentId', 'group', 'sessionId', 'concurrency', 'handlerTimeoutMs']);
    expect(await adapter.registerHook('x', () => undefined, null as never).catch((e: unknown) => e)).toBeInstanceOf(InvalidConfigError);
    expect((await bus.healthCheck()).metrics.activeSubscriptions).toBe(0);
  });
});

describe('a component listener that registers late', () => {
  it('still gets, in order, what was sent to its component before it listened', async () => {
    setup();
    for (let n = 1; n <= 5; n++) await adapter.sendToComponent('output', { ...event, payload: { n } });
    const got: number[] = [];
    await adapter.registerComponentListener('output', (payload) => void got.push(Number(payload['n'])));
    await eventually(() => expect(got).toEqual([1, 2, 3, 4, 5]));
  });
});

describe('routing by the backend, not by filtering', () => {
  it('broadcasts never reach a component listener’s group: nothing is delivered to it, nothing is queued', async () => {
    setup();
    const got: string[] = [];
    await adapter.registerComponentListener('output', (_p, e) => void got.push(e.eventType));
    for (let i = 0; i < 10; i++) await adapter.emitEvent({ ...event, eventType: 'agent.thought', componentTarget: 'output' });
    await settle();
    const health = await bus.healthCheck();
    expect(health.metrics.messagesPublishedTotal).toBe(10);
    expect(health.metrics.messagesConsumedTotal).toBe(0);
    expect(health.groups).toEqual([expect.objectContaining({ group: 'output~targeted', componentId: 'output', pending: 0, lag: 0 })]);
    await adapter.sendToComponent('output', event);
    await eventually(() => expect(got).toEqual(['agent.reply']));
  });
});
