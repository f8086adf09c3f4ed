/**
 * The conformance suite's delivery, retry and dead-letter parts (`WW_NATS_SLOW=1`, npm run test:slow: the whole
 * suite that runs on one server in one process, crossProcess and serverRestart off) with a
 * NATS user that has exactly the documented permissions (`minimalPermissions`), on a nats-server of
 * the test's own: everything works with them. NATS permissions cannot match part of a token, so the
 * user is given the minimal permissions of a pool of prefixes and each prefix the suite asks for is
 * mapped to the next one of the pool (the same suite prefix always to the same pool prefix). After
 * the run the server's log must hold no permission violation: a subject missing from the list would
 * show there even where the bus swallowed the refusal.
 */
import { afterAll } from 'vitest';
import { randomBytes } from 'node:crypto';
import { STREAM_PREFIX_PATTERN } from '@woodwork/bus-core';
import { describeBusConformance } from '@woodwork/bus-conformance';
import { NatsMessageBus, minimalPermissions } from '../src/index.js';
import { ConfiguredNatsServer, testDir } from './support/secure-nats.js';

const SLOW = process.env['WW_NATS_SLOW'] === '1';
const PASSWORD = 'app-pw-Perm-5e1a9c';
const POOL = Array.from({ length: 160 }, (_, i) => `pc${randomBytes(3).toString('hex')}-${i}`);
const permissions = POOL.map((p) => minimalPermissions(p));
const list = (subjects: string[]): string => subjects.map((s) => JSON.stringify(s)).join(', ');
const dir = testDir('nats-perm-conformance');
const server = await ConfiguredNatsServer.start(
  dir.path,
  `authorization {\n  users = [ { user: "app", password: "${PASSWORD}", permissions: { publish: { allow: [${list(permissions.flatMap((p) => p.publish))}] }, subscribe: { allow: [${list(permissions.flatMap((p) => p.subscribe))}] } } } ]\n}\n`,
);
const mapped = new Map<string, string>();

/** The pool prefix standing for `asked`; a value that is not a valid prefix is passed on for the bus to reject. */
function poolPrefix(asked: unknown): unknown {
  if (typeof asked !== 'string' || !STREAM_PREFIX_PATTERN.test(asked)) return asked;
  let prefix = mapped.get(asked);
  if (!prefix) {
    prefix = POOL[mapped.size];
    if (!prefix) throw new Error(`the permission pool of ${POOL.length} prefixes is used up: make it larger`);
    mapped.set(asked, prefix);
  }
  return prefix;
}

afterAll(async () => {
  const violations = server.logLines(/Violation/);
  await server.stop();
  dir.remove();
  if (violations.length > 0) throw new Error(`the minimal user was refused something: ${violations.slice(0, 3).join(' | ')}`);
});

describeBusConformance({
  name: 'nats with the documented minimal permissions',
  features: { persistence: true, crossProcess: false, serverRestart: false },
  ...(SLOW ? {} : { suites: ['delivery-and-routing', 'retries-and-dead-letters', 'dead-letters-and-health'] as const }),
  makeBus: (options) =>
    NatsMessageBus.connect({
      url: `nats://127.0.0.1:${server.port}`,
      username: 'app',
      password: PASSWORD,
      storage: 'memory',
      ...options,
      streamPrefix: poolPrefix(options.streamPrefix ?? 'woodwork') as string,
    }),
  fastRecoveryOptions: { ackWaitMs: 1_500, leaseMs: 4_000 },
  recoveryIdleMs: 1_500,
  timing: { quietMs: 200 },
});
