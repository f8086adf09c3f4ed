/**
 * Streams whose other side goes away, or whose messages the bus loses or repeats: nobody waits
 * forever, a slow but living side is never failed, and nothing is left behind when a stream ends.
 * Each open stream side sends something at least every `keepaliveMs` (the producer a
 * `stream.keepalive`, the consumer its cumulative `stream.ack` again); a side that hears nothing from
 * the other for `idleTimeoutMs` fails the stream.
 *
 * Time is a manual clock the managers read (`clock` option), moved by the test in steps of one
 * keepalive, each after the bus has handled everything sent so far (`runClock`). So "a living side
 * is never failed" holds however slowly a loaded machine runs (it once failed under load when
 * these tests slept on the wall clock), and "a silent side fails" is decided on the clock's time.
 */
import type { MessageBus } from '@woodwork/bus-core';
import type { MemoryMessageBus } from '@woodwork/bus-memory';
import { describe, expect, it } from 'vitest';
import {
  StreamCancelledError,
  StreamEvent,
  StreamFailedError,
  StreamManager,
  type StreamManagerOptions,
  type StreamReader,
} from '../src/index.js';
import { faultyBus, isStream, type Fault } from './support/faulty-bus.js';
import { handPlayedProducer } from './support/hand-played.js';
import { ManualClock, passTime, runClock, settledFlag } from './support/manual-clock.js';
import { eventually, memoryBus, settle } from './support/memory.js';
import { drain } from './support/read-stream.js';
import { streamManagersClosedAfterEach } from './support/stream-managers.js';
import { writeAll } from './support/write-stream.js';

let bus: MemoryMessageBus;
let clock: ManualClock;
const managers = streamManagersClosedAfterEach(() => bus);

const QUICK = { idleTimeoutMs: 300, keepaliveMs: 30 };
/** One keepalive: a living side is heard from at least once a step; the idle timeout is ten steps. */
const STEP = QUICK.keepaliveMs;

/** A fresh bus and manual clock for the test. */
function fresh(): void {
  bus = memoryBus();
  clock = new ManualClock();
}

async function consumer(options: Partial<StreamManagerOptions> = {}, on: MessageBus = bus) {
  const readers: StreamReader[] = [];
  const m = await managers.start({ componentId: 'output', onStream: (r) => void readers.push(r), ...QUICK, clock, ...options }, on);
  return { manager: m, readers };
}

function producer(on: MessageBus = bus) {
  return managers.start({ componentId: 'agent', ...QUICK, clock }, on);
}

/** Steps the clock until `until()` holds; returns the clock's time then. */
function run(until: () => boolean): Promise<number> {
  return runClock(clock, bus, STEP, until);
}

