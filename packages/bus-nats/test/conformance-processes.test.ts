/**
 * The conformance suite over NATS JetStream, every feature on: the parts with child processes
 * (cross-instance, persistence) and own servers (server faults), and close/delete; the rest is in
 * conformance.test.ts (support/conformance-harness.ts splits them, together every part).
 */
import { describeBusConformance } from '@woodwork/bus-conformance';
import { PROCESS_SUITES, natsHarness } from './support/conformance-harness.js';

describeBusConformance(await natsHarness(PROCESS_SUITES));
