// The conformance suite's child processes import this: a NATS bus wrapped by instrumentBus (with the SDK
// and W3C propagation of child-sdk.mjs), on the
// server the options name (the harness's own, or the shared one the parent found: WW_NATS_TEST_URL).
import { NatsMessageBus } from '@woodwork/bus-nats';
import { instrumentBus } from '../../dist/index.js';
import './child-sdk.mjs';

export async function makeBus(options) {
  return instrumentBus(await NatsMessageBus.connect({ url: process.env.WW_NATS_TEST_URL, ...options }));
}
