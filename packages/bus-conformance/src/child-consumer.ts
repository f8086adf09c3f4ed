/**
 * A consumer run in a child process by the persistence suite, so a test can SIGKILL it while a
 * handler runs. argv[2] is JSON: { module, options, eventType, componentId }.
 * It prints one line per event: `ready`, `started <messageId>`, `done <messageId>`.
 * A message whose payload has `hang: true` never finishes (the test kills the process then).
 */
import type { MessageBus } from '@woodwork/bus-core';

interface ChildConfig {
  module: string;
  options: Record<string, unknown>;
  eventType: string;
  componentId: string;
}

const config = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
const { makeBus } = (await import(config.module)) as { makeBus(o: Record<string, unknown>): MessageBus | Promise<MessageBus> };
const bus = await makeBus(config.options);
await bus.subscribe(
  config.eventType,
  async (envelope) => {
    process.stdout.write(`started ${envelope.messageId}\n`);
    if ((envelope.payload as { hang?: boolean }).hang) await new Promise(() => undefined);
    process.stdout.write(`done ${envelope.messageId}\n`);
  },
  { componentId: config.componentId },
);
process.stdout.write('ready\n');
