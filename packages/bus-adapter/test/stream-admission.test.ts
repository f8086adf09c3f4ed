/**
 * Which streams a manager takes, and on what terms: only those speaking its protocol version (a
 * version 1 peer is told why, in words it understands); no more than `maxPendingStreams` accepted
 * streams waiting for their producer at once, so a flood of unsolicited `stream.created` costs a
 * refusal each, not a reader each; and with no more credit than its `maxWindow`.
 */
import type { MemoryMessageBus } from '@woodwork/bus-memory';
import { describe, expect, it } from 'vitest';
import { STREAM_PROTOCOL, StreamEvent, StreamManager, type StreamReader } from '../src/index.js';
import { handPlayedConsumer, handPlayedProducer } from './support/hand-played.js';
import { eventually, memoryBus, quiet } from './support/memory.js';
import { collect } from './support/read-stream.js';
import { streamManagersClosedAfterEach } from './support/stream-managers.js';
import { writeAll } from './support/write-stream.js';

let bus: MemoryMessageBus;
const managers = streamManagersClosedAfterEach(() => bus);

async function consumer(options: { maxPendingStreams?: number } = {}) {
  bus = memoryBus();
  const readers: StreamReader[] = [];
  const warnings: string[] = [];
  const logger = { ...console, warn: (m: string) => void warnings.push(m) };
  const manager = await managers.start({ componentId: 'output', onStream: (r) => void readers.push(r), logger, ...options });
  return { manager, readers, warnings, producer: await handPlayedProducer(bus) };
}

describe('protocol versions', () => {
  it('speaks protocol 2', () => {
    expect(STREAM_PROTOCOL).toBe(2);
  });

  it('a version 1 stream.created (no protocol, no token) is refused with stream.cancelled and the reason', async () => {
    const { manager, readers, warnings, producer } = await consumer();
    await producer.open('st-v1', { protocol: undefined, token: undefined });
    await eventually(() => expect(producer.backOf(StreamEvent.CANCELLED)).toHaveLength(1));
    expect(producer.backOf(StreamEvent.CANCELLED)[0]?.payload).toEqual({
      stream_id: 'st-v1',
      reason: 'output speaks stream protocol 2; stream.created carries protocol 1',
      reply_to: manager.address,
    });
    expect(producer.backOf(StreamEvent.ACCEPTED)).toEqual([]);
    expect(readers).toEqual([]);
    expect(manager.stats).toMatchObject({ refusedProtocol: 1, pendingStreams: 0 });
    expect(warnings).toEqual([expect.stringContaining('output speaks stream protocol 2; stream.created carries protocol 1')]);
    expect(await bus.getDeadLetterMessages()).toEqual([]);
  });

  it('a stream of a later version is refused too (its token echoed, so its producer can trust the answer)', async () => {
    const { manager, producer } = await consumer();
    await producer.open('st-v3', { protocol: 3 });
    await eventually(() => expect(producer.backOf(StreamEvent.CANCELLED)).toHaveLength(1));
    expect(producer.backOf(StreamEvent.CANCELLED)[0]?.payload).toMatchObject({
      reason: 'output speaks stream protocol 2; stream.created carries protocol 3',
      token: producer.tokenOf('st-v3'),
    });
    expect(manager.stats.refusedProtocol).toBe(1);
  });

  it('a version 2 stream.created without a well-formed token is dead-lettered at once as malformed', async () => {
    const { readers, producer } = await consumer();
    await producer.open('st-nt', { token: 'short' });
    await eventually(async () => expect(await bus.getDeadLetterMessages()).toHaveLength(1));
    const [record] = await bus.getDeadLetterMessages();
    expect(record?.error.name).toBe('UnrecoverableError');
    expect(record?.error.message).toContain('payload.token must be the stream token');
    expect(readers).toEqual([]);
  });

  it('a producer declines a version 1 reader (tokenless acceptance) with the reason and no token, and binds a version 2 reader after it', async () => {
    bus = memoryBus();
    const A = 'output--streams-aaaaaaaaaaaa';
    const B = 'output--streams-bbbbbbbbbbbb';
    const hand = await handPlayedConsumer(bus, [A, B]);
    const agent = await managers.start({ componentId: 'agent', window: 2 });
    const writer = await agent.createStream<string>({ target: 'output', sessionId: 's' });
    await eventually(() => expect(hand.created).toHaveLength(1));
    await hand.reply(A, StreamEvent.ACCEPTED, { stream_id: writer.streamId, token: undefined });
    await eventually(() => expect(hand.at(A)).toHaveLength(1));
    expect(hand.at(A)[0]).toMatchObject({ eventType: StreamEvent.DECLINED });
    expect(hand.at(A)[0]?.payload).toEqual({
      stream_id: writer.streamId,
      reason: `agent speaks stream protocol 2; ${A} accepted without a token (protocol 1)`,
    });
    expect(writer.readerAddress).toBeUndefined();
    expect(agent.stats.refusedProtocol).toBe(1);
    await hand.reply(B, StreamEvent.ACCEPTED, { stream_id: writer.streamId });
    await eventually(() => expect(writer.readerAddress).toBe(B));
    await writer.write('x');
    await writer.end();
    expect(hand.at(B).map((e) => e.eventType)).toEqual([StreamEvent.STARTED, StreamEvent.CHUNK, StreamEvent.COMPLETED]);
  });
});

