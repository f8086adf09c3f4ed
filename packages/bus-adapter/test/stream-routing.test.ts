/**
 * A component that both streams and listens: its StreamManager and its component listeners must
 * not take each other's messages. The stream protocol travels to `<component>--streams`, so a
 * listener never sees it and a listener that registers late still gets what waited for it.
 */
import type { JsonValue, MessageEnvelope } from '@woodwork/bus-core';
import type { MemoryMessageBus } from '@woodwork/bus-memory';
import { afterEach, describe, expect, it } from 'vitest';
import { MessageBusAdapter, StreamManager, streamTargetOf, type StreamReader } from '../src/index.js';
import { eventually, memoryBus, settle } from './support/memory.js';

let bus: MemoryMessageBus;
let adapter: MessageBusAdapter;
const managers: StreamManager[] = [];

afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.close()));
  await adapter?.close();
});

async function manager(componentId: string, onStream?: (reader: StreamReader) => unknown): Promise<StreamManager> {
  const m = new StreamManager(bus, { componentId, ...(onStream ? { onStream } : {}) });
  managers.push(m);
  await m.start();
  return m;
}

async function collect(reader: AsyncIterable<JsonValue>): Promise<JsonValue[]> {
  const out: JsonValue[] = [];
  for await (const chunk of reader) out.push(chunk);
  return out;
}

describe('StreamManager and component listeners of the same component', () => {
  it('a listener registered after a message was sent to its component gets it, though the component’s StreamManager runs', async () => {
    bus = memoryBus();
    adapter = new MessageBusAdapter(bus);
    await manager('agent');
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
    await manager('output', (reader) => void done.push(collect(reader)));
    const agent = await manager('agent');
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

  it('stream messages travel to <component>--streams, in the stream pattern and session', async () => {
    bus = memoryBus();
    adapter = new MessageBusAdapter(bus);
    expect(streamTargetOf('output')).toBe('output--streams');
    const wire: MessageEnvelope[] = [];
    await bus.subscribe('*', (e) => void wire.push(e), { componentId: 'output--streams', targetedOnly: true, group: 'spy' });
    const agent = await manager('agent');
    const writer = await agent.createStream({ target: 'output', sessionId: 's7' });
    await writer.write('x');
    await eventually(() => expect(wire).toHaveLength(2));
    expect(wire.map((e) => [e.eventType, e.componentSource, e.componentTarget, e.pattern, e.sessionId])).toEqual([
      ['stream.created', 'agent', 'output--streams', 'stream', 's7'],
      ['stream.chunk', 'agent', 'output--streams', 'stream', 's7'],
    ]);
  });

  it('rejects a component id too long to carry the --streams suffix instead of cutting it (two ids would share streams)', () => {
    bus = memoryBus();
    const long = 'c'.repeat(120);
    expect(() => new StreamManager(bus, { componentId: long })).toThrow(/componentId must be at most 119 characters/);
    expect(() => new StreamManager(bus, { componentId: 'c'.repeat(119) })).not.toThrow();
  });
});
