/**
 * Each side against a hand-played peer: exact protocol messages on the wire, and what at-least-once
 * delivery and lost messages look like there (duplicates, gaps, wrong counts, malformed payloads,
 * silence), plus the opening handshake (created -> accepted -> started, or declined) and which
 * instance's acks and cancels a producer acts on.
 */
import type { MemoryMessageBus } from '@woodwork/bus-memory';
import { describe, expect, it } from 'vitest';
import { StreamCancelledError, StreamEvent, StreamFailedError, StreamManager, type StreamReader, type StreamManagerOptions } from '../src/index.js';
import { handPlayedConsumer, handPlayedProducer } from './support/hand-played.js';
import { ManualClock, runClock } from './support/manual-clock.js';
import { eventually, memoryBus, settle } from './support/memory.js';
import { drain } from './support/read-stream.js';
import { streamManagersClosedAfterEach } from './support/stream-managers.js';

let bus: MemoryMessageBus;
let manager: StreamManager;
const managers = streamManagersClosedAfterEach(() => bus);

/** A real consumer manager (`output`) whose readers are handed to the test, and a hand-played producer. */
async function setup(options: Partial<StreamManagerOptions> = {}) {
  bus = memoryBus();
  const readers: StreamReader[] = [];
  manager = await managers.start({ componentId: 'output', onStream: (r) => void readers.push(r), ...options });
  return { readers, producer: await handPlayedProducer(bus) };
}

