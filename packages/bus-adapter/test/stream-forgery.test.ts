/**
 * Streams accept only their own participants. Another participant of the bus that knows a stream's
 * id and its two addresses, but does not watch the stream's session (so it never saw the token),
 * tries what used to work: replace a chunk, end a stream early, cancel a producer or grant it credit
 * with a spoofed `reply_to`. Each forgery is dropped and counted (`stats.rejectedMessages`), never
 * delivered and never dead-lettered. The same goes for the right token in another session.
 */
import type { JsonObject, JsonValue } from '@woodwork/bus-core';
import type { MemoryMessageBus } from '@woodwork/bus-memory';
import { describe, expect, it } from 'vitest';
import { StreamCancelledError, StreamEvent, type StreamReader, type StreamWriter } from '../src/index.js';
import { faultyBus, type Fault } from './support/faulty-bus.js';
import { eventually, memoryBus, quiet } from './support/memory.js';
import { settledFlag } from './support/manual-clock.js';
import { collect, drain } from './support/read-stream.js';
import { handPlayedProducer } from './support/hand-played.js';
import { streamManagersClosedAfterEach } from './support/stream-managers.js';
import { writeAll } from './support/write-stream.js';

let bus: MemoryMessageBus;
const managers = streamManagersClosedAfterEach(() => bus);

/** A participant of the bus publishing a stream message of its own making. */
function forge(target: string, eventType: string, payload: JsonObject, sessionId = 's') {
  return bus.publish({ eventType, payload, sessionId, componentSource: 'mallory', componentTarget: target, pattern: 'stream' });
}

/** A real consumer (`output`, readers handed to the test) and producer (`agent`), the producer's publishes recorded. */
async function pair(window = 4) {
  bus = memoryBus();
  const readers: StreamReader[] = [];
  const output = await managers.start({ componentId: 'output', onStream: (r) => void readers.push(r) });
  const wire: JsonObject[] = [];
  const recorded = faultyBus(bus, (m): Fault => {
    if (m.eventType === StreamEvent.CREATED) wire.push(m.payload ?? {});
    return 'pass';
  });
  const agent = await managers.start({ componentId: 'agent', window }, recorded);
  const writer = await agent.createStream<JsonValue>({ target: 'output', sessionId: 's' });
  await eventually(() => expect(writer.readerAddress).toBeDefined());
  // What an observer of the session would see; the forgers below use it only where they say so.
  const token = String(wire[0]?.['token']);
  return { output, agent, writer, readers, reader: writer.readerAddress as string, token };
}

async function readWhole(readers: StreamReader[]): Promise<JsonValue[]> {
  await eventually(() => expect(readers).toHaveLength(1));
  return collect(readers[0] as StreamReader);
}

describe('forged messages to a reader', () => {
  it.each([
    ['without a token', (): JsonObject => ({}), 's'],
    ['with a made-up token', (): JsonObject => ({ token: 'A'.repeat(43) }), 's'],
    ['with the right token, from another session', (token: string): JsonObject => ({ token }), 'elsewhere'],
  ])('a forged chunk %s does not replace the real one', async (_name, withToken, sessionId) => {
    const { output, writer, readers, reader, token } = await pair();
    await writer.write('legit-1');
    // In the stream's session it reaches the reader ahead of legit-2 (today it took its place).
    await forge(reader, StreamEvent.CHUNK, { stream_id: writer.streamId, seq: 2, data: 'FORGED', ...withToken(token) }, sessionId);
    await quiet(bus);
    await writeAll(writer, ['legit-2', 'legit-3']);
    expect(await readWhole(readers)).toEqual(['legit-1', 'legit-2', 'legit-3']);
    expect(output.stats.rejectedMessages).toBe(1);
    expect(await bus.getDeadLetterMessages()).toEqual([]);
  });

  it('a forged stream.completed does not truncate the stream', async () => {
    const { output, writer, readers, reader } = await pair();
    await writer.write('legit-1');
    await forge(reader, StreamEvent.COMPLETED, { stream_id: writer.streamId, chunks: 1 });
    await writeAll(writer, ['legit-2', 'legit-3']);
    expect(await readWhole(readers)).toEqual(['legit-1', 'legit-2', 'legit-3']);
    expect(writer.state).toBe('completed');
    expect(output.stats.rejectedMessages).toBe(1);
  });

  it('forged keepalive, failed and declined messages change nothing; each is counted, one log line for the stream', async () => {
    bus = memoryBus();
    const warnings: string[] = [];
    const readers: StreamReader[] = [];
    const output = await managers.start({ componentId: 'output', onStream: (r) => void readers.push(r), logger: { ...console, warn: (m: string) => void warnings.push(m) } });
    const agent = await managers.start({ componentId: 'agent' });
    const writer = await agent.createStream<string>({ target: 'output', sessionId: 's' });
    await writer.write('a');
    await eventually(() => expect(writer.readerAddress).toBeDefined());
    const at = writer.readerAddress as string;
    await forge(at, StreamEvent.KEEPALIVE, { stream_id: writer.streamId, written: 99 });
    await forge(at, StreamEvent.FAILED, { stream_id: writer.streamId, chunks: 1, error: { name: 'Error', message: 'forged' } });
    await forge(at, StreamEvent.DECLINED, { stream_id: writer.streamId, reason: 'forged' });
    await writeAll(writer, ['b']);
    expect(await readWhole(readers)).toEqual(['a', 'b']);
    expect(output.stats.rejectedMessages).toBe(3);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`stream ${writer.streamId}: dropped a stream.keepalive whose token or session is not the stream's`);
  });

  it('a logger that throws changes nothing: the forgery is still dropped and counted', async () => {
    bus = memoryBus();
    const readers: StreamReader[] = [];
    const throwing = { ...console, warn: () => { throw new Error('logger down'); } };
    const output = await managers.start({ componentId: 'output', onStream: (r) => void readers.push(r), logger: throwing });
    const agent = await managers.start({ componentId: 'agent' });
    const writer = await agent.createStream<string>({ target: 'output', sessionId: 's' });
    await writer.write('a');
    await eventually(() => expect(writer.readerAddress).toBeDefined());
    await forge(writer.readerAddress as string, StreamEvent.CHUNK, { stream_id: writer.streamId, seq: 2, data: 'FORGED' });
    await writeAll(writer, ['b']);
    expect(await readWhole(readers)).toEqual(['a', 'b']);
    expect(output.stats.rejectedMessages).toBe(1);
    expect(await bus.getDeadLetterMessages()).toEqual([]);
  });
});