describe('a producer that goes away', () => {
  it('fails the reader after idleTimeoutMs of silence, after the chunks that came, and tells the producer', async () => {
    fresh();
    const { readers } = await consumer();
    const producer = await handPlayedProducer(bus);
    await producer.open('st-1');
    await producer.send(StreamEvent.CHUNK, { stream_id: 'st-1', seq: 1, data: 'a' });
    await producer.send(StreamEvent.CHUNK, { stream_id: 'st-1', seq: 2, data: 'b' });
    await eventually(() => expect(readers[0]?.buffered).toBe(2));
    const reader = readers[0] as StreamReader;
    // The producer was last heard at 0 on the clock.
    expect(await run(() => reader.state === 'failed')).toBe(300);
    const { chunks, error } = await drain(reader);
    expect(chunks).toEqual(['a', 'b']);
    expect(error).toBeInstanceOf(StreamFailedError);
    expect((error as Error).message).toContain('no word from the producer agent for 300 ms');
    await eventually(() => expect(producer.backOf(StreamEvent.CANCELLED)).toHaveLength(1));
  });

  it('a living producer that pauses longer than the idle timeout keeps its stream open with keepalives', async () => {
    fresh();
    const { readers } = await consumer();
    let keepalives = 0;
    const counted = faultyBus(bus, (m): Fault => (isStream(m, StreamEvent.KEEPALIVE) && keepalives++, 'pass'));
    const agent = await producer(counted);
    const writer = await agent.createStream({ target: 'output', sessionId: 's' });
    await writer.write('a');
    // More than twice the idle timeout on the streams' clock, without a chunk.
    await passTime(clock, bus, 700, STEP);
    expect(writer.state).toBe('open');
    expect(keepalives).toBeGreaterThanOrEqual(10);
    await writer.write('b');
    await writer.end();
    await eventually(() => expect(readers).toHaveLength(1));
    expect(await drain(readers[0] as StreamReader)).toEqual({ chunks: ['a', 'b'] });
  });

  it('a chunk lost for good is caught by the next keepalive, which says how many were written', async () => {
    fresh();
    const { readers } = await consumer();
    const lossy = faultyBus(bus, (m): Fault => (isStream(m, StreamEvent.CHUNK, ['seq', 2]) ? 'drop' : 'pass'));
    const agent = await producer(lossy);
    const writer = await agent.createStream({ target: 'output', sessionId: 's' });
    await writer.write('a');
    await writer.write('b');
    await eventually(() => expect(readers).toHaveLength(1));
    const reader = readers[0] as StreamReader;
    await run(() => reader.state !== 'open' && writer.state !== 'open');
    const { chunks, error } = await drain(reader);
    expect(chunks).toEqual(['a']);
    expect((error as Error).message).toContain('chunk 2 never arrived (the producer wrote 2)');
    expect(writer.state).toBe('cancelled');
  });

  it('defaults: 30 s idle timeout, a keepalive every 5 s; and they are checked', () => {
    fresh();
    const m = new StreamManager(bus, { componentId: 'c' });
    expect([m.idleTimeoutMs, m.keepaliveMs]).toEqual([30_000, 5_000]);
    expect(() => new StreamManager(bus, { componentId: 'c', idleTimeoutMs: 100, keepaliveMs: 100 })).toThrow(
      /idleTimeoutMs must be greater than keepaliveMs/,
    );
    expect(() => new StreamManager(bus, { componentId: 'c', idleTimeoutMs: 100, keepaliveMs: 0 })).toThrow(/keepaliveMs/);
    expect(new StreamManager(bus, { componentId: 'c', idleTimeoutMs: 0, keepaliveMs: 0 }).idleTimeoutMs).toBe(0);
  });
});

describe('a consumer that goes away', () => {
  it('fails a write waiting for credit after idleTimeoutMs of silence (no reader ever accepted the stream)', async () => {
    fresh();
    const agent = await producer();
    // Nobody consumes `output`: its stream.created waits, and nothing ever comes back.
    const writer = await agent.createStream({ target: 'output', sessionId: 's', window: 1 });
    await writer.write(1); // held for the reader: the window allows one
    const second = writer.write(2).catch((e: unknown) => e);
    expect(await run(() => writer.state === 'failed')).toBeGreaterThanOrEqual(300);
    const error = await second;
    expect(error).toBeInstanceOf(StreamFailedError);
    expect((error as Error).message).toContain('no word from the consumer output for 300 ms');
    expect(agent.openStreams).toEqual({ writing: 0, reading: 0 });
    await expect(writer.write(3)).rejects.toThrow(/no word from the consumer/);
  });

  it('fails a write waiting for credit after idleTimeoutMs of silence (a reader that accepted, then went quiet)', async () => {
    fresh();
    let gone = false;
    // Once gone, nothing this consumer publishes arrives: no acks, no keepalives.
    const { readers } = await consumer({}, faultyBus(bus, (): Fault => (gone ? 'drop' : 'pass')));
    const agent = await producer();
    const writer = await agent.createStream({ target: 'output', sessionId: 's', window: 1 });
    await writer.write(1);
    await eventually(() => expect(readers).toHaveLength(1));
    gone = true;
    const second = writer.write(2).catch((e: unknown) => e);
    await run(() => writer.state === 'failed');
    const error = await second;
    expect(error).toBeInstanceOf(StreamFailedError);
    expect((error as Error).message).toContain('no word from the consumer output for 300 ms');
  });

  it('a living consumer that does not read yet keeps the producer waiting, not failing', async () => {
    fresh();
    const { readers } = await consumer();
    const agent = await producer();
    const writer = await agent.createStream<number>({ target: 'output', sessionId: 's', window: 2 });
    await writer.write(1);
    await writer.write(2);
    const third = writer.write(3);
    const thirdDone = settledFlag(third);
    await passTime(clock, bus, 700, STEP);
    expect(thirdDone.done).toBe(false);
    expect(writer.state).toBe('open');
    const ending = third.then(() => writer.end());
    expect(await drain(readers[0] as StreamReader)).toEqual({ chunks: [1, 2, 3] });
    await ending;
  });

  it('a cancel the bus lost is sent again when the producer’s keepalive shows it is still writing', async () => {
    fresh();
    let dropped = 0;
    const lossy = faultyBus(bus, (m): Fault => (isStream(m, StreamEvent.CANCELLED) && dropped++ === 0 ? 'drop' : 'pass'));
    const { readers } = await consumer({}, lossy);
    const agent = await producer();
    const writer = await agent.createStream({ target: 'output', sessionId: 's', window: 1 });
    await writer.write(1);
    const blocked = writer.write(2);
    await eventually(() => expect(readers).toHaveLength(1));
    await (readers[0] as StreamReader).cancel('enough');
    // One keepalive of the producer's: it learns the cancel again, long before any idle timeout.
    await run(() => writer.state !== 'open');
    const error = await blocked.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamCancelledError);
    expect(dropped).toBe(2);
  });
});

