/**
 * The whole conformance suite over NATS JetStream, every feature on. It runs on a nats-server the
 * harness starts itself (own port, own store folder), because `restartServer` restarts it under a
 * running bus; child consumer processes connect to the same one.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { describeBusConformance } from '@woodwork/bus-conformance';
import { NatsMessageBus } from '../src/index.js';
import { OwnNatsServer } from './support/nats-server.js';

let server: OwnNatsServer | undefined;

beforeAll(async () => {
  server = await OwnNatsServer.start();
  process.env['WW_NATS_TEST_URL'] = server.url;
});

afterAll(async () => {
  await server?.stop();
});

describeBusConformance({
  name: 'nats',
  features: { persistence: true, crossProcess: true, serverRestart: true },
  makeBus: (options) => NatsMessageBus.connect({ url: server!.url, ...options }),
  restartServer: () => server!.restart(),
  childBusModule: fileURLToPath(new URL('./support/child-bus.mjs', import.meta.url)),
  fastRecoveryOptions: { ackWaitMs: 1_500 },
});
