/**
 * The login and TLS settings end to end, from the environment and from a config file through the
 * factory to bus-redis: the CLI's `health` on a redis-server of the test's own that serves TLS with
 * client certificates required (certificates made with openssl), and an ACL-less `requirepass`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/index.js';
import { OwnRedis } from './support/own-redis.js';
import { makeCertificates, type TestCertificates } from '../../bus-redis/test/support/tls-certs.mjs';

const PASSWORD = 'Tls-Cli-S3cret-0b7d';
let certs: TestCertificates;
let server: OwnRedis;
let tlsPort: number;
let dir: string;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function cli(argv: string[], env: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { env, stdout: { write: (t: string) => void (out += t) }, stderr: { write: (t: string) => void (err += t) } });
  return { code, out, err };
}

beforeAll(async () => {
  certs = makeCertificates();
  tlsPort = await freePort();
  server = await OwnRedis.start([
    '--requirepass', PASSWORD,
    '--tls-port', String(tlsPort), '--tls-cert-file', certs.serverCertFile, '--tls-key-file', certs.serverKeyFile, '--tls-ca-cert-file', certs.caFile, '--tls-auth-clients', 'yes',
  ]);
  dir = mkdtempSync(join(tmpdir(), 'ww-cli-tls-'));
}, 60_000);

afterAll(async () => {
  await server?.stop();
  certs?.remove();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('TLS and password from the environment and a config file', () => {
  it('WOODWORK_REDIS_TLS_* and WOODWORK_REDIS_PASSWORD reach the backend', async () => {
    const env = {
      WOODWORK_MESSAGE_BUS: 'redis',
      WOODWORK_REDIS_URL: `rediss://127.0.0.1:${tlsPort}`,
      WOODWORK_REDIS_PASSWORD: PASSWORD,
      WOODWORK_REDIS_TLS_CA_FILE: certs.caFile,
      WOODWORK_REDIS_TLS_CERT_FILE: certs.clientCertFile,
      WOODWORK_REDIS_TLS_KEY_FILE: certs.clientKeyFile,
      WOODWORK_REDIS_TLS_SERVER_NAME: 'localhost',
      WOODWORK_STREAM_PREFIX: 'cli-tls-env',
    };
    const run = await cli(['health', '--json'], env);
    expect(run.code, run.err).toBe(0);
    const health = JSON.parse(run.out) as { status: string; details: { server: string } };
    expect(health.status).toBe('healthy');
    expect(health.details.server).toBe(`rediss://127.0.0.1:${tlsPort}`);
    expect(run.out + run.err).not.toContain(PASSWORD);
    // Without the client certificate the server refuses the connection: a failure, typed, no secret.
    const { WOODWORK_REDIS_TLS_CERT_FILE: _c, WOODWORK_REDIS_TLS_KEY_FILE: _k, ...noClientCert } = env;
    const refused = await cli(['health'], noClientCert);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/woodwork-bus: (TLS with Redis at rediss:\/\/127\.0\.0\.1:\d+ failed|cannot connect to Redis at rediss:\/\/127\.0\.0\.1:\d+)/);
    expect(refused.out + refused.err).not.toContain(PASSWORD);
  });

  it('a config file with tls: and password: ${VAR} does the same; a missing file is named', async () => {
    const file = join(dir, 'bus.yml');
    writeFileSync(file, [
      'message_bus:',
      '  type: redis',
      `  redis_url: rediss://127.0.0.1:${tlsPort}`,
      '  password: ${CLI_TLS_PASSWORD}',
      '  stream_prefix: cli-tls-file',
      '  tls:',
      `    ca_file: ${certs.caFile}`,
      `    cert_file: ${certs.clientCertFile}`,
      '    key_file: ${CLI_TLS_KEY}',
      '',
    ].join('\n'));
    const ok = await cli(['--config', file, 'health'], { CLI_TLS_PASSWORD: PASSWORD, CLI_TLS_KEY: certs.clientKeyFile });
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toMatch(/healthy/);
    const missing = await cli(['--config', file, 'health'], { CLI_TLS_PASSWORD: PASSWORD, CLI_TLS_KEY: join(dir, 'gone.key') });
    expect(missing.code).toBe(1);
    expect(missing.err).toContain(`message_bus.tls.key_file names the file ${join(dir, 'gone.key')}, which cannot be read (ENOENT)`);
    expect(ok.out + ok.err + missing.out + missing.err).not.toContain(PASSWORD);
  });
});