describe('streams waiting for their producer are capped', () => {
  it('default: 1000', () => {
    bus = memoryBus();
    expect(new StreamManager(bus, { componentId: 'c' }).maxPendingStreams).toBe(1000);
    expect(() => new StreamManager(bus, { componentId: 'c', maxPendingStreams: 0 })).toThrow(/maxPendingStreams/);
  });

  it('a flood of 50 unsolicited stream.created with a cap of 10: 10 readers wait, 40 are refused with the reason, one log line', async () => {
    const { manager, readers, warnings, producer } = await consumer({ maxPendingStreams: 10 });
    for (let i = 0; i < 50; i++) await producer.open(`flood-${i}`);
    await quiet(bus);
    expect(manager.openStreams).toEqual({ writing: 0, reading: 10 });
    expect(manager.stats).toEqual({ rejectedMessages: 0, refusedProtocol: 0, refusedOverCap: 40, pendingStreams: 10 });
    expect(producer.backOf(StreamEvent.ACCEPTED)).toHaveLength(10);
    const refusals = producer.backOf(StreamEvent.CANCELLED);
    expect(refusals).toHaveLength(40);
    expect(refusals[0]?.payload['reason']).toBe('output has 10 streams waiting for their producer (maxPendingStreams)');
    expect(warnings).toHaveLength(1);
    expect(readers).toEqual([]);
  });

  it('a started stream no longer counts: its place goes to the next stream.created, and it is read whole', async () => {
    const { manager, readers, producer } = await consumer({ maxPendingStreams: 2 });
    await producer.open('p-1');
    await producer.open('p-2');
    await producer.open('p-3');
    await quiet(bus);
    expect(manager.stats).toMatchObject({ refusedOverCap: 1, pendingStreams: 2 });
    await producer.send(StreamEvent.STARTED, { stream_id: 'p-1' });
    await quiet(bus);
    expect(manager.stats.pendingStreams).toBe(1);
    await producer.open('p-4');
    await quiet(bus);
    expect(manager.stats).toMatchObject({ refusedOverCap: 1, pendingStreams: 2 });
    expect(manager.openStreams.reading).toBe(3);
    await producer.send(StreamEvent.CHUNK, { stream_id: 'p-1', seq: 1, data: 'hello' });
    await producer.send(StreamEvent.COMPLETED, { stream_id: 'p-1', chunks: 1 });
    await eventually(() => expect(readers).toHaveLength(1));
    expect(await collect(readers[0] as StreamReader)).toEqual(['hello']);
  });
});

describe('the window a reader grants', () => {
  it('default maxWindow 1024; a producer asking for more writes within what the reader granted', async () => {
    bus = memoryBus();
    expect(new StreamManager(bus, { componentId: 'c' }).maxWindow).toBe(1024);
    const readers: StreamReader[] = [];
    await managers.start({ componentId: 'output', maxWindow: 2, onStream: (r) => void readers.push(r) });
    const agent = await managers.start({ componentId: 'agent', window: 8 });
    const writer = await agent.createStream<number>({ target: 'output', sessionId: 's' });
    const chunks = Array.from({ length: 20 }, (_, i) => i);
    const writing = writeAll(writer, chunks);
    await eventually(() => expect(readers).toHaveLength(1));
    expect(writer.window).toBe(2);
    const reader = readers[0] as StreamReader;
    const got: number[] = [];
    let mostUnread = 0;
    for await (const chunk of reader) {
      mostUnread = Math.max(mostUnread, reader.buffered + 1);
      got.push(chunk as number);
      // Give the producer every chance to overrun: nothing of the bus is left running.
      if (got.length % 3 === 0) await quiet(bus);
    }
    expect(got).toEqual(chunks);
    expect(mostUnread).toBeLessThanOrEqual(2);
    await writing;
  });

  it('more chunks held before a reader accepted than it grants go out within its credit, and the stream completes', async () => {
    bus = memoryBus();
    const agent = await managers.start({ componentId: 'agent', window: 6 });
    const writer = await agent.createStream<number>({ target: 'output', sessionId: 's' });
    for (let i = 1; i <= 6; i++) await writer.write(i); // no consumer yet: held
    const ending = writer.end();
    const readers: StreamReader[] = [];
    await managers.start({ componentId: 'output', maxWindow: 2, onStream: (r) => void readers.push(r) });
    await eventually(() => expect(readers).toHaveLength(1));
    expect(await collect(readers[0] as StreamReader)).toEqual([1, 2, 3, 4, 5, 6]);
    await ending;
    expect(writer.state).toBe('completed');
  });
});
