import type { OwnServer } from './harness.js';

/**
 * A server process a backend's tests start themselves (own port, own data folder), as bus-redis's
 * and bus-nats's test support make them.
 */
export interface ServerProcess {
  readonly url: string;
  /** Sends `signal` (default SIGTERM or as the server decides) and resolves once the process exited. */
  stopProcess(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port; resolves once it accepts connections. */
  startProcess(): Promise<void>;
  /** Deletes its data folder (it must be stopped). */
  wipe(): void;
  pause(): void;
  resume(): void;
  /** Stops it and deletes its data folder. */
  stop(): Promise<void>;
}

/** The harness's `ownServer()` over such a process: `busOptions` is `{ url }`. */
export function ownServerOf(server: ServerProcess): OwnServer {
  return {
    busOptions: { url: server.url },
    kill: (signal: NodeJS.Signals = 'SIGKILL') => server.stopProcess(signal),
    start: async (options: { wipe?: boolean } = {}) => {
      if (options.wipe) server.wipe();
      await server.startProcess();
    },
    pause: async () => server.pause(),
    resume: async () => server.resume(),
    dispose: () => server.stop(),
  };
}
