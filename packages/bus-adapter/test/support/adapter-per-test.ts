/**
 * A MessageBusAdapter over a fresh memory bus, made by a test and closed (with its bus) after it:
 * `const setup = adapterPerTest((made) => ({ bus, adapter } = made));` keeps the file's `bus` and
 * `adapter` variables pointing at the current test's pair.
 */
import type { MemoryMessageBus } from '@woodwork/bus-memory';
import { afterEach } from 'vitest';
import { MessageBusAdapter } from '../../src/index.js';
import { memoryBus } from './memory.js';

export interface AdapterOnBus {
  bus: MemoryMessageBus;
  adapter: MessageBusAdapter;
}

export function adapterPerTest(made: (pair: AdapterOnBus) => void): () => MessageBusAdapter {
  let current: MessageBusAdapter | undefined;
  afterEach(async () => {
    await current?.close().catch(() => undefined);
    current = undefined;
  });
  return () => {
    const bus = memoryBus();
    current = new MessageBusAdapter(bus);
    made({ bus, adapter: current });
    return current;
  };
}
