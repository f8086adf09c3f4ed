// The module the conformance suite's child processes import: a NATS bus on the harness's own server
// (its URL is in WW_NATS_TEST_URL, set by the parent before it spawns).
import { NatsMessageBus } from '../../dist/index.js';

export function makeBus(options) {
  return NatsMessageBus.connect({ url: process.env.WW_NATS_TEST_URL, ...options });
}
