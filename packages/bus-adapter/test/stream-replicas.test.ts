/**
 * Replicas: two StreamManagers with one component id (two processes of one component). The bus
 * hands a shared group's messages to either replica, even one session's (the memory backend takes
 * turns), so everything after `stream.created` travels between the two managers' own addresses:
 * credit reaches the producer replica that writes, and one consumer replica reads a stream whole.
 */
import type { JsonValue } from '@woodwork/bus-core';
import type { MemoryMessageBus } from '@woodwork/bus-memory';
import { describe, expect, it } from 'vitest';
import { StreamEvent, StreamManager, type StreamReader } from '../src/index.js';
import { faultyBus, isStream, type Fault } from './support/faulty-bus.js';
import { eventually, memoryBus, settle } from './support/memory.js';
import { streamManagersClosedAfterEach } from './support/stream-managers.js';
import { writeAll } from './support/write-stream.js';

let bus: MemoryMessageBus;
const managers = streamManagersClosedAfterEach(() => bus);

/** A consumer replica that reads every stream to the end, recording who read what. */
function reading(replica: string, reads: Map<string, { replica: string; chunks: JsonValue[] }[]>, finished: Promise<void>[]) {
  return (reader: StreamReader) => {
    const read = { replica, chunks: [] as JsonValue[] };
    reads.set(reader.streamId, [...(reads.get(reader.streamId) ?? []), read]);
    finished.push(
      (async () => {
        for await (const chunk of reader) {
          read.chunks.push(chunk);
          if (read.chunks.length % 4 === 0) await new Promise((resolve) => setImmediate(resolve));
        }
      })(),
    );
  };
}