describe('credit and chunks lost or repeated by the bus', () => {
  it('lost acks are healed by the reader repeating its cumulative ack', async () => {
    fresh();
    let dropped = 0;
    const lossy = faultyBus(bus, (m): Fault => (isStream(m, StreamEvent.ACK) && dropped++ < 3 ? 'drop' : 'pass'));
    const { readers } = await consumer({}, lossy);
    const agent = await producer();
    const writer = await agent.createStream<number>({ target: 'output', sessionId: 's', window: 1 });
    const writing = writeAll(writer, [1, 2, 3, 4, 5]);
    await eventually(() => expect(readers).toHaveLength(1));
    const reading = drain(readers[0] as StreamReader);
    const [written, read] = [settledFlag(writing), settledFlag(reading)];
    await run(() => written.done && read.done);
    expect(await reading).toEqual({ chunks: [1, 2, 3, 4, 5] });
    await writing;
    expect(dropped).toBeGreaterThan(3);
  });

  it('a lost acceptance is healed: the reader repeats it until the producer binds the stream', async () => {
    fresh();
    let dropped = 0;
    const lossy = faultyBus(bus, (m): Fault => (isStream(m, StreamEvent.ACCEPTED) && dropped++ === 0 ? 'drop' : 'pass'));
    const { readers } = await consumer({}, lossy);
    const agent = await producer();
    const writer = await agent.createStream<number>({ target: 'output', sessionId: 's', window: 2 });
    const writing = writeAll(writer, [1, 2, 3, 4]);
    await run(() => readers.length === 1);
    const reading = drain(readers[0] as StreamReader);
    const [written, read] = [settledFlag(writing), settledFlag(reading)];
    await run(() => written.done && read.done);
    expect(await reading).toEqual({ chunks: [1, 2, 3, 4] });
    await writing;
    expect(dropped).toBeGreaterThanOrEqual(2);
  });

  it('a lost stream.started is healed (the producer’s keepalive, or its answer to the repeated acceptance): the listener sees the stream before any chunk', async () => {
    fresh();
    let dropped = 0;
    const lossy = faultyBus(bus, (m): Fault => (isStream(m, StreamEvent.STARTED) && dropped++ === 0 ? 'drop' : 'pass'));
    const { readers } = await consumer();
    const agent = await producer(lossy);
    const writer = await agent.createStream({ target: 'output', sessionId: 's' });
    await run(() => readers.length === 1);
    expect(dropped).toBeGreaterThanOrEqual(1);
    expect(writer.chunksWritten).toBe(0);
    await writer.end();
    expect(await drain(readers[0] as StreamReader)).toEqual({ chunks: [] });
  });

  it('every stream message delivered twice: each chunk is yielded once, in order, and the stream completes', async () => {
    fresh();
    const twice = faultyBus(bus, (m): Fault => (m.eventType?.startsWith('stream.') ? 'twice' : 'pass'));
    const { readers } = await consumer({}, twice);
    const agent = await producer(twice);
    const writer = await agent.createStream<number>({ target: 'output', sessionId: 's', window: 3 });
    const expected = Array.from({ length: 50 }, (_, i) => i);
    const writing = writeAll(writer, expected);
    await run(() => readers.length === 1);
    const reading = drain(readers[0] as StreamReader);
    const [written, read] = [settledFlag(writing), settledFlag(reading)];
    await run(() => written.done && read.done);
    expect(await reading).toEqual({ chunks: expected });
    await writing;
    await settle();
    expect(readers).toHaveLength(1);
  });
});

