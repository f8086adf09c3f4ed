/**
 * The conformance suite over NATS JetStream, every feature on: the parts that run in this process
 * (the parts with child processes and own servers are in conformance-processes.test.ts, so vitest
 * runs the two side by side; support/conformance-harness.ts splits them, together every part).
 */
import { describeBusConformance } from '@woodwork/bus-conformance';
import { IN_PROCESS_SUITES, natsHarness } from './support/conformance-harness.js';

describeBusConformance(await natsHarness(IN_PROCESS_SUITES));
