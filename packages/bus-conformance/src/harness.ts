/**
 * What a backend gives the conformance suite and the fault ledger (tools/faults): how to make a bus
 * on the shared server, what it can do, how to start and hurt a server of its own, how slow its
 * "nothing arrived" and timing checks must be, and which fault scenarios apply to it.
 *
 * Two servers, never mixed up:
 * - the shared server (Redis on 6379, NATS on 4222): `makeBus` connects to it. Every test that does
 *   not kill, pause or restart a server runs there, under its own random `streamPrefix`;
 * - the harness's own server: `ownServer()` starts one (own port, own data folder under the OS
 *   tmpdir) per test that needs it, and `dispose()` stops it by PID. Only those tests (listed in
 *   `OWN_SERVER_TESTS`, and every fault scenario) call `kill`, `start`, `pause` or `resume`.
 */
import type { BusOptions, MessageBus } from '@woodwork/bus-core';

export interface BusFeatures {
  /** Durable groups and their messages outlive a bus instance (close one, open another, continue). */
  persistence: boolean;
  /**
   * Buses in different processes share one namespace: a consumer in another process can be
   * SIGKILLed and its unacknowledged work is taken over. Needs `childBusModule`.
   */
  crossProcess: boolean;
  /** The bus lives through its server going away and coming back. Needs `ownServer`. */
  serverRestart: boolean;
}

/**
 * The named faults of the ledger runner (`npm run faults -- <backend> [scenario...]`). A backend
 * lists those that apply to it in `BusHarness.faultScenarios`.
 */
export const FAULT_SCENARIOS = {
  /** kill -9 of the server (persistence on) mid-stream, then restart on the same data. */
  'server-kill-9': 'kill -9 of the server with persistence, then restart',
  /** The server restarted with its data gone (lost messages count as `serverLost`, not `lost`). */
  'server-wiped': 'server restarted with its data gone',
  /** SIGSTOP of the server for 10 s (a slow disk, a VM pause), then SIGCONT. */
  'server-paused': 'server paused (SIGSTOP) 10 s',
  /** The server down 60 s while publishers keep publishing. */
  'server-down': 'server down 60 s while publishers publish',
  /** A consumer process SIGKILLed while its handler runs; a live peer takes over. */
  'consumer-killed': 'consumer process killed mid-handler',
  /** The stream trimmed (or the queue bounded) while a group lags behind. */
  'trim-while-lagging': 'trimming while a group lags',
  /** A handler that always fails, and (wire backends) an entry that cannot be decoded. */
  'poison-message': 'poison message: handler always fails, undecodable entry',
  /** One session with most of the traffic among 10,000 sessions. */
  'hot-session': 'one hot session among 10,000',
  /** The stream's leader killed (SIGKILL) in a local 3-node cluster with 3 replicas (`ownCluster`). */
  'leader-killed': 'stream leader killed in a 3-node cluster',
} as const;

export type FaultScenario = keyof typeof FAULT_SCENARIOS;

/** Controls of a server the harness started itself. Never given for the shared server. */
export interface ServerControls {
  /**
   * Sends `signal` (default SIGKILL) to the server process and resolves once it has exited
   * (SIGKILL, SIGTERM, SIGINT). Resolves at once when it is not running.
   */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /**
   * Starts the server again on the same port. `wipe: true` deletes its data folder first (a restart
   * with the data gone). Resolves once it accepts connections.
   */
  start(options?: { wipe?: boolean }): Promise<void>;
  /** SIGSTOP: the process stays, sockets stay open, nothing answers. */
  pause(): Promise<void>;
  /** SIGCONT after `pause()`. */
  resume(): Promise<void>;
}

export interface OwnServer extends ServerControls {
  /**
   * Options that connect a bus to this server (for example `{ url: 'redis://127.0.0.1:6391' }`).
   * The suite merges them into what it passes to `makeBus` and to the child module, so they must be
   * plain JSON.
   */
  readonly busOptions: Record<string, unknown>;
  /** Stops the server by PID and deletes its data folder. */
  dispose(): Promise<void>;
}

/** A local cluster the harness started itself (`leader-killed`). Never the shared server. */
export interface OwnCluster {
  /** Options that connect a bus to the cluster with replicated storage (plain JSON). */
  readonly busOptions: Record<string, unknown>;
  /**
   * SIGKILLs the node leading the storage of the bus options' prefix (read from the server) and
   * resolves with its name once another node leads it.
   */
  killLeader(busOptions: Record<string, unknown>): Promise<string>;
  /** Starts every killed node again on its own data. */
  restartKilled(): Promise<void>;
  /** Stops every node by PID and deletes their data folders. */
  dispose(): Promise<void>;
}