describe('publishes the bus refuses', () => {
  it('a chunk whose publish fails does not count: its write rejects, the next goes on, the reader sees no gap', async () => {
    fresh();
    const { readers } = await consumer();
    let refused = 0;
    const flaky = faultyBus(bus, (m): Fault => (isStream(m, StreamEvent.CHUNK, ['seq', 2]) && refused++ === 0 ? 'reject' : 'pass'));
    const agent = await producer(flaky);
    const writer = await agent.createStream<string>({ target: 'output', sessionId: 's', window: 4 });
    await eventually(() => expect(writer.readerAddress).toBeDefined());
    await writer.write('a');
    await expect(writer.write('b')).rejects.toThrow(/the test refused this publish/);
    expect(writer.chunksWritten).toBe(1);
    await writer.write('b again');
    await writer.end();
    expect(await drain(readers[0] as StreamReader)).toEqual({ chunks: ['a', 'b again'] });
  });

  it('a held chunk whose publish fails when the stream is bound stays held, and goes out, in order, with the next operation', async () => {
    fresh();
    let refused = 0;
    const flaky = faultyBus(bus, (m): Fault => (isStream(m, StreamEvent.CHUNK, ['seq', 1]) && refused++ === 0 ? 'reject' : 'pass'));
    const agent = await producer(flaky);
    const writer = await agent.createStream<string>({ target: 'output', sessionId: 's', window: 4 });
    await writer.write('held'); // no consumer yet: held
    const { readers } = await consumer();
    await eventually(() => expect(refused).toBe(1)); // the reader accepted; publishing the held chunk failed
    expect(writer.readerAddress).toBeDefined();
    await writer.write('next');
    await writer.end();
    await eventually(() => expect(readers).toHaveLength(1));
    expect(await drain(readers[0] as StreamReader)).toEqual({ chunks: ['held', 'next'] });
  });
});

describe('per-stream resources', () => {
  it('the keepalive timer runs only while a stream is open; after end, cancel and fail nothing is left', async () => {
    fresh();
    const { manager: output, readers } = await consumer();
    const agent = await producer();
    expect(clock.running).toBe(0);
    const ended = await agent.createStream({ target: 'output', sessionId: 's1' });
    const cancelled = await agent.createStream({ target: 'output', sessionId: 's2' });
    const failed = await agent.createStream({ target: 'output', sessionId: 's3' });
    await eventually(() => expect(readers).toHaveLength(3));
    expect(clock.running).toBe(2); // one per manager, for all of its streams
    await ended.write('x');
    await ended.end();
    const byStream = new Map(readers.map((r) => [r.streamId, r]));
    expect(await drain(byStream.get(ended.streamId) as StreamReader)).toEqual({ chunks: ['x'] });
    await (byStream.get(cancelled.streamId) as StreamReader).cancel();
    await failed.fail(new Error('no'));
    await eventually(() => expect(cancelled.state).toBe('cancelled'));
    await eventually(() => expect(output.openStreams).toEqual({ writing: 0, reading: 0 }));
    expect(agent.openStreams).toEqual({ writing: 0, reading: 0 });
    await settle();
    expect(clock.running).toBe(0);
  });
});
