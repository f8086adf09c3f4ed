/**
 * The woodwork bus conformance suite. A backend runs it in a few lines:
 *
 *   describeBusConformance({ name: 'memory', features: {...}, makeBus: (o) => new MemoryMessageBus(o) });
 *
 * A backend that cannot do something declares it in `features`; those tests are skipped (and shown
 * as skipped in the run), never forked or weakened.
 */
import { describe } from 'vitest';
import type { BusHarness, ConformanceSuite } from './harness.js';
import { badInputSuite } from './suites/bad-input.js';
import { closeAndDeleteSuite } from './suites/close-and-delete.js';
import { crossInstanceSuite } from './suites/cross-instance.js';
import { deadLettersAndHealthSuite } from './suites/dead-letters-and-health.js';
import { dedupeSuite } from './suites/dedupe.js';
import { failuresAndReplicasSuite } from './suites/failures-and-replicas.js';
import { groupsAndReplicasSuite } from './suites/groups-and-replicas.js';
import { limitsAndTimingSuite } from './suites/limits-and-timing.js';
import { deliveryAndRoutingSuite } from './suites/delivery-and-routing.js';
import { lifecycleSuite } from './suites/lifecycle.js';
import { persistenceSuite } from './suites/persistence.js';
import { retriesAndDeadLettersSuite } from './suites/retries-and-dead-letters.js';
import { serverFaultsSuite } from './suites/server-faults.js';
import { sessionOrderSuite } from './suites/session-order.js';

export type { BusFeatures, BusHarness, ConformanceSuite, FaultScenario, HarnessTiming, OwnCluster, OwnServer, ServerControls } from './harness.js';
export { FAULT_SCENARIOS, resolveTiming } from './harness.js';
export type { LedgerReport } from './ledger.js';
export { Ledger, message, randomName, waitFor, sleep, FAST_RETRY } from './support.js';
export { startConsumerProcess, type ConsumerProcess } from './child-process.js';
export { ownServerOf, type ServerProcess } from './own-server.js';
export type { ChildConfig, ChildEvent, ChildSubscription } from './child-consumer.js';
export { BAD_ENVELOPES } from './suites/bad-input.js';
export { OWN_SERVER_TESTS } from './suites/server-faults.js';

/** The parts of the suite, by name, in the order they run (`BusHarness.suites` picks some). */
export const CONFORMANCE_SUITES = {
  'delivery-and-routing': deliveryAndRoutingSuite,
  'retries-and-dead-letters': retriesAndDeadLettersSuite,
  'failures-and-replicas': failuresAndReplicasSuite,
  'session-order': sessionOrderSuite,
  lifecycle: lifecycleSuite,
  'groups-and-replicas': groupsAndReplicasSuite,
  'limits-and-timing': limitsAndTimingSuite,
  dedupe: dedupeSuite,
  'dead-letters-and-health': deadLettersAndHealthSuite,
  'close-and-delete': closeAndDeleteSuite,
  'cross-instance': crossInstanceSuite,
  'bad-input': badInputSuite,
  persistence: persistenceSuite,
  'server-faults': serverFaultsSuite,
} as const satisfies Record<ConformanceSuite, (harness: BusHarness) => void>;

export function describeBusConformance(harness: BusHarness): void {
  const chosen = harness.suites ?? (Object.keys(CONFORMANCE_SUITES) as ConformanceSuite[]);
  describe(`MessageBus conformance: ${harness.name}`, () => {
    for (const [name, suite] of Object.entries(CONFORMANCE_SUITES)) if (chosen.includes(name as ConformanceSuite)) suite(harness);
  });
}
