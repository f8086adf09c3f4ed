/** What a consumer process of the fault runner imports (consumer-killed): a NATS bus on the options' server. */
import type { MessageBus } from '@woodwork/bus-core';
import { NatsMessageBus } from '@woodwork/bus-nats';

export function makeBus(options: Record<string, unknown>): Promise<MessageBus> {
  return NatsMessageBus.connect(options);
}