export interface HarnessTiming {
  /**
   * How long a "nothing (else) arrived" check keeps watching after its sentinel arrived. A network
   * backend needs more than memory (a misrouted message can be one poll behind the sentinel).
   * Default 100 ms; the suite never uses less than 50.
   */
  quietMs?: number;
  /**
   * Added to every upper timing bound (close within `closeTimeoutMs`, a timeout near
   * `handlerTimeoutMs`, a retry gap within the backoff) so a busy machine never fails a correct
   * backend. Lower bounds are exact. Default 1,000 ms; at least 2,000 ms for a backend with
   * `crossProcess` or `serverRestart` (the suite raises a smaller value to that).
   */
  slackMs?: number;
}

/** The parts of the suite (`CONFORMANCE_SUITES`), by file name. */
export type ConformanceSuite =
  | 'delivery-and-routing'
  | 'retries-and-dead-letters'
  | 'failures-and-replicas'
  | 'session-order'
  | 'lifecycle'
  | 'groups-and-replicas'
  | 'limits-and-timing'
  | 'dedupe'
  | 'dead-letters-and-health'
  | 'close-and-delete'
  | 'cross-instance'
  | 'bad-input'
  | 'persistence'
  | 'server-faults';

export interface BusHarness {
  /** Shown in test names. */
  name: string;
  /**
   * Only these parts of the suite (a backend's main run leaves it out: everything runs). For a
   * second run under special conditions, e.g. a restricted ACL user or TLS, of the parts that matter there.
   */
  suites?: readonly ConformanceSuite[];
  features: BusFeatures;
  /**
   * Makes a bus on the shared server. The suite always passes its own random `streamPrefix` and small
   * retry delays; buses made with the same prefix share one namespace (for backends with
   * `persistence`). Options from `OwnServer.busOptions` are passed here when a test runs on the
   * harness's own server.
   */
  makeBus(options: BusOptions & Record<string, unknown>): MessageBus | Promise<MessageBus>;
  /**
   * Starts a fresh server of the harness's own (own port, own data folder, persistence on), for one
   * test or one fault scenario. Required with `serverRestart`.
   */
  ownServer?(): Promise<OwnServer>;
  /**
   * Absolute path of an ES module a child process can import; it must export
   * `makeBus(options): MessageBus | Promise<MessageBus>` taking the same options as `makeBus` (the
   * suite's JSON-safe ones: prefix, retry, `busOptions`). Required with `crossProcess`.
   */
  childBusModule?: string;
  /**
   * Extra options for buses whose consumers must notice a dead peer quickly (claim idle time, ack
   * wait...). The tests of a handler longer than that idle time also use them.
   */
  fastRecoveryOptions?: Record<string, unknown>;
  /**
   * The claim idle time / ack wait that `fastRecoveryOptions` sets, in ms (default 1,000): the test
   * of a handler running longer than it uses three times this.
   */
  recoveryIdleMs?: number;
  /**
   * Options that bound what waits for a target that has not subscribed (and a group's backlog) to
   * `limit` messages, so the test of the bound's typed error (`QueueFullError`) runs. Memory:
   * `{ maxQueueSize: limit }`. Without it that test is skipped.
   */
  boundedQueueOptions?(limit: number): Record<string, unknown>;
  /** Quiet period and slack; see `HarnessTiming`. */
  timing?: HarnessTiming;
  /** Starts a local cluster of the backend's own (fault scenario `leader-killed`). */
  ownCluster?(): Promise<OwnCluster>;
  /** The fault scenarios that apply to this backend (tools/faults runs only these). */
  faultScenarios?: readonly FaultScenario[];
  /**
   * Fault runner: the stored copies of each message id under the bus options' prefix (its
   * "duplicates stored" column). Without it that column says n/a.
   */
  countStoredCopies?(busOptions: Record<string, unknown>): Promise<Map<string, number>>;
  /**
   * Fault runner (`poison-message`): writes one entry that cannot be decoded where buses with these
   * options consume `eventType`. Without it that half of the scenario is left out (and said so).
   */
  writeUndecodable?(busOptions: Record<string, unknown>, eventType: string): Promise<void>;
  /**
   * Fault runner (`server-kill-9`): how far back acknowledged writes can be lost by a kill -9 of the
   * server as configured (Redis AOF `everysec`: 1,000; `always`: 0). Acknowledged publishes of that
   * last window that are missing count as `serverLost`, not `lost`. Default 0.
   */
  serverLossWindowMs?: number;
}

/** The timing a harness asked for, with the suite's floors applied. */
export function resolveTiming(harness: BusHarness): Required<HarnessTiming> {
  const network = harness.features.crossProcess || harness.features.serverRestart;
  const quietMs = Math.max(50, harness.timing?.quietMs ?? 100);
  const slackMs = Math.max(network ? 2_000 : 0, harness.timing?.slackMs ?? 1_000);
  return { quietMs, slackMs };
}