describe('replicas of a streaming component', () => {
  it('two producer replicas with window 1 both complete: credit reaches the replica that writes', async () => {
    bus = memoryBus();
    const reads = new Map<string, { replica: string; chunks: JsonValue[] }[]>();
    const finished: Promise<void>[] = [];
    await managers.start({ componentId: 'output', onStream: reading('output', reads, finished) });
    const a = await managers.start({ componentId: 'agent', window: 1 });
    const b = await managers.start({ componentId: 'agent', window: 1 });
    expect(a.address).not.toBe(b.address);
    const chunks = (who: string) => Array.from({ length: 30 }, (_, i) => `${who}-${i}`);
    const [wa, wb, wc] = await Promise.all([
      a.createStream({ target: 'output', sessionId: 's' }),
      b.createStream({ target: 'output', sessionId: 's' }),
      b.createStream({ target: 'output', sessionId: 'other' }),
    ]);
    await Promise.all([writeAll(wa, chunks('a')), writeAll(wb, chunks('b')), writeAll(wc, chunks('c'))]);
    await eventually(() => expect(finished).toHaveLength(3));
    await Promise.all(finished);
    expect(reads.get(wa.streamId)?.map((r) => r.chunks)).toEqual([chunks('a')]);
    expect(reads.get(wb.streamId)?.map((r) => r.chunks)).toEqual([chunks('b')]);
    expect(reads.get(wc.streamId)?.map((r) => r.chunks)).toEqual([chunks('c')]);
  });

  it('two consumer replicas never split a stream: 40 streams from two producer replicas, each read whole and in order by one reader', async () => {
    bus = memoryBus();
    const reads = new Map<string, { replica: string; chunks: JsonValue[] }[]>();
    const finished: Promise<void>[] = [];
    await managers.start({ componentId: 'output', onStream: reading('output-1', reads, finished) });
    await managers.start({ componentId: 'output', onStream: reading('output-2', reads, finished) });
    const producers = [await managers.start({ componentId: 'agent', window: 2 }), await managers.start({ componentId: 'agent', window: 3 })];
    const expected = new Map<string, JsonValue[]>();
    await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const writer = await (producers[i % 2] as StreamManager).createStream({ target: 'output', sessionId: `session-${i % 3}`, window: 1 + (i % 3) });
        const chunks = Array.from({ length: 20 + (i % 5) }, (_, seq) => ({ stream: i, seq }));
        expected.set(writer.streamId, chunks);
        await writeAll(writer, chunks);
      }),
    );
    await eventually(() => expect(finished).toHaveLength(40));
    await Promise.all(finished);
    for (const [streamId, chunks] of expected) {
      const readers = reads.get(streamId) ?? [];
      expect(readers).toHaveLength(1);
      expect(readers[0]?.chunks).toEqual(chunks);
    }
    // Both replicas took streams: the test exercised the sharing.
    const byReplica = new Set([...reads.values()].flat().map((r) => r.replica));
    expect(byReplica).toEqual(new Set(['output-1', 'output-2']));
    for (const m of managers.started) expect(m.openStreams).toEqual({ writing: 0, reading: 0 });
  });

  it('a stream.created the bus delivers twice, to both consumer replicas: one reads it, the other is declined and its app never sees it', async () => {
    bus = memoryBus();
    let declined = 0;
    const twice = faultyBus(bus, (m): Fault => {
      if (isStream(m, StreamEvent.DECLINED)) declined++;
      return isStream(m, StreamEvent.CREATED) ? 'twice' : 'pass';
    });
    const reads = new Map<string, { replica: string; chunks: JsonValue[] }[]>();
    const finished: Promise<void>[] = [];
    const consumers = [
      await managers.start({ componentId: 'output', onStream: reading('output-1', reads, finished) }),
      await managers.start({ componentId: 'output', onStream: reading('output-2', reads, finished) }),
    ];
    const agent = await managers.start({ componentId: 'agent', window: 2 }, twice);
    const expected = new Map<string, JsonValue[]>();
    for (let i = 0; i < 10; i++) {
      const writer = await agent.createStream({ target: 'output', sessionId: `s-${i % 2}` });
      const chunks = Array.from({ length: 8 }, (_, seq) => `${i}:${seq}`);
      expected.set(writer.streamId, chunks);
      await writeAll(writer, chunks);
    }
    await eventually(() => expect(finished).toHaveLength(10));
    await Promise.all(finished);
    await settle();
    expect(finished).toHaveLength(10);
    for (const [streamId, chunks] of expected) expect(reads.get(streamId)?.map((r) => r.chunks)).toEqual([chunks]);
    expect(declined).toBeGreaterThan(0);
    for (const m of consumers) await eventually(() => expect(m.openStreams).toEqual({ writing: 0, reading: 0 }));
  });

  it('replicas on both sides, window 1, many streams at once: all complete, each read whole by one reader', async () => {
    bus = memoryBus();
    const reads = new Map<string, { replica: string; chunks: JsonValue[] }[]>();
    const finished: Promise<void>[] = [];
    for (const replica of ['output-1', 'output-2', 'output-3']) {
      await managers.start({ componentId: 'output', onStream: reading(replica, reads, finished) });
    }
    const producers = [await managers.start({ componentId: 'agent', window: 1 }), await managers.start({ componentId: 'agent', window: 1 })];
    const expected = new Map<string, JsonValue[]>();
    await Promise.all(
      Array.from({ length: 24 }, async (_, i) => {
        const writer = await (producers[i % 2] as StreamManager).createStream({ target: 'output', sessionId: 'one-session' });
        const chunks = Array.from({ length: 15 }, (_, seq) => i * 100 + seq);
        expected.set(writer.streamId, chunks);
        await writeAll(writer, chunks);
      }),
    );
    await eventually(() => expect(finished).toHaveLength(24));
    await Promise.all(finished);
    for (const [streamId, chunks] of expected) expect(reads.get(streamId)?.map((r) => r.chunks)).toEqual([chunks]);
  });

  it('closing the managers ends their subscriptions, removes their own groups and leaves nothing waiting', async () => {
    bus = memoryBus();
    const health = () => bus.healthCheck();
    const before = (await health()).groups.map((g) => g.group);
    const reads = new Map<string, { replica: string; chunks: JsonValue[] }[]>();
    const finished: Promise<void>[] = [];
    const started = [
      await managers.start({ componentId: 'output', onStream: reading('output-1', reads, finished) }),
      await managers.start({ componentId: 'output', onStream: reading('output-2', reads, finished) }),
      await managers.start({ componentId: 'agent' }),
    ];
    const writer = await (started[2] as StreamManager).createStream({ target: 'output', sessionId: 's' });
    await writeAll(writer, ['x', 'y']);
    await eventually(() => expect(finished).toHaveLength(1));
    const during = (await health()).groups;
    for (const m of started) expect(during.find((g) => g.group === m.address)?.consumers).toBe(1);
    await managers.closeAll();
    const after = await health();
    // Each manager's own address is a non-durable group: it goes with the manager. The components'
    // shared groups are durable (a restarted component continues).
    expect(after.groups.map((g) => g.group).sort()).toEqual([...before, 'agent--streams', 'output--streams'].sort());
    for (const group of after.groups) expect(group).toMatchObject({ consumers: 0, pending: 0 });
    expect(after.details['waitingForTarget']).toEqual({});
  });
});
