import { NatsMessageBus } from './nats-bus.js';
import type { NatsBusOptions } from './options.js';

export { NatsMessageBus } from './nats-bus.js';
export { NATS_OPTION_KEYS, DEFAULT_NATS_URL, type NatsBusOptions, type ResolvedNatsBusOptions } from './options.js';
export { layoutFor, consumerName, messageSubject, partitionConsumerName, partitionOf, type Layout } from './subjects.js';
export { featuresOf, type ServerFeatures } from './server.js';
export { minimalPermissions, defaultInboxPrefix, type NatsPermissions } from './permissions.js';
export type { NatsAuthOptions, NatsTlsOptions } from './auth.js';

/** The factory every backend package exports under this name; the adapter loads backends by it. */
export function createMessageBus(options?: NatsBusOptions): Promise<NatsMessageBus> {
  return NatsMessageBus.connect(options);
}
