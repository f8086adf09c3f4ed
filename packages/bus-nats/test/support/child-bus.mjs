// The module the conformance suite's child processes import: a NATS bus on the server the options
// name (the harness's own, or the shared one the parent found: WW_NATS_TEST_URL).
import { NatsMessageBus } from '../../dist/index.js';

export function makeBus(options) {
  return NatsMessageBus.connect({ url: process.env.WW_NATS_TEST_URL, ...options });
}
