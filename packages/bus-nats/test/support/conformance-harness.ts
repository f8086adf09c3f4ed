/**
 * The conformance harness of the main runs (test/conformance.test.ts and
 * test/conformance-processes.test.ts): buses on the shared NATS (NATS_URL, else 127.0.0.1:4222,
 * else testcontainers, else a failure saying how to start one); the tests that kill, pause or
 * restart a server get a `nats-server` of their own (`ownServer`). The suite runs in two files so
 * vitest can run them side by side; together they run every part (`PROCESS_SUITES` and the rest).
 */
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { CONFORMANCE_SUITES, type BusHarness, type ConformanceSuite } from '@woodwork/bus-conformance';
import { NatsMessageBus } from '../../src/index.js';
import { SharedNamespaces } from './namespaces.js';
import { ownServerControls, sharedNatsUrl } from './nats-server.js';

/** The parts with child processes and own servers (conformance-processes.test.ts). */
export const PROCESS_SUITES: readonly ConformanceSuite[] = ['cross-instance', 'persistence', 'server-faults', 'close-and-delete'];

/** Every other part (conformance.test.ts). */
export const IN_PROCESS_SUITES: readonly ConformanceSuite[] = (Object.keys(CONFORMANCE_SUITES) as ConformanceSuite[]).filter((s) => !PROCESS_SUITES.includes(s));

export async function natsHarness(suites: readonly ConformanceSuite[]): Promise<BusHarness> {
  const sharedUrl = await sharedNatsUrl();
  // Child consumer processes inherit it.
  process.env['WW_NATS_TEST_URL'] = sharedUrl;
  // Every prefix the suite used (its children's too: they get the same ones) is deleted afterwards.
  const namespaces = new SharedNamespaces(() => sharedUrl);
  afterAll(() => namespaces.deleteAll(), 120_000);
  return {
    name: 'nats',
    suites,
    features: { persistence: true, crossProcess: true, serverRestart: true },
    makeBus: (options) => NatsMessageBus.connect({ url: sharedUrl, ...namespaces.remember(options) }),
    ownServer: ownServerControls,
    childBusModule: fileURLToPath(new URL('./child-bus.mjs', import.meta.url)),
    // A dead process's partitions are taken over after leaseMs (4 s is the least: pulls last 1 s).
    fastRecoveryOptions: { ackWaitMs: 1_500, leaseMs: 4_000 },
    recoveryIdleMs: 1_500,
    timing: { quietMs: 200 },
    faultScenarios: ['server-kill-9', 'server-wiped', 'server-paused', 'server-down', 'consumer-killed', 'poison-message', 'hot-session'],
  };
}
