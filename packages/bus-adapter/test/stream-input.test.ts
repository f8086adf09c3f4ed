/**
 * StreamManager against input a caller gets wrong: it is refused at the producer, with a typed
 * error naming the field, before anything reaches the consumer (where it would end up as a dead
 * letter and a confusing cancel).
 */
import { BusClosedError, InvalidMessageError } from '@woodwork/bus-core';
import type { MemoryMessageBus } from '@woodwork/bus-memory';
import { afterEach, describe, expect, it } from 'vitest';
import { StreamManager, type StreamReader } from '../src/index.js';
import { memoryBus, settle } from './support/memory.js';

let bus: MemoryMessageBus;
const managers: StreamManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.close()));
  await bus?.close();
});

async function manager(componentId: string, onStream?: (r: StreamReader) => void): Promise<StreamManager> {
  const m = new StreamManager(bus, { componentId, ...(onStream ? { onStream } : {}) });
  managers.push(m);
  await m.start();
  return m;
}

describe('createStream input', () => {
  it.each([[[1, 2]], ['text'], [{ when: new Date() }], [{ n: Number.NaN }]])(
    'metadata %j is an InvalidMessageError naming metadata, and nothing is sent',
    async (metadata) => {
      bus = memoryBus();
      const readers: StreamReader[] = [];
      await manager('output', (r) => void readers.push(r));
      const agent = await manager('agent');
      const error = await agent.createStream({ target: 'output', sessionId: 's', metadata: metadata as never }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidMessageError);
      expect((error as InvalidMessageError).field).toMatch(/^metadata/);
      await settle();
      expect(readers).toEqual([]);
      expect(await bus.getDeadLetterMessages()).toEqual([]);
      expect(agent.openStreams).toEqual({ writing: 0, reading: 0 });
    },
  );

  it('a closed manager refuses new streams with BusClosedError', async () => {
    bus = memoryBus();
    const agent = await manager('agent');
    await agent.close();
    await expect(agent.createStream({ target: 'output', sessionId: 's' })).rejects.toBeInstanceOf(BusClosedError);
  });
});
