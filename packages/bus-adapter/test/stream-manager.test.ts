import { BusError, InvalidConfigError, InvalidMessageError, type JsonValue } from '@woodwork/bus-core';
import type { MemoryMessageBus } from '@woodwork/bus-memory';
import { describe, expect, it } from 'vitest';
import {
  MessageBusAdapter,
  StreamCancelledError,
  StreamFailedError,
  StreamManager,
  type StreamReader,
  type StreamManagerOptions,
} from '../src/index.js';
import { eventually, memoryBus, settle } from './support/memory.js';
import { collect } from './support/read-stream.js';
import { streamManagersClosedAfterEach } from './support/stream-managers.js';
import { rejectionOf } from './support/thrown-error.js';
import { writeAll } from './support/write-stream.js';

let bus: MemoryMessageBus;
const managers = streamManagersClosedAfterEach(() => bus);

/** A consumer whose readers are handed to the test, unread. */
async function consumer(componentId: string, options: Partial<StreamManagerOptions> = {}) {
  const readers: StreamReader[] = [];
  const m = await managers.start({ componentId, onStream: (reader) => void readers.push(reader), ...options });
  return { manager: m, readers };
}

describe('StreamManager', () => {
  it('delivers every chunk in order, then ends; the reader knows the stream', async () => {
    bus = memoryBus();
    const { readers } = await consumer('output');
    const agent = await managers.start({ componentId: 'agent', window: 4 });
    const writer = await agent.createStream<string>({ target: 'output', sessionId: 'session-1', metadata: { model: 'tiny' } });
    const chunks = Array.from({ length: 100 }, (_, i) => `token-${i}`);
    const writing = writeAll(writer, chunks);
    await eventually(() => expect(readers).toHaveLength(1));
    const reader = readers[0] as StreamReader;
    expect(reader.streamId).toBe(writer.streamId);
    expect(reader.source).toBe('agent');
    expect(reader.sessionId).toBe('session-1');
    expect(reader.metadata).toEqual({ model: 'tiny' });
    expect(await collect(reader)).toEqual(chunks);
    await writing;
    expect(writer.state).toBe('completed');
    expect(reader.state).toBe('completed');
    expect(agent.openStreams).toEqual({ writing: 0, reading: 0 });
  });

  it('keeps call order when writes are not awaited one by one, and carries any JSON', async () => {
    bus = memoryBus();
    const { readers } = await consumer('output');
    const agent = await managers.start({ componentId: 'agent', window: 3 });
    const writer = await agent.createStream({ target: 'output', sessionId: 's' });
    const chunks: JsonValue[] = [1, 'two', { three: [3] }, null, true, [6], 7.5, 'eight', { n: 9 }, 10];
    const all = Promise.all([...chunks.map((c) => writer.write(c)), writer.end()]);
    await eventually(() => expect(readers).toHaveLength(1));
    expect(await collect(readers[0] as StreamReader)).toEqual(chunks);
    await all;
  });

  it('backpressure: a write waits while `window` chunks are unread, and goes on when the reader takes one', async () => {
    bus = memoryBus();
    const { readers } = await consumer('output');
    const agent = await managers.start({ componentId: 'agent', window: 2 });
    const writer = await agent.createStream<number>({ target: 'output', sessionId: 's' });
    await writer.write(1);
    await writer.write(2);
    let thirdDone = false;
    const third = writer.write(3).then(() => {
      thirdDone = true;
    });
    await eventually(() => expect(readers[0]?.buffered).toBe(2));
    const reader = readers[0] as StreamReader;
    await settle(50);
    expect(thirdDone).toBe(false);
    expect(writer.chunksWritten).toBe(2);
    expect(reader.buffered).toBe(2);

    expect(await reader.next()).toEqual({ value: 1, done: false });
    await third;
    expect(writer.chunksWritten).toBe(3);
    await eventually(() => expect(reader.buffered).toBe(2));

    let fourthDone = false;
    const fourth = writer.write(4).then(() => {
      fourthDone = true;
    });
    await settle(50);
    expect(fourthDone).toBe(false);
    expect(await reader.next()).toEqual({ value: 2, done: false });
    await fourth;
    await writer.end();
    expect(await collect(reader)).toEqual([3, 4]);
  });

  it('breaking out of for-await cancels the stream and the producer’s next write rejects', async () => {
    bus = memoryBus();
    const taken: JsonValue[] = [];
    await managers.start({
      componentId: 'output',
      onStream: async (reader) => {
        for await (const chunk of reader) {
          taken.push(chunk);
          if (taken.length === 3) break;
        }
      },
    });
    const agent = await managers.start({ componentId: 'agent', window: 2 });
    const writer = await agent.createStream<number>({ target: 'output', sessionId: 's' });
    let error: unknown;
    for (let i = 1; i <= 1000; i++) {
      try {
        await writer.write(i);
      } catch (e) {
        error = e;
        break;
      }
    }
    expect(error).toBeInstanceOf(StreamCancelledError);
    expect(error).toBeInstanceOf(BusError);
    expect(error).toMatchObject({ name: 'StreamCancelledError', code: 'STREAM_CANCELLED' });
    expect((error as StreamCancelledError).reason).toBe('the consumer stopped reading');
    expect((error as StreamCancelledError).streamId).toBe(writer.streamId);
    expect(writer.state).toBe('cancelled');
    expect(taken).toEqual([1, 2, 3]);
    await expect(writer.end()).rejects.toBeInstanceOf(StreamCancelledError);
  });

  it('cancel() releases a producer blocked on the window, with the consumer’s reason', async () => {
    bus = memoryBus();
    const { readers } = await consumer('output');
    const agent = await managers.start({ componentId: 'agent', window: 1 });
    const writer = await agent.createStream({ target: 'output', sessionId: 's' });
    await writer.write('a');
    const blocked = writer.write('b');
    await eventually(() => expect(readers[0]?.buffered).toBe(1));
    await (readers[0] as StreamReader).cancel('user closed the tab');
    const error = await rejectionOf(blocked);
    expect(error).toBeInstanceOf(StreamCancelledError);
    expect((error as StreamCancelledError).reason).toBe('user closed the tab');
    expect(await (readers[0] as StreamReader).next()).toEqual({ value: undefined, done: true });
  });

  it('a producer failure reaches the consumer as a thrown StreamFailedError, after the chunks sent before it', async () => {
    bus = memoryBus();
    const { readers } = await consumer('output');
    const agent = await managers.start({ componentId: 'agent' });
    const writer = await agent.createStream({ target: 'output', sessionId: 's' });
    await writer.write('partial ');
    await writer.write('answer');
    await writer.fail(new TypeError('model crashed'));
    expect(writer.state).toBe('failed');
    await eventually(() => expect(readers).toHaveLength(1));
    const got: JsonValue[] = [];
    const error = await rejectionOf(
      (async () => {
        for await (const chunk of readers[0] as StreamReader) got.push(chunk);
      })(),
    );
    expect(got).toEqual(['partial ', 'answer']);
    expect(error).toBeInstanceOf(StreamFailedError);
    expect((error as StreamFailedError).remoteError).toEqual({ name: 'TypeError', message: 'model crashed' });
    expect((error as Error).message).toContain('model crashed');
    await expect(writer.write('more')).rejects.toBeInstanceOf(StreamFailedError);
  });

  it('fail() rejects a write waiting for credit at once', async () => {
    bus = memoryBus();
    const { readers } = await consumer('output');
    const agent = await managers.start({ componentId: 'agent', window: 1 });
    const writer = await agent.createStream({ target: 'output', sessionId: 's' });
    await writer.write(1);
    const blocked = writer.write(2);
    await writer.fail('gave up');
    expect(await rejectionOf(blocked)).toBeInstanceOf(StreamFailedError);
    await eventually(() => expect(readers).toHaveLength(1));
    const reader = readers[0] as StreamReader;
    expect(await reader.next()).toEqual({ value: 1, done: false });
    await expect(reader.next()).rejects.toThrow(/gave up/);
    expect(await reader.next()).toEqual({ value: undefined, done: true });
  });

  it('runs many streams at once, across sessions and producers, each in order', async () => {
    bus = memoryBus();
    const results = new Map<string, JsonValue[]>();
    const done: Promise<void>[] = [];
    await managers.start({
      componentId: 'output',
      onStream: (reader) => {
        done.push(collect(reader).then((chunks) => void results.set(reader.streamId, chunks)));
      },
    });
    const producers = [await managers.start({ componentId: 'agent-a', window: 3 }), await managers.start({ componentId: 'agent-b', window: 5 })];
    const expected = new Map<string, JsonValue[]>();
    await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const writer = await (producers[i % 2] as StreamManager).createStream({ target: 'output', sessionId: `session-${i % 5}` });
        const chunks = Array.from({ length: 40 }, (_, j) => `${i}:${j}`);
        expected.set(writer.streamId, chunks);
        await writeAll(writer, chunks);
      }),
    );
    await eventually(() => expect(done).toHaveLength(30));
    await Promise.all(done);
    expect(results).toEqual(expected);
  });

  it('rejects a chunk that is not JSON without spending its sequence number', async () => {
    bus = memoryBus();
    const { readers } = await consumer('output');
    const agent = await managers.start({ componentId: 'agent' });
    const writer = await agent.createStream({ target: 'output', sessionId: 's' });
    await writer.write('a');
    await expect(writer.write(new Date() as unknown as JsonValue)).rejects.toBeInstanceOf(InvalidMessageError);
    await writer.write('b');
    await writer.end();
    await eventually(() => expect(readers).toHaveLength(1));
    expect(await collect(readers[0] as StreamReader)).toEqual(['a', 'b']);
  });

  it('cancels streams nobody listens to, and streams whose listener throws', async () => {
    bus = memoryBus();
    await managers.start({ componentId: 'deaf' });
    await managers.start({
      componentId: 'grumpy',
      onStream: () => {
        throw new Error('not today');
      },
    });
    const agent = await managers.start({ componentId: 'agent', window: 1 });
    for (const [target, reason] of [
      ['deaf', /deaf has no stream listener/],
      ['grumpy', /the stream listener failed: not today/],
    ] as const) {
      const writer = await agent.createStream({ target, sessionId: 's' });
      await writer.write(1).catch(() => undefined);
      const error = await rejectionOf((async () => {
        for (;;) await writer.write(2);
      })());
      expect(error).toBeInstanceOf(StreamCancelledError);
      expect((error as StreamCancelledError).reason).toMatch(reason);
    }
  });

  it('close() cancels what it reads and fails what it writes', async () => {
    bus = memoryBus();
    const { manager: output, readers } = await consumer('output');
    const agent = await managers.start({ componentId: 'agent', window: 1 });
    const toOutput = await agent.createStream({ target: 'output', sessionId: 's' });
    const { readers: agentReaders } = { readers: [] as StreamReader[] };
    agent.onStream((reader) => void agentReaders.push(reader));
    const fromOutput = await output.createStream({ target: 'agent', sessionId: 's' });
    await eventually(() => expect(readers).toHaveLength(1));
    await eventually(() => expect(agentReaders).toHaveLength(1));
    await output.close();
    await eventually(() => expect(toOutput.state).toBe('cancelled'));
    await expect(toOutput.write(1)).rejects.toThrow(/closed its stream manager/);
    expect(fromOutput.state).toBe('failed');
    await expect((agentReaders[0] as StreamReader).next()).rejects.toThrow(/the producer closed its stream manager/);
  });

  it('shares the component with its listener: each gets its own copy of what it needs', async () => {
    bus = memoryBus();
    const adapter = new MessageBusAdapter(bus);
    const replies: string[] = [];
    await adapter.registerComponentListener('output', (_p, e) => void replies.push(e.eventType), { eventPattern: 'agent.reply' });
    const { readers } = await consumer('output');
    const agent = await managers.start({ componentId: 'agent' });
    const writer = await agent.createStream({ target: 'output', sessionId: 's' });
    await adapter.sendToComponent('output', { eventType: 'agent.reply', payload: {}, sessionId: 's', componentSource: 'agent' });
    await writer.write('x');
    await writer.end();
    await eventually(() => expect(readers).toHaveLength(1));
    expect(await collect(readers[0] as StreamReader)).toEqual(['x']);
    await eventually(() => expect(replies).toEqual(['agent.reply']));
  });

  it('checks its options with typed errors', async () => {
    bus = memoryBus();
    expect(() => new StreamManager(bus, { componentId: 'bad id' })).toThrow(InvalidMessageError);
    expect(() => new StreamManager(bus, { componentId: 'c', window: 0 })).toThrow(InvalidConfigError);
    expect(() => new StreamManager(bus, { componentId: 'c', windw: 3 } as never)).toThrow(/windw is not a known option/);
    expect(() => new StreamManager({} as never, { componentId: 'c' })).toThrow(InvalidConfigError);
    const m = new StreamManager(new MessageBusAdapter(bus), { componentId: 'c' });
    managers.track(m);
    await expect(m.createStream({ target: 'x', sessionId: 's' })).rejects.toThrow(/must be started/);
    await m.start();
    await expect(m.createStream({ target: 'x y', sessionId: 's' })).rejects.toThrow(/target/);
    await expect(m.createStream({ target: 'x', sessionId: 's', window: -1 })).rejects.toThrow(/window/);
  });
});
