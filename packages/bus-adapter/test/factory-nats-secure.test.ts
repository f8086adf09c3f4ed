/**
 * The NATS login and TLS settings from the environment reach a real server: a `nats-server` of the
 * test's own with TLS (certificates from the repository's openssl helper) and a user/password, the
 * bus made by `MessageBusFactory.createFromEnvironment` from `WOODWORK_NATS_*` variables only. A
 * wrong password is core's AuthenticationError, with the password nowhere in it.
 */
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationError } from '@woodwork/bus-core';
import { MessageBusFactory } from '../src/index.js';
import { makeCertificates, type TestCertificates } from '../../bus-redis/test/support/tls-certs.mjs';
import { ConfiguredNatsServer, testDir } from '../../bus-nats/test/support/secure-nats.js';

const PASSWORD = 'env-pw-Nats-61c0ad';
const dir = testDir('adapter-nats-tls');
let certs: TestCertificates;
let server: ConfiguredNatsServer;

beforeAll(async () => {
  certs = makeCertificates();
  server = await ConfiguredNatsServer.start(
    dir.path,
    `tls {\n  cert_file: "${certs.serverCertFile}"\n  key_file: "${certs.serverKeyFile}"\n}\nauthorization {\n  users = [ { user: "app", password: "${PASSWORD}" } ]\n}\n`,
  );
});
afterAll(async () => {
  await server?.stop();
  dir.remove();
  certs?.remove();
});

const environment = (password: string): Record<string, string> => ({
  WOODWORK_MESSAGE_BUS: 'nats',
  WOODWORK_NATS_URL: `tls://127.0.0.1:${server.port}`,
  WOODWORK_NATS_USERNAME: 'app',
  WOODWORK_NATS_PASSWORD: password,
  WOODWORK_NATS_TLS_CA_FILE: certs.caFile,
  WOODWORK_NATS_TLS_SERVER_NAME: 'localhost',
  WOODWORK_STREAM_PREFIX: `adapter-tls-${randomBytes(4).toString('hex')}`,
});

describe('MessageBusFactory with a secured NATS', () => {
  it('connects with WOODWORK_NATS_USERNAME / _PASSWORD / _TLS_CA_FILE and round-trips a message', async () => {
    const bus = await MessageBusFactory.createFromEnvironment(environment(PASSWORD));
    try {
      const got: string[] = [];
      await bus.subscribe('adapter.secure', (e) => void got.push(e.messageId), { componentId: 'secure' });
      const { messageId } = await bus.publish({ sessionId: 's', eventType: 'adapter.secure', componentSource: 'test', pattern: 'pub_sub' });
      const deadline = Date.now() + 15_000;
      while (got.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(got).toEqual([messageId]);
      const health = await bus.healthCheck();
      expect(health.status).toBe('healthy');
      expect(health.details?.['tls']).toBe(true);
      expect(inspect(health, { depth: null })).not.toContain(PASSWORD);
    } finally {
      await bus.close();
    }
  });

  it('a wrong password from the environment is AuthenticationError without the password', async () => {
    const wrong = `${PASSWORD}-wrong`;
    const error = await MessageBusFactory.createFromEnvironment(environment(wrong)).then(
      async (bus) => {
        await bus.close();
        throw new Error('connected with a wrong password');
      },
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(inspect(error, { depth: null, showHidden: true })).not.toContain(wrong);
  });
});
