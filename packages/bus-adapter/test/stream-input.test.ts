/**
 * StreamManager against input a caller gets wrong: it is refused at the producer, with a typed
 * error naming the field, before anything reaches the consumer (where it would end up as a dead
 * letter and a confusing cancel). And a start the bus refuses halfway leaves nothing behind.
 */
import { BackendUnavailableError, BusClosedError, InvalidMessageError } from '@woodwork/bus-core';
import type { MemoryMessageBus } from '@woodwork/bus-memory';
import { describe, expect, it } from 'vitest';
import { StreamManager, type StreamReader } from '../src/index.js';
import { memoryBus, settle } from './support/memory.js';
import { streamManagersClosedAfterEach } from './support/stream-managers.js';

let bus: MemoryMessageBus;
const managers = streamManagersClosedAfterEach(() => bus);

describe('createStream input', () => {
  it.each([[[1, 2]], ['text'], [{ when: new Date() }], [{ n: Number.NaN }]])(
    'metadata %j is an InvalidMessageError naming metadata, and nothing is sent',
    async (metadata) => {
      bus = memoryBus();
      const readers: StreamReader[] = [];
      await managers.start({ componentId: 'output', onStream: (r) => void readers.push(r) });
      const agent = await managers.start({ componentId: 'agent' });
      const error = await agent.createStream({ target: 'output', sessionId: 's', metadata: metadata as never }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidMessageError);
      expect((error as InvalidMessageError).field).toMatch(/^metadata/);
      await settle();
      expect(readers).toEqual([]);
      expect(await bus.getDeadLetterMessages()).toEqual([]);
      expect(agent.openStreams).toEqual({ writing: 0, reading: 0 });
    },
  );

  it('a start that fails halfway leaves no subscription behind, and start() can be tried again', async () => {
    bus = memoryBus();
    let refuse = true;
    const flaky = new Proxy(bus, {
      get(target, property) {
        if (property === 'subscribe') {
          return (pattern: string, handler: never, options: { componentId?: string }) => {
            if (refuse && options.componentId === 'agent--streams') return Promise.reject(new BackendUnavailableError('no server'));
            return target.subscribe(pattern, handler, options);
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const agent = new StreamManager(flaky, { componentId: 'agent' });
    managers.track(agent);
    await expect(agent.start()).rejects.toBeInstanceOf(BackendUnavailableError);
    expect((await bus.healthCheck()).metrics.activeSubscriptions).toBe(0);
    await expect(agent.createStream({ target: 'output', sessionId: 's' })).rejects.toThrow(/must be started/);
    refuse = false;
    await agent.start();
    expect((await bus.healthCheck()).metrics.activeSubscriptions).toBe(2);
  });

  it('a closed manager refuses new streams with BusClosedError', async () => {
    bus = memoryBus();
    const agent = await managers.start({ componentId: 'agent' });
    await agent.close();
    await expect(agent.createStream({ target: 'output', sessionId: 's' })).rejects.toBeInstanceOf(BusClosedError);
  });
});
