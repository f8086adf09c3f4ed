/**
 * The NATS login keys end to end, config to backend: a `nats-server` of the test's own
 * (bus-nats's test support) with a user/password and, on another, a token; the bus is made from
 * WOODWORK_NATS_USERNAME / WOODWORK_NATS_PASSWORD and from a config file's `token: ${VAR}`, and
 * the CLI's `health --json` over it never prints the secret; a wrong password is core's
 * AuthenticationError.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationError } from '@woodwork/bus-core';
import { MessageBusFactory, loadConfigFile, runCli } from '../src/index.js';
import { ConfiguredNatsServer, testDir } from '../../bus-nats/test/support/secure-nats.js';

const PASSWORD = 'Nats-Cfg-S3cret-5e1a';
const TOKEN = 'Nats-Cfg-T0ken-8c2f';
const dir = testDir('adapter-nats-login');
let userServer: ConfiguredNatsServer;
let tokenServer: ConfiguredNatsServer;

beforeAll(async () => {
  userServer = await ConfiguredNatsServer.start(dir.path, `authorization {\n  users = [ { user: "cfg-user", password: "${PASSWORD}" } ]\n}\n`);
  const tokenDir = join(dir.path, 'token');
  mkdirSync(tokenDir);
  tokenServer = await ConfiguredNatsServer.start(tokenDir, `authorization {\n  token: "${TOKEN}"\n}\n`);
}, 60_000);

afterAll(async () => {
  await userServer?.stop();
  await tokenServer?.stop();
  dir.remove();
});

describe('NATS logins from the config', () => {
  it('WOODWORK_NATS_USERNAME / WOODWORK_NATS_PASSWORD log in; the CLI never prints the password', async () => {
    const env = { WOODWORK_MESSAGE_BUS: 'nats', WOODWORK_NATS_URL: `nats://127.0.0.1:${userServer.port}`, WOODWORK_NATS_USERNAME: 'cfg-user', WOODWORK_NATS_PASSWORD: PASSWORD, WOODWORK_STREAM_PREFIX: 'cfg-nats-user' };
    const bus = await MessageBusFactory.createFromEnvironment(env);
    try {
      expect((await bus.healthCheck()).status).toBe('healthy');
    } finally {
      await bus.close();
    }
    let out = '';
    let err = '';
    const code = await runCli(['health', '--json'], { env, stdout: { write: (t: string) => void (out += t) }, stderr: { write: (t: string) => void (err += t) } });
    expect(code, err).toBe(0);
    expect((JSON.parse(out) as { status: string }).status).toBe('healthy');
    expect(out + err).not.toContain(PASSWORD);
    const wrong = await MessageBusFactory.createFromEnvironment({ ...env, WOODWORK_NATS_PASSWORD: 'Wr0ng-Nats-77' }).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(AuthenticationError);
    expect(String((wrong as Error).message)).not.toContain('Wr0ng-Nats-77');
  }, 60_000);

  it('a config file with token: ${VAR} logs in', async () => {
    const file = join(dir.path, 'bus.yml');
    writeFileSync(file, ['message_bus:', '  type: nats', `  nats_url: nats://127.0.0.1:${tokenServer.port}`, '  token: ${CFG_NATS_TOKEN}', '  stream_prefix: cfg-nats-token', ''].join('\n'));
    const config = await loadConfigFile(file, { CFG_NATS_TOKEN: TOKEN });
    const bus = await MessageBusFactory.createMessageBus(config);
    try {
      expect((await bus.healthCheck()).status).toBe('healthy');
      expect(JSON.stringify(await bus.healthCheck())).not.toContain(TOKEN);
    } finally {
      await bus.close();
    }
  }, 60_000);
});
