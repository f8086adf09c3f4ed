/**
 * A component that both streams and listens: its StreamManager and its component listeners must
 * not take each other's messages. The stream protocol travels to `<component>--streams`, so a
 * listener never sees it and a listener that registers late still gets what waited for it.
 */
import type { EnvelopeInit, JsonValue, MessageEnvelope } from '@woodwork/bus-core';
import type { MemoryMessageBus } from '@woodwork/bus-memory';
import { describe, expect, it } from 'vitest';
import { MAX_STREAMING_ID, MessageBusAdapter, StreamManager, streamInstanceAddress, streamTargetOf } from '../src/index.js';
import { faultyBus, type Fault } from './support/faulty-bus.js';
import { eventually, memoryBus, settle } from './support/memory.js';
import { collect } from './support/read-stream.js';
import { streamManagersClosedAfterEach } from './support/stream-managers.js';

let bus: MemoryMessageBus;
let adapter: MessageBusAdapter;
// The adapter owns the bus: closing it closes the bus.
const managers = streamManagersClosedAfterEach(() => bus, () => adapter?.close());

describe('StreamManager and component listeners of the same component', () => {
  it('a listener registered after a message was sent to its component gets it, though the component’s StreamManager runs', async () => {
    bus = memoryBus();
    adapter = new MessageBusAdapter(bus);
    await managers.start({ componentId: 'agent' });
    await adapter.sendToComponent('agent', { eventType: 'input.question', payload: { q: 'why?' }, sessionId: 's1', componentSource: 'input' });
    const got: string[] = [];
    await adapter.registerComponentListener('agent', (payload) => void got.push(String(payload['q'])));
    await eventually(() => expect(got).toEqual(['why?']));
  });

  it('a * listener sees the component’s messages, never the stream protocol, while the stream flows', async () => {
    bus = memoryBus();
    adapter = new MessageBusAdapter(bus);
    const outputSaw: MessageEnvelope[] = [];
    const agentSaw: MessageEnvelope[] = [];
    await adapter.registerComponentListener('output', (_p, e) => void outputSaw.push(e));
    await adapter.registerComponentListener('agent', (_p, e) => void agentSaw.push(e));
    const done: Promise<JsonValue[]>[] = [];
    await managers.start({ componentId: 'output', onStream: (reader) => void done.push(collect(reader)) });
    const agent = await managers.start({ componentId: 'agent' });
    const writer = await agent.createStream({ target: 'output', sessionId: 's1', window: 2 });
    for (let i = 0; i < 10; i++) await writer.write(i);
    await writer.end();
    await adapter.sendToComponent('output', { eventType: 'agent.done', payload: {}, sessionId: 's1', componentSource: 'agent' });
    await eventually(() => expect(done).toHaveLength(1));
    expect(await done[0]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await eventually(() => expect(outputSaw).toHaveLength(1));
    await settle();
    expect(outputSaw.map((e) => e.eventType)).toEqual(['agent.done']);
    expect(agentSaw).toEqual([]);
  });

  it('streams open at <component>--streams and go on between the two managers’ own addresses, in the stream pattern and session', async () => {
    bus = memoryBus();
    adapter = new MessageBusAdapter(bus);
    expect(streamTargetOf('output')).toBe('output--streams');
    const wire: Array<EnvelopeInit | MessageEnvelope> = [];
    // Every publish of both managers, in order.
    const recorded = faultyBus(bus, (m): Fault => (wire.push(m), 'pass'));
    const output = await managers.start({ componentId: 'output', onStream: (r) => void collect(r) }, recorded);
    const agent = await managers.start({ componentId: 'agent', window: 1 }, recorded);
    expect(agent.address).toBe(`agent--streams-${agent.instanceId}`);
    expect(streamInstanceAddress('agent', agent.instanceId)).toBe(agent.address);
    const writer = await agent.createStream({ target: 'output', sessionId: 's7' });
    await writer.write('x');
    await writer.end();
    await eventually(() => expect(output.openStreams).toEqual({ writing: 0, reading: 0 }));
    const row = (e: EnvelopeInit | MessageEnvelope) => [e.eventType, e.componentSource, e.componentTarget, e.pattern, e.sessionId];
    expect(wire.filter((e) => e.eventType !== 'stream.ack').map(row)).toEqual([
      ['stream.created', 'agent', 'output--streams', 'stream', 's7'],
      ['stream.accepted', 'output', agent.address, 'stream', 's7'],
      ['stream.started', 'agent', output.address, 'stream', 's7'],
      ['stream.chunk', 'agent', output.address, 'stream', 's7'],
      ['stream.completed', 'agent', output.address, 'stream', 's7'],
    ]);
    const acks = wire.filter((e) => e.eventType === 'stream.ack');
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) expect(row(ack)).toEqual(['stream.ack', 'output', agent.address, 'stream', 's7']);
  });

  it('rejects a component id too long to carry the --streams-<instance> suffix instead of cutting it (two ids would share streams)', () => {
    bus = memoryBus();
    expect(MAX_STREAMING_ID).toBe(106);
    expect(() => new StreamManager(bus, { componentId: 'c'.repeat(107) })).toThrow(/componentId must be at most 106 characters/);
    const longest = new StreamManager(bus, { componentId: 'c'.repeat(106) });
    expect(longest.address).toHaveLength(128);
  });
});