describe('stream protocol, consumer side', () => {
  it('accepts a stream from its own address, and shows it to the listener once the producer starts it', async () => {
    const { readers, producer } = await setup();
    await producer.open('st-0', { metadata: { model: 'm' } });
    expect(await producer.readerOf('st-0')).toBe(manager.address);
    expect(manager.address).toMatch(/^output--streams-[0-9a-f]{12}$/);
    const [accepted] = producer.backOf(StreamEvent.ACCEPTED);
    expect(accepted).toMatchObject({ pattern: 'stream', componentSource: 'output', componentTarget: producer.address, sessionId: 's' });
    expect(accepted?.payload).toEqual({ stream_id: 'st-0', reply_to: manager.address, window: 4, token: producer.tokenOf('st-0') });
    await settle();
    expect(readers).toEqual([]); // accepted, but not bound here yet
    expect(manager.openStreams).toEqual({ writing: 0, reading: 1 });
    await producer.send(StreamEvent.STARTED, { stream_id: 'st-0' });
    await eventually(() => expect(readers).toHaveLength(1));
    expect(readers[0]).toMatchObject({ streamId: 'st-0', source: 'agent', sessionId: 's', metadata: { model: 'm' } });
    await producer.send(StreamEvent.COMPLETED, { stream_id: 'st-0', chunks: 0 });
    expect(await drain(readers[0] as StreamReader)).toEqual({ chunks: [] });
  });

  it('a declined acceptance is dropped quietly: the listener never sees the stream', async () => {
    const { readers, producer } = await setup();
    await producer.open('st-d');
    await producer.send(StreamEvent.DECLINED, { stream_id: 'st-d', reason: 'read by output--streams-0123456789ab' });
    await eventually(() => expect(manager.openStreams).toEqual({ writing: 0, reading: 0 }));
    await producer.send(StreamEvent.CHUNK, { stream_id: 'st-d', seq: 1, data: 'late' });
    await settle();
    expect(readers).toEqual([]);
    expect(producer.backOf(StreamEvent.CANCELLED)).toEqual([]);
  });

  it('drops redelivered messages: a repeated stream.created and repeated chunks', async () => {
    const { readers, producer } = await setup();
    await producer.open('st-1');
    await producer.open('st-1');
    await producer.send(StreamEvent.CHUNK, { stream_id: 'st-1', seq: 1, data: 'a' });
    await producer.send(StreamEvent.CHUNK, { stream_id: 'st-1', seq: 1, data: 'a' });
    await producer.send(StreamEvent.CHUNK, { stream_id: 'st-1', seq: 2, data: 'b' });
    await producer.send(StreamEvent.COMPLETED, { stream_id: 'st-1', chunks: 2 });
    await producer.send(StreamEvent.CHUNK, { stream_id: 'st-1', seq: 2, data: 'b' });
    await eventually(() => expect(readers).toHaveLength(1));
    expect(await drain(readers[0] as StreamReader)).toEqual({ chunks: ['a', 'b'] });
    await settle();
    expect(readers).toHaveLength(1);
    expect(producer.backOf(StreamEvent.ACCEPTED)).toHaveLength(1);
  });

  it('a missing chunk fails the stream instead of yielding a hole, and stops the producer', async () => {
    const { readers, producer } = await setup();
    await producer.open('st-2');
    await producer.send(StreamEvent.CHUNK, { stream_id: 'st-2', seq: 1, data: 'a' });
    await producer.send(StreamEvent.CHUNK, { stream_id: 'st-2', seq: 3, data: 'c' });
    await eventually(() => expect(readers).toHaveLength(1));
    const { chunks, error } = await drain(readers[0] as StreamReader);
    expect(chunks).toEqual(['a']);
    expect(error).toBeInstanceOf(StreamFailedError);
    expect((error as Error).message).toContain('chunk 2 never arrived');
    await eventually(() => expect(producer.backOf(StreamEvent.CANCELLED)).toHaveLength(1));
    const [cancel] = producer.backOf(StreamEvent.CANCELLED);
    expect(cancel?.payload).toEqual({ stream_id: 'st-2', reason: 'chunk 2 never arrived (got chunk 3)', reply_to: manager.address, token: producer.tokenOf('st-2') });
    expect(cancel).toMatchObject({ pattern: 'stream', componentTarget: producer.address, componentSource: 'output', sessionId: 's' });
  });

  it('a completion that counts more chunks than arrived fails the stream', async () => {
    const { readers, producer } = await setup();
    await producer.open('st-3');
    await producer.send(StreamEvent.CHUNK, { stream_id: 'st-3', seq: 1, data: 'a' });
    await producer.send(StreamEvent.COMPLETED, { stream_id: 'st-3', chunks: 2 });
    await eventually(() => expect(readers).toHaveLength(1));
    const { chunks, error } = await drain(readers[0] as StreamReader);
    expect(chunks).toEqual(['a']);
    expect((error as Error).message).toContain('completed after 2 chunks, but 1 arrived');
  });

  it('sends credit back as the reader takes chunks (cumulative acks to the producer)', async () => {
    const { readers, producer } = await setup();
    await producer.open('st-4');
    for (let seq = 1; seq <= 4; seq++) await producer.send(StreamEvent.CHUNK, { stream_id: 'st-4', seq, data: seq });
    await eventually(() => expect(readers[0]?.buffered).toBe(4));
    const reader = readers[0] as StreamReader;
    const acks = () => producer.backOf(StreamEvent.ACK).map((e) => e.payload);
    await reader.next();
    await settle();
    expect(acks()).toEqual([]);
    await reader.next();
    await eventually(() => expect(acks()).toEqual([{ stream_id: 'st-4', taken: 2, reply_to: manager.address, token: producer.tokenOf('st-4') }]));
    await reader.next();
    await reader.next();
    // The buffer is empty now; waiting for more gives back all credit.
    const more = reader.next();
    await eventually(() => expect(acks().map((p) => p['taken'])).toEqual([2, 4]));
    await producer.send(StreamEvent.COMPLETED, { stream_id: 'st-4', chunks: 4 });
    expect(await more).toEqual({ value: undefined, done: true });
  });

  it('without a listener it refuses a stream: stream.cancelled to the producer, no acceptance', async () => {
    bus = memoryBus();
    manager = await managers.start({ componentId: 'output' });
    const producer = await handPlayedProducer(bus);
    await producer.open('st-r');
    await eventually(() => expect(producer.backOf(StreamEvent.CANCELLED)).toHaveLength(1));
    expect(producer.backOf(StreamEvent.CANCELLED)[0]?.payload).toEqual({
      stream_id: 'st-r',
      reason: 'output has no stream listener',
      reply_to: manager.address,
      token: producer.tokenOf('st-r'),
    });
    expect(producer.backOf(StreamEvent.ACCEPTED)).toEqual([]);
    expect(manager.openStreams).toEqual({ writing: 0, reading: 0 });
  });

  it('a message of a stream it never accepted, at its own address, is ignored (the producer’s idle timeout ends it)', async () => {
    const { readers, producer } = await setup();
    await producer.sendTo(manager.address, StreamEvent.CHUNK, { stream_id: 'ghost', seq: 1, data: 'x' });
    await producer.sendTo(manager.address, StreamEvent.STARTED, { stream_id: 'ghost' });
    await settle();
    expect(readers).toEqual([]);
    expect(producer.back).toEqual([]);
    expect(await bus.getDeadLetterMessages()).toEqual([]);
  });

  it.each([
    ['a chunk sent to the component’s address', 'output--streams', StreamEvent.CHUNK, { stream_id: 'st-6', seq: 1, data: 'x' }, 'takes only stream.created'],
    ['stream.created sent to a manager’s own address', 'MANAGER', StreamEvent.CREATED, { stream_id: 'st-7', window: 1, reply_to: 'agent--streams-byhand' }, "goes to the component's address (output--streams)"],
    ['stream.created without reply_to', 'output--streams', StreamEvent.CREATED, { stream_id: 'st-8', window: 1 }, 'payload.reply_to'],
    ['a chunk without stream_id', 'MANAGER', StreamEvent.CHUNK, { seq: 1, data: 'no id' }, 'payload.stream_id'],
  ])('%s is dead-lettered with the reason, as UnrecoverableError', async (_name, target, event, payload, reason) => {
    const { readers, producer } = await setup();
    await producer.sendTo(target === 'MANAGER' ? manager.address : target, event, payload);
    await eventually(async () => expect(await bus.getDeadLetterMessages()).toHaveLength(1));
    const [record] = await bus.getDeadLetterMessages();
    // UnrecoverableError: core's lanes dead-letter it at once, without retries (issue 7).
    expect(record?.error).toMatchObject({ name: 'UnrecoverableError', code: 'UNRECOVERABLE' });
    expect(record?.attempts).toBe(1);
    expect(record?.error.cause).toMatchObject({ name: 'InvalidMessageError' });
    expect(record?.error.message).toContain(`malformed ${event}: invalid message:`);
    expect(record?.error.message).toContain(reason);
    expect(readers).toEqual([]);
  });

  it('ignores messages for its addresses that are not stream events', async () => {
    const { readers } = await setup();
    for (const target of ['output--streams', manager.address]) {
      await bus.publish({ eventType: 'agent.reply', sessionId: 's', componentSource: 'agent', componentTarget: target });
    }
    await settle();
    expect(readers).toEqual([]);
    expect(await bus.getDeadLetterMessages()).toEqual([]);
  });

  it('with idleTimeoutMs, a reader waiting on a silent producer fails (on the manager’s clock)', async () => {
    const clock = new ManualClock();
    const { readers, producer } = await setup({ idleTimeoutMs: 40, keepaliveMs: 10, clock });
    await producer.open('st-5');
    await producer.send(StreamEvent.CHUNK, { stream_id: 'st-5', seq: 1, data: 'a' });
    await eventually(() => expect(readers).toHaveLength(1));
    const reader = readers[0] as StreamReader;
    expect(await runClock(clock, bus, 10, () => reader.state === 'failed')).toBe(40);
    const { chunks, error } = await drain(reader);
    expect(chunks).toEqual(['a']);
    expect((error as Error).message).toContain('no word from the producer agent for 40 ms');
    await eventually(() => expect(producer.backOf(StreamEvent.CANCELLED)).toHaveLength(1));
  });

  it('an accepted stream the producer never starts: the acceptance is repeated as keepalive, then the stream goes unseen', async () => {
    const clock = new ManualClock();
    const { readers, producer } = await setup({ idleTimeoutMs: 100, keepaliveMs: 10, clock });
    await producer.open('st-9');
    expect(await runClock(clock, bus, 10, () => manager.openStreams.reading === 0)).toBe(100);
    // Once at 0, then at every keepalive before the idle timeout: 10, 20, ... 90.
    expect(producer.backOf(StreamEvent.ACCEPTED)).toHaveLength(10);
    expect(manager.stats.pendingStreams).toBe(0);
    expect(readers).toEqual([]);
  });
});