describe('forged messages to a producer (reply_to spoofed as the bound reader)', () => {
  it('a forged stream.cancelled does not cancel the producer', async () => {
    const { agent, writer, readers, reader } = await pair();
    await writer.write('legit-1');
    await forge(agent.address, StreamEvent.CANCELLED, { stream_id: writer.streamId, reason: 'forged', reply_to: reader });
    await quiet(bus);
    expect(writer.state).toBe('open');
    await writeAll(writer, ['legit-2']);
    expect(await readWhole(readers)).toEqual(['legit-1', 'legit-2']);
    expect(agent.stats.rejectedMessages).toBe(1);
    expect(await bus.getDeadLetterMessages()).toEqual([]);
  });

  it.each([
    ['without a token', (): JsonObject => ({}), 's'],
    ['with the right token, from another session', (token: string): JsonObject => ({ token }), 'elsewhere'],
  ])('a forged stream.ack %s grants no credit', async (_name, withToken, sessionId) => {
    const { agent, writer, readers, reader, token } = await pair(1);
    await writer.write(1);
    const second = writer.write(2);
    const secondDone = settledFlag(second);
    await forge(agent.address, StreamEvent.ACK, { stream_id: writer.streamId, taken: 5, reply_to: reader, ...withToken(token) }, sessionId);
    // Everything the forgery could set off has run once the bus is quiet.
    await quiet(bus);
    expect(agent.stats.rejectedMessages).toBe(1);
    expect(writer.chunksTaken).toBe(0);
    expect(secondDone.done).toBe(false);
    const ending = second.then(() => (writer as StreamWriter).end());
    expect(await readWhole(readers)).toEqual([1, 2]);
    await ending;
  });
});

describe('a producer that ignores the credit it was given', () => {
  it('window 4, 2,000 chunks sent without waiting: the reader buffers 4, fails the stream on the fifth, and tells the producer', async () => {
    bus = memoryBus();
    const readers: StreamReader[] = [];
    const output = await managers.start({ componentId: 'output', onStream: (r) => void readers.push(r) });
    const producer = await handPlayedProducer(bus);
    await producer.open('st-w', { window: 4 });
    const at = await producer.readerOf('st-w');
    const token = producer.tokenOf('st-w');
    const data = 'x'.repeat(512);
    for (let seq = 1; seq <= 2000; seq++) await producer.sendTo(at, StreamEvent.CHUNK, { stream_id: 'st-w', seq, data, token });
    await quiet(bus);
    const reader = readers[0] as StreamReader;
    expect(reader.buffered).toBe(4);
    expect(reader.state).toBe('failed');
    const reason = 'chunk 5 is beyond the credit this reader granted (window 4, 0 acknowledged)';
    await expect(collect(reader)).rejects.toThrow(reason);
    expect(producer.backOf(StreamEvent.CANCELLED).map((e) => e.payload['reason'])).toEqual([reason]);
    expect(output.openStreams).toEqual({ writing: 0, reading: 0 });
  });

  it('the credit moves with the acks the reader sent: up to acked + window is taken, one more fails', async () => {
    bus = memoryBus();
    const readers: StreamReader[] = [];
    await managers.start({ componentId: 'output', onStream: (r) => void readers.push(r) });
    const producer = await handPlayedProducer(bus);
    await producer.open('st-c', { window: 4 });
    for (let seq = 1; seq <= 4; seq++) await producer.send(StreamEvent.CHUNK, { stream_id: 'st-c', seq, data: seq });
    await eventually(() => expect(readers[0]?.buffered).toBe(4));
    const reader = readers[0] as StreamReader;
    await reader.next();
    await reader.next(); // half the window taken: the reader acks 2
    await eventually(() => expect(producer.backOf(StreamEvent.ACK).map((e) => e.payload['taken'])).toEqual([2]));
    for (let seq = 5; seq <= 6; seq++) await producer.send(StreamEvent.CHUNK, { stream_id: 'st-c', seq, data: seq });
    await quiet(bus);
    expect([reader.state, reader.buffered]).toEqual(['open', 4]);
    await producer.send(StreamEvent.CHUNK, { stream_id: 'st-c', seq: 7, data: 7 });
    await eventually(() => expect(reader.state).toBe('failed'));
    const { chunks, error } = await drain(reader);
    expect(chunks).toEqual([3, 4, 5, 6]);
    expect((error as Error).message).toContain('chunk 7 is beyond the credit this reader granted (window 4, 2 acknowledged)');
  });
});

describe('the cancel a producer gets for its own stream still works', () => {
  it('the bound reader cancelling (with the token) still stops the producer', async () => {
    const { writer, readers } = await pair(1);
    await writer.write(1);
    await eventually(() => expect(readers).toHaveLength(1));
    await (readers[0] as StreamReader).cancel('enough');
    await expect(writer.write(2)).rejects.toBeInstanceOf(StreamCancelledError);
  });
});
