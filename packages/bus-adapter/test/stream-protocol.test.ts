/**
 * The consumer side against hand-written protocol messages: what at-least-once delivery and lost
 * messages look like on the wire (duplicates, gaps, wrong counts, malformed payloads, silence).
 */
import type { JsonObject, JsonValue, MessageEnvelope } from '@woodwork/bus-core';
import type { MemoryMessageBus } from '@woodwork/bus-memory';
import { afterEach, describe, expect, it } from 'vitest';
import { MessageBusAdapter, StreamEvent, StreamFailedError, StreamManager, type StreamReader } from '../src/index.js';
import { eventually, memoryBus, settle } from './support/memory.js';

let bus: MemoryMessageBus;
let manager: StreamManager;

afterEach(async () => {
  await manager?.close();
  await bus?.close();
});

async function setup(options: { idleTimeoutMs?: number; keepaliveMs?: number } = {}) {
  bus = memoryBus();
  const readers: StreamReader[] = [];
  manager = new StreamManager(bus, { componentId: 'output', onStream: (r) => void readers.push(r), ...options });
  await manager.start();
  // What comes back to the (hand-played) producer component.
  const back: MessageEnvelope[] = [];
  await new MessageBusAdapter(bus).registerComponentListener('agent--streams', (_p, e) => void back.push(e));
  return { readers, back };
}

function send(eventType: string, payload: JsonObject, sessionId = 's') {
  return bus.publish({ eventType, payload, sessionId, componentSource: 'agent', componentTarget: 'output--streams', pattern: 'stream' });
}

async function drain(reader: StreamReader): Promise<{ chunks: JsonValue[]; error?: unknown }> {
  const chunks: JsonValue[] = [];
  try {
    for await (const chunk of reader) chunks.push(chunk);
    return { chunks };
  } catch (error) {
    return { chunks, error };
  }
}

