/**
 * Many streams at once: several producers and consumers, a few sessions, two or more streams to
 * one component in one session, readers of different speeds. Every stream arrives whole and in
 * order, no reader ever buffers more than its window, and every manager ends with nothing open.
 */
import type { JsonValue } from '@woodwork/bus-core';
import type { MemoryMessageBus } from '@woodwork/bus-memory';
import { describe, expect, it } from 'vitest';
import { StreamManager, type StreamReader } from '../src/index.js';
import { eventually, memoryBus } from './support/memory.js';
import { streamManagersClosedAfterEach } from './support/stream-managers.js';
import { writeAll } from './support/write-stream.js';

let bus: MemoryMessageBus;
const managers = streamManagersClosedAfterEach(() => bus);

const pause = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('streams under load', () => {
  it('60 streams from 3 producers to 2 consumers in 4 sessions: whole, in order, within the window', async () => {
    bus = memoryBus();
    const received = new Map<string, JsonValue[]>();
    const finished: Promise<void>[] = [];
    let maxBufferedOverWindow = 0;
    const reading = (slow: boolean) => (reader: StreamReader) => {
      finished.push(
        (async () => {
          const chunks: JsonValue[] = [];
          for await (const chunk of reader) {
            chunks.push(chunk);
            // What was buffered before this chunk was taken (this one included): the window bounds it.
            maxBufferedOverWindow = Math.max(maxBufferedOverWindow, reader.buffered + 1 - Number(reader.metadata['window']));
            if (slow && chunks.length % 3 === 0) for (let i = 0; i < 5; i++) await pause();
          }
          received.set(reader.streamId, chunks);
        })(),
      );
    };
    const consumers = [
      await managers.start({ componentId: 'output-fast', onStream: reading(false) }),
      await managers.start({ componentId: 'output-slow', onStream: reading(true) }),
    ];
    const producers = [
      await managers.start({ componentId: 'agent-a' }),
      await managers.start({ componentId: 'agent-b' }),
      await managers.start({ componentId: 'agent-c' }),
    ];
    const expected = new Map<string, JsonValue[]>();
    await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const window = 1 + (i % 4);
        const writer = await (producers[i % 3] as StreamManager).createStream({
          target: (consumers[i % 2] as StreamManager).componentId,
          sessionId: `session-${i % 4}`,
          window,
          metadata: { window },
        });
        const chunks = Array.from({ length: 25 + (i % 7) }, (_, j) => ({ stream: i, seq: j }));
        expected.set(writer.streamId, chunks);
        await writeAll(writer, chunks);
      }),
    );
    await eventually(() => expect(finished).toHaveLength(60));
    await Promise.all(finished);
    expect(received).toEqual(expected);
    expect(maxBufferedOverWindow).toBeLessThanOrEqual(0);
    for (const m of [...consumers, ...producers]) expect(m.openStreams).toEqual({ writing: 0, reading: 0 });
  });
});
