/**
 * The routed bus runs the one conformance suite, over two memory members: some event types (and a
 * prefix) go to `b`, the rest to the default `a`, so `'*'` subscriptions span both members and
 * exact ones land on either.
 */
import { describeBusConformance } from '@woodwork/bus-conformance';
import { MemoryMessageBus } from '@woodwork/bus-memory';
import { RoutedMessageBus } from '../src/index.js';

describeBusConformance({
  name: 'routed (two memory members)',
  features: { persistence: false, crossProcess: false, serverRestart: false },
  makeBus: (options) => {
    const { concurrency, handlerTimeoutMs, closeTimeoutMs } = options;
    return new RoutedMessageBus({
      members: { a: new MemoryMessageBus(options), b: new MemoryMessageBus(options) },
      routes: [
        { eventType: 'ok', member: 'b' },
        { eventType: 'route.*', member: 'b' },
        { eventType: 'dl.*', member: 'b' },
        { eventType: 'redrive.*', member: 'b' },
        { eventType: 'order.*', member: 'b' },
        { eventType: 'life.*', member: 'b' },
      ],
      defaultMember: 'a',
      ...(concurrency === undefined ? {} : { concurrency }),
      ...(handlerTimeoutMs === undefined ? {} : { handlerTimeoutMs }),
      ...(closeTimeoutMs === undefined ? {} : { closeTimeoutMs }),
    });
  },
  boundedQueueOptions: (limit) => ({ maxQueueSize: limit }),
  timing: { quietMs: 50, slackMs: 3_000 },
});