describe('stream protocol, consumer side', () => {
  it('drops redelivered messages: a repeated stream.created and repeated chunks', async () => {
    const { readers } = await setup();
    await send(StreamEvent.CREATED, { stream_id: 'st-1', window: 4, metadata: {} });
    await send(StreamEvent.CREATED, { stream_id: 'st-1', window: 4, metadata: {} });
    await send(StreamEvent.CHUNK, { stream_id: 'st-1', seq: 1, data: 'a' });
    await send(StreamEvent.CHUNK, { stream_id: 'st-1', seq: 1, data: 'a' });
    await send(StreamEvent.CHUNK, { stream_id: 'st-1', seq: 2, data: 'b' });
    await send(StreamEvent.COMPLETED, { stream_id: 'st-1', chunks: 2 });
    await send(StreamEvent.CHUNK, { stream_id: 'st-1', seq: 2, data: 'b' });
    await eventually(() => expect(readers).toHaveLength(1));
    expect(await drain(readers[0] as StreamReader)).toEqual({ chunks: ['a', 'b'] });
    await settle();
    expect(readers).toHaveLength(1);
  });

  it('a missing chunk fails the stream instead of yielding a hole, and stops the producer', async () => {
    const { readers, back } = await setup();
    await send(StreamEvent.CREATED, { stream_id: 'st-2', window: 4 });
    await send(StreamEvent.CHUNK, { stream_id: 'st-2', seq: 1, data: 'a' });
    await send(StreamEvent.CHUNK, { stream_id: 'st-2', seq: 3, data: 'c' });
    await eventually(() => expect(readers).toHaveLength(1));
    const { chunks, error } = await drain(readers[0] as StreamReader);
    expect(chunks).toEqual(['a']);
    expect(error).toBeInstanceOf(StreamFailedError);
    expect((error as Error).message).toContain('chunk 2 never arrived');
    await eventually(() => expect(back.map((e) => e.eventType)).toContain(StreamEvent.CANCELLED));
    const cancel = back.find((e) => e.eventType === StreamEvent.CANCELLED) as MessageEnvelope;
    expect(cancel.payload).toEqual({ stream_id: 'st-2', reason: 'chunk 2 never arrived (got chunk 3)' });
    expect(cancel).toMatchObject({ pattern: 'stream', componentTarget: 'agent--streams', componentSource: 'output', sessionId: 's' });
  });

  it('a completion that counts more chunks than arrived fails the stream', async () => {
    const { readers } = await setup();
    await send(StreamEvent.CREATED, { stream_id: 'st-3', window: 4 });
    await send(StreamEvent.CHUNK, { stream_id: 'st-3', seq: 1, data: 'a' });
    await send(StreamEvent.COMPLETED, { stream_id: 'st-3', chunks: 2 });
    await eventually(() => expect(readers).toHaveLength(1));
    const { chunks, error } = await drain(readers[0] as StreamReader);
    expect(chunks).toEqual(['a']);
    expect((error as Error).message).toContain('completed after 2 chunks, but 1 arrived');
  });

  it('sends credit back as the reader takes chunks (cumulative acks to the producer)', async () => {
    const { readers, back } = await setup();
    await send(StreamEvent.CREATED, { stream_id: 'st-4', window: 4 });
    for (let seq = 1; seq <= 4; seq++) await send(StreamEvent.CHUNK, { stream_id: 'st-4', seq, data: seq });
    await eventually(() => expect(readers[0]?.buffered).toBe(4));
    const reader = readers[0] as StreamReader;
    await reader.next();
    await settle();
    expect(back).toEqual([]);
    await reader.next();
    await eventually(() => expect(back.map((e) => e.payload)).toEqual([{ stream_id: 'st-4', taken: 2 }]));
    await reader.next();
    await reader.next();
    // The buffer is empty now; waiting for more gives back all credit.
    const more = reader.next();
    await eventually(() => expect(back.map((e) => e.payload['taken'])).toEqual([2, 4]));
    await send(StreamEvent.COMPLETED, { stream_id: 'st-4', chunks: 4 });
    expect(await more).toEqual({ value: undefined, done: true });
  });

  it('a chunk of a stream it does not know makes it cancel that stream at its producer, once', async () => {
    const { back } = await setup();
    await send(StreamEvent.CHUNK, { stream_id: 'ghost', seq: 5, data: 'x' });
    await send(StreamEvent.CHUNK, { stream_id: 'ghost', seq: 6, data: 'y' });
    await eventually(() => expect(back).toHaveLength(1));
    await settle();
    expect(back).toHaveLength(1);
    expect(back[0]?.payload).toEqual({ stream_id: 'ghost', reason: 'output has no open stream ghost' });
  });

  it('a malformed stream message is dead-lettered naming the field', async () => {
    await setup();
    await send(StreamEvent.CHUNK, { seq: 1, data: 'no id' });
    await eventually(async () => expect(await bus.getDeadLetterMessages()).toHaveLength(1));
    const [record] = await bus.getDeadLetterMessages();
    expect(record?.error.name).toBe('InvalidMessageError');
    expect(record?.error.message).toContain('payload.stream_id');
  });

  it('ignores messages for the component that are not stream events', async () => {
    const { readers } = await setup();
    await bus.publish({ eventType: 'agent.reply', sessionId: 's', componentSource: 'agent', componentTarget: 'output--streams' });
    await settle();
    expect(readers).toEqual([]);
    expect(await bus.getDeadLetterMessages()).toEqual([]);
  });

  it('with idleTimeoutMs, a reader waiting on a silent producer fails', async () => {
    const { readers, back } = await setup({ idleTimeoutMs: 40, keepaliveMs: 10 });
    await send(StreamEvent.CREATED, { stream_id: 'st-5', window: 4 });
    await send(StreamEvent.CHUNK, { stream_id: 'st-5', seq: 1, data: 'a' });
    await eventually(() => expect(readers).toHaveLength(1));
    const { chunks, error } = await drain(readers[0] as StreamReader);
    expect(chunks).toEqual(['a']);
    expect((error as Error).message).toContain('no word from the producer agent for 40 ms');
    await eventually(() => expect(back.some((e) => e.eventType === StreamEvent.CANCELLED)).toBe(true));
  });
});