describe('stream protocol, producer side', () => {
  const A = 'output--streams-aaaaaaaaaaaa';
  const B = 'output--streams-bbbbbbbbbbbb';

  async function producerSetup() {
    bus = memoryBus();
    const consumer = await handPlayedConsumer(bus, [A, B]);
    manager = new StreamManager(bus, { componentId: 'agent', window: 1 });
    await manager.start();
    return consumer;
  }

  it('opens at the component with its own address, binds to the first acceptance, declines a second, and heeds only the bound reader', async () => {
    const consumer = await producerSetup();
    const writer = await manager.createStream<string>({ target: 'output', sessionId: 's', metadata: { k: 1 } });
    await eventually(() => expect(consumer.created).toHaveLength(1));
    const token = consumer.created[0]?.payload['token'];
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(consumer.created[0]?.payload).toEqual({ stream_id: writer.streamId, window: 1, metadata: { k: 1 }, reply_to: manager.address, protocol: 2, token });
    await writer.write('one'); // held: no reader yet, and the window allows one
    expect(writer.chunksWritten).toBe(1);
    const ending = writer.end(); // waits for a reader
    await settle();
    expect(consumer.at(A)).toEqual([]);

    await consumer.reply(A, StreamEvent.ACCEPTED, { stream_id: writer.streamId });
    await eventually(() => expect(writer.readerAddress).toBe(A));
    await consumer.reply(B, StreamEvent.ACCEPTED, { stream_id: writer.streamId });
    await eventually(() => expect(consumer.at(B).map((e) => e.eventType)).toEqual([StreamEvent.DECLINED]));
    expect(consumer.at(B)[0]?.payload).toEqual({ stream_id: writer.streamId, reason: `stream ${writer.streamId} is read by ${A}`, token });

    await ending;
    expect(consumer.at(A).map((e) => e.payload)).toEqual([
      { stream_id: writer.streamId, token },
      { stream_id: writer.streamId, seq: 1, data: 'one', token },
      { stream_id: writer.streamId, chunks: 1, token },
    ]);
    expect(consumer.at(B)).toHaveLength(1);
  });

  it('takes credit and cancels only from the reader it bound the stream to', async () => {
    const consumer = await producerSetup();
    const writer = await manager.createStream<string>({ target: 'output', sessionId: 's' });
    await eventually(() => expect(consumer.created).toHaveLength(1));
    await consumer.reply(A, StreamEvent.ACCEPTED, { stream_id: writer.streamId });
    await writer.write('one');
    // Window 1: the second write waits for credit, which only A can give.
    let secondDone = false;
    const second = writer.write('two').then(() => void (secondDone = true));
    await consumer.reply(B, StreamEvent.ACK, { stream_id: writer.streamId, taken: 1 });
    await consumer.reply(B, StreamEvent.CANCELLED, { stream_id: writer.streamId, reason: 'not mine' });
    await settle();
    expect(secondDone).toBe(false);
    expect(writer.state).toBe('open');
    await consumer.reply(A, StreamEvent.ACK, { stream_id: writer.streamId, taken: 1 });
    await second;
    await consumer.reply(A, StreamEvent.CANCELLED, { stream_id: writer.streamId, reason: 'enough' });
    await eventually(() => expect(writer.state).toBe('cancelled'));
    await expect(writer.write('three')).rejects.toThrow(StreamCancelledError);
    expect(consumer.at(B)).toEqual([]);
  });

  it('chunks held before a reader accepted go out in order, ahead of later ones, once it does', async () => {
    const consumer = await producerSetup();
    manager = new StreamManager(bus, { componentId: 'agent2', window: 3 });
    await manager.start();
    const writer = await manager.createStream<number>({ target: 'output', sessionId: 's' });
    await Promise.all([writer.write(1), writer.write(2), writer.write(3)]);
    const rest = Promise.all([writer.write(4), writer.write(5), writer.end()]);
    await settle();
    expect(consumer.at(A)).toEqual([]);
    await consumer.reply(A, StreamEvent.ACCEPTED, { stream_id: writer.streamId });
    await eventually(() => expect(consumer.at(A).filter((e) => e.eventType === StreamEvent.CHUNK)).toHaveLength(3));
    await consumer.reply(A, StreamEvent.ACK, { stream_id: writer.streamId, taken: 3 });
    await rest;
    const seqs = consumer.at(A).filter((e) => e.eventType === StreamEvent.CHUNK).map((e) => [e.payload['seq'], e.payload['data']]);
    expect(seqs).toEqual([[1, 1], [2, 2], [3, 3], [4, 4], [5, 5]]);
    expect(consumer.at(A).at(-1)?.payload).toEqual({ stream_id: writer.streamId, chunks: 5, token: consumer.created[0]?.payload['token'] });
  });

  it('a cancel before any acceptance is the component refusing the stream', async () => {
    const consumer = await producerSetup();
    const writer = await manager.createStream({ target: 'output', sessionId: 's' });
    await writer.write('x'); // held
    const waiting = writer.end(); // waits for a reader
    await eventually(() => expect(consumer.created).toHaveLength(1));
    await consumer.reply(A, StreamEvent.CANCELLED, { stream_id: writer.streamId, reason: 'output has no stream listener' });
    const error = await waiting.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamCancelledError);
    expect((error as StreamCancelledError).reason).toBe('output has no stream listener');
  });

  it('a stream failed before anyone accepted it sends nothing, and declines a late acceptance', async () => {
    const consumer = await producerSetup();
    const writer = await manager.createStream({ target: 'output', sessionId: 's' });
    await writer.fail(new Error('changed my mind'));
    expect(writer.state).toBe('failed');
    await eventually(() => expect(consumer.created).toHaveLength(1));
    await consumer.reply(A, StreamEvent.ACCEPTED, { stream_id: writer.streamId });
    await eventually(() => expect(consumer.at(A).map((e) => e.eventType)).toEqual([StreamEvent.DECLINED]));
    expect(consumer.at(A)[0]?.payload['reason']).toBe(`stream ${writer.streamId} has ended`);
  });
});
