/**
 * The whole conformance suite over NATS JetStream, every feature on. Buses connect to the shared
 * NATS (NATS_URL, else 127.0.0.1:4222, else testcontainers, else a failure saying how to start one);
 * the tests that kill, pause or restart a server get a `nats-server` of their own (`ownServer`).
 */
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { describeBusConformance } from '@woodwork/bus-conformance';
import { NatsMessageBus } from '../src/index.js';
import { SharedNamespaces } from './support/namespaces.js';
import { ownServerControls, sharedNatsUrl } from './support/nats-server.js';

const sharedUrl = await sharedNatsUrl();
// Child consumer processes inherit it.
process.env['WW_NATS_TEST_URL'] = sharedUrl;
// Every prefix the suite used (its children's too: they get the same ones) is deleted afterwards.
const namespaces = new SharedNamespaces(() => sharedUrl);
afterAll(() => namespaces.deleteAll(), 120_000);

describeBusConformance({
  name: 'nats',
  features: { persistence: true, crossProcess: true, serverRestart: true },
  makeBus: (options) => NatsMessageBus.connect({ url: sharedUrl, ...namespaces.remember(options) }),
  ownServer: ownServerControls,
  childBusModule: fileURLToPath(new URL('./support/child-bus.mjs', import.meta.url)),
  // A dead process's partitions are taken over after leaseMs (4 s is the least: pulls last 1 s).
  fastRecoveryOptions: { ackWaitMs: 1_500, leaseMs: 4_000 },
  recoveryIdleMs: 1_500,
  timing: { quietMs: 200 },
  faultScenarios: ['server-kill-9', 'server-wiped', 'server-paused', 'server-down', 'consumer-killed', 'poison-message', 'hot-session'],
});
