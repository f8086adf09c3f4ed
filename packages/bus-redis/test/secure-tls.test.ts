/**
 * TLS against a redis-server of the test's own (`--tls-port`, `--tls-auth-clients yes`) with
 * certificates the test makes with `openssl`: the bus connects with the CA and a client
 * certificate; a wrong CA and a wrong server name fail with a typed `AuthenticationError`, a missing
 * client certificate with `BackendUnavailableError` saying what may be missing, each after one
 * connection attempt (counted by a TCP proxy: Redis does not count failed TLS handshakes); a
 * missing certificate file is a `ConfigFileError` naming it.
 */
import { inspect } from 'node:util';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { AuthenticationError, BackendUnavailableError, ConfigFileError, InvalidConfigError } from '@woodwork/bus-core';
import { randomName, sleep, waitFor } from '@woodwork/bus-conformance';
import { RedisMessageBus } from '../src/index.js';
import { OwnRedisServer, freePort } from './support/redis-server.js';
import { makeCertificates, type TestCertificates } from './support/tls-certs.mjs';
import { startCountingProxy, type CountingProxy } from './support/counting-proxy.js';

let certs: TestCertificates;
let server: OwnRedisServer;
let tlsPort: number;
let admin: Redis;
let proxy: CountingProxy;

beforeAll(async () => {
  certs = makeCertificates();
  tlsPort = await freePort();
  server = await OwnRedisServer.start({
    args: ['--tls-port', String(tlsPort), '--tls-cert-file', certs.serverCertFile, '--tls-key-file', certs.serverKeyFile, '--tls-ca-cert-file', certs.caFile, '--tls-auth-clients', 'yes'],
  });
  admin = new Redis({ host: '127.0.0.1', port: server.port }); // the plain port
  proxy = await startCountingProxy(tlsPort);
});

afterAll(async () => {
  await proxy?.close();
  admin?.disconnect();
  await server?.stop();
  certs?.remove();
});

const url = (): string => `rediss://127.0.0.1:${tlsPort}`;

describe('Redis over TLS', () => {
  it('connects with the CA and a client certificate, and delivers', async () => {
    const bus = await RedisMessageBus.connect({
      url: url(),
      tls: { caFile: certs.caFile, certFile: certs.clientCertFile, keyFile: certs.clientKeyFile },
      streamPrefix: randomName('tls'),
    });
    try {
      const got: string[] = [];
      await bus.subscribe('tls.test', async (m) => void got.push(m.messageId), { componentId: 'c1' });
      const { messageId } = await bus.publish({ eventType: 'tls.test', sessionId: 's1', payload: {}, componentSource: 'tls-test' });
      await waitFor(() => got.includes(messageId), 'delivery over TLS', 10_000);
      const health = await bus.healthCheck();
      expect(health.status).toBe('healthy');
      // The client key never shows: not in the options, not in health.
      const key = readFileSync(certs.clientKeyFile, 'utf8').split('\n')[1]!;
      expect(inspect(bus.options, { depth: null }) + JSON.stringify(bus.options) + JSON.stringify(health)).not.toContain(key);
    } finally {
      await bus.close();
    }
  });

  it('a server name other than the host is checked against the certificate (serverName)', async () => {
    const ok = await RedisMessageBus.connect({
      url: url(),
      tls: { caFile: certs.caFile, certFile: certs.clientCertFile, keyFile: certs.clientKeyFile, serverName: 'localhost' },
      streamPrefix: randomName('tls'),
    });
    await ok.close();
    const wrong = await RedisMessageBus.connect({
      url: url(),
      tls: { caFile: certs.caFile, certFile: certs.clientCertFile, keyFile: certs.clientKeyFile, serverName: 'not-this-server.example' },
      streamPrefix: randomName('tls'),
    }).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(AuthenticationError);
    expect((wrong as Error).message).toMatch(/TLS with Redis at rediss:\/\/127\.0\.0\.1:\d+ failed: .*ERR_TLS_CERT_ALTNAME_INVALID/);
  });

  it('a wrong CA fails with a typed error after one attempt, not a reconnect loop', async () => {
    const before = proxy.connections;
    const error = await RedisMessageBus.connect({
      url: `rediss://127.0.0.1:${proxy.port}`,
      tls: { caFile: certs.otherCaFile, certFile: certs.clientCertFile, keyFile: certs.clientKeyFile },
      streamPrefix: randomName('tls'),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect((error as Error).message).toMatch(/TLS with Redis at .* failed: .*(self[- ]signed|unable to verify|certificate)/i);
    expect((error as Error).message).toMatch(/tls\.caFile/);
    await sleep(1_500);
    expect(proxy.connections - before).toBe(1);
    const key = readFileSync(certs.clientKeyFile, 'utf8').split('\n')[1]!;
    expect(inspect(error, { depth: null })).not.toContain(key);
  });

  it('without a client certificate the server resets the connection: a typed error saying what may be missing, one attempt', async () => {
    const before = proxy.connections;
    const error = await RedisMessageBus.connect({ url: `rediss://127.0.0.1:${proxy.port}`, tls: { caFile: certs.caFile }, streamPrefix: randomName('tls') }).catch((e: unknown) => e);
    // Whether the client reads the server's TLS alert ("certificate required") before the reset
    // depends on timing: either way the error is typed and says what to set.
    if (error instanceof AuthenticationError) expect(error.message).toMatch(/TLS with Redis at rediss:\/\/127\.0\.0\.1:\d+ failed: .*certificate required.*tls\.certFile, tls\.keyFile/);
    else {
      expect(error).toBeInstanceOf(BackendUnavailableError);
      expect((error as Error).message).toMatch(/cannot connect to Redis at rediss:\/\/127\.0\.0\.1:\d+: .*if the server requires client certificates, set tls\.certFile and tls\.keyFile/);
    }
    await sleep(1_500);
    expect(proxy.connections - before).toBe(1);
  });

  it('a missing or unreadable certificate file is a ConfigFileError naming the option and the file', async () => {
    const missing = `${certs.dir}/no-such-ca.crt`;
    const error = await RedisMessageBus.connect({ url: url(), tls: { caFile: missing } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigFileError);
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect((error as ConfigFileError).key).toBe('tls.caFile');
    expect((error as ConfigFileError).file).toBe(missing);
    expect((error as Error).message).toBe(`invalid config: tls.caFile names the file ${missing}, which cannot be read (ENOENT)`);
    const directory = await RedisMessageBus.connect({ url: url(), tls: { caFile: certs.caFile, certFile: certs.dir, keyFile: certs.clientKeyFile } }).catch((e: unknown) => e);
    expect(directory).toBeInstanceOf(ConfigFileError);
    expect((directory as Error).message).toContain(`tls.certFile names the file ${certs.dir}, which cannot be read (EISDIR)`);
  });

  it('TLS settings with a redis:// URL, or a certificate without its key, are refused before connecting', async () => {
    await expect(RedisMessageBus.connect({ url: `redis://127.0.0.1:${server.port}`, tls: { caFile: certs.caFile } })).rejects.toThrow(/invalid config: tls is set, but url starts with redis:\/\/.*use rediss:\/\//);
    await expect(RedisMessageBus.connect({ url: url(), tls: { certFile: certs.clientCertFile } })).rejects.toThrow(/tls.certFile needs tls.certFile and tls.keyFile together/);
    await expect(RedisMessageBus.connect({ url: url(), tls: { caFile: certs.caFile, ca: 'x' } as never })).rejects.toThrow(/tls.ca is not a known option/);
  });
});
