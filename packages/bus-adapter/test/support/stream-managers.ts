/**
 * The StreamManagers a test starts, closed after it: `streamManagersClosedAfterEach(() => bus)`
 * registers an afterEach that closes every manager the test started (all at once), then the test's
 * bus (or what `closeLast` names, such as an adapter that owns the bus).
 */
import type { MessageBus } from '@woodwork/bus-core';
import { afterEach } from 'vitest';
import { StreamManager, type StreamManagerOptions } from '../../src/index.js';

export interface StreamManagers {
  /** Starts a manager on `on` (the test's bus unless given); it is closed after the test. */
  start(options: StreamManagerOptions, on?: MessageBus): Promise<StreamManager>;
  /** Closes a manager the test built itself after the test too; returns it. */
  track(manager: StreamManager): StreamManager;
  /** Closes every manager started so far, now. */
  closeAll(): Promise<void>;
  /** The managers started (or tracked) and not closed yet. */
  readonly started: readonly StreamManager[];
}

export function streamManagersClosedAfterEach(
  currentBus: () => MessageBus | undefined,
  closeLast: () => Promise<unknown> | undefined = () => currentBus()?.close(),
): StreamManagers {
  const started: StreamManager[] = [];
  const closeAll = async (): Promise<void> => {
    await Promise.all(started.splice(0).map((m) => m.close()));
  };
  afterEach(async () => {
    await closeAll();
    await closeLast();
  });
  const track = (manager: StreamManager): StreamManager => {
    started.push(manager);
    return manager;
  };
  return {
    track,
    closeAll,
    started,
    async start(options, on = currentBus()) {
      if (on === undefined) throw new Error('the test has no bus yet: set it before starting a StreamManager');
      const manager = track(new StreamManager(on, options));
      await manager.start();
      return manager;
    },
  };
}
