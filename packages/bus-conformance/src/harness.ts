/**
 * What a backend gives the conformance suite: how to make a bus, what it can do, and for persistent
 * backends how to restart its (own, never the shared) server and run a consumer in a child process.
 */
import type { BusOptions, MessageBus } from '@woodwork/bus-core';

export interface BusFeatures {
  /** Durable groups and their messages outlive a bus instance (close one, open another, continue). */
  persistence: boolean;
  /** A consumer in another process can be SIGKILLed and its unacknowledged work is taken over. */
  crossProcess: boolean;
  /** `restartServer()` restarts the server under a running bus. */
  serverRestart: boolean;
}

export interface BusHarness {
  /** Shown in test names. */
  name: string;
  features: BusFeatures;
  /**
   * Makes a bus. The suite always passes its own random `streamPrefix` and small retry delays; buses
   * made with the same prefix share one namespace (for backends with `persistence`).
   */
  makeBus(options: BusOptions & Record<string, unknown>): MessageBus | Promise<MessageBus>;
  /** Restarts the harness's own server (never the shared one). Required with `serverRestart`. */
  restartServer?(): Promise<void>;
  /**
   * Absolute path of an ES module a child process can import; it must export
   * `makeBus(options): MessageBus | Promise<MessageBus>` connecting to the same server. Required with
   * `crossProcess`.
   */
  childBusModule?: string;
  /** Extra options for buses whose consumers must notice a dead peer quickly (claim idle time...). */
  fastRecoveryOptions?: Record<string, unknown>;
}
