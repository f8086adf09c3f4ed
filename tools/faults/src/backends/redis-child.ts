// The module the consumer-killed scenario's child processes import: a Redis bus on the server the
// options name.
import { RedisMessageBus, type RedisBusOptions } from '@woodwork/bus-redis';

export function makeBus(options: RedisBusOptions): Promise<RedisMessageBus> {
  return RedisMessageBus.connect(options);
}
