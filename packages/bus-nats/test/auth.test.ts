/**
 * Logins, against `nats-server`s of the test's own (never the shared one): user/password, token,
 * NKey, TLS with certificates made by openssl (CA, client certificate, server name), and a
 * credentials file in operator mode (operator, account and user made with @nats-io/jwt). A refused
 * login fails `connect` with `AuthenticationError` after one attempt per server, counted in the
 * server's log; a login refused on reconnect closes the connection after a bounded number of
 * attempts and publishing fails typed. No secret appears in any error.
 */
import { inspect } from 'node:util';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationError, BackendUnavailableError, ConfigFileError, InvalidConfigError, createEnvelope } from '@woodwork/bus-core';
import { randomName, waitFor } from '@woodwork/bus-conformance';
import { NatsMessageBus, type NatsBusOptions } from '../src/index.js';
import { makeCertificates, type TestCertificates } from '../../bus-redis/test/support/tls-certs.mjs';
import { ConfiguredNatsServer, makeNkeyUser, makeOperator, testDir } from './support/secure-nats.js';

const PASSWORD = 'pw-S3cret-Alpha-7731';
const TOKEN = 'tok-S3cret-Bravo-9182';
const open: NatsMessageBus[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((b) => b.close()));
});

async function connectBus(options: NatsBusOptions): Promise<NatsMessageBus> {
  const bus = await NatsMessageBus.connect({ streamPrefix: randomName('auth'), connectTimeoutMs: 10_000, storage: 'memory', ...options });
  open.push(bus);
  return bus;
}

/** One message through the bus: the login can publish, create consumers and pull. */
async function roundTrip(bus: NatsMessageBus): Promise<void> {
  const seen: string[] = [];
  await bus.subscribe('auth.check', async (e) => void seen.push(e.messageId), { componentId: 'auth-check' });
  const { messageId } = await bus.publish(createEnvelope({ sessionId: 's1', eventType: 'auth.check', componentSource: 'test', pattern: 'pub_sub', payload: { n: 1 } }));
  await waitFor(() => seen.includes(messageId), 'the message to arrive', 20_000);
}

/** The error, as printed with every field and cause, must hold none of `secrets`. */
function expectNoSecret(value: unknown, secrets: string[]): void {
  const printed = `${inspect(value, { depth: null, showHidden: true })} ${String(value)} ${JSON.stringify(value) ?? ''}`;
  for (const secret of secrets) expect(printed).not.toContain(secret);
}

async function refused(options: NatsBusOptions): Promise<Error> {
  const error = await NatsMessageBus.connect({ streamPrefix: randomName('auth'), connectTimeoutMs: 10_000, ...options }).then(
    (bus) => {
      open.push(bus);
      throw new Error('connect succeeded with a login the server must refuse');
    },
    (e: unknown) => e as Error,
  );
  return error;
}

describe('user/password and NKey logins', () => {
  const dir = testDir('nats-users');
  const nkey = makeNkeyUser();
  let server: ConfiguredNatsServer;
  let url: string;
  const refusals = (): number => server.logLines(/authentication error|authorization violation/i).length;

  beforeAll(async () => {
    server = await ConfiguredNatsServer.start(
      dir.path,
      `authorization {\n  users = [\n    { user: "ww-user", password: "${PASSWORD}" }\n    { nkey: "${nkey.publicKey}" }\n  ]\n}\n`,
    );
    url = `nats://127.0.0.1:${server.port}`;
  });
  afterAll(async () => {
    await server?.stop();
    dir.remove();
  });

  it('user and password (options or in the URL) log in and carry messages; health shows no secret', async () => {
    const bus = await connectBus({ url, username: 'ww-user', password: PASSWORD });
    await roundTrip(bus);
    const health = await bus.healthCheck();
    expect(health.status).toBe('healthy');
    expect(health.details?.['login']).toBe('user');
    expectNoSecret(health, [PASSWORD]);
    const inUrl = await connectBus({ url: `nats://ww-user:${PASSWORD}@127.0.0.1:${server.port}` });
    await roundTrip(inUrl);
    expect((await inUrl.healthCheck()).details?.['server']).toBe(`nats://ww-user:***@127.0.0.1:${server.port}`);
    expectNoSecret(inUrl.options, [PASSWORD]);
    expectNoSecret(await inUrl.healthCheck(), [PASSWORD]);
  });

  it('an NKey seed (inline or in a file) logs in', async () => {
    await roundTrip(await connectBus({ url, nkeySeed: nkey.seed }));
    const seedFile = join(dir.path, 'user.nk');
    writeFileSync(seedFile, `${nkey.seed}\n`);
    const bus = await connectBus({ url, nkeySeedFile: seedFile });
    await roundTrip(bus);
    expectNoSecret(await bus.healthCheck(), [nkey.seed]);
    expectNoSecret(bus.options, [nkey.seed]);
  });

  it('a wrong password fails connect with AuthenticationError after one attempt (server log), no secret in it', async () => {
    const before = refusals();
    const error = await refused({ url, username: 'ww-user', password: `${PASSWORD}-wrong` });
    expect(error).toBeInstanceOf(AuthenticationError);
    expect((error as AuthenticationError).code).toBe('AUTHENTICATION');
    expect((error as AuthenticationError).user).toBe('ww-user');
    expect((error as AuthenticationError).server).toBe(url);
    expect(error.message).toMatch(/refused the user login as ww-user after 1 attempt/);
    expectNoSecret(error, [`${PASSWORD}-wrong`, PASSWORD]);
    await waitFor(() => refusals() >= before + 1, 'the refusal in the server log', 10_000);
    // Give a retry loop time to show itself: there must be none.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(refusals()).toBe(before + 1);
  });

  it('no login, an unknown NKey, and a wrong password in the URL are refused the same way', async () => {
    expect(await refused({ url })).toBeInstanceOf(AuthenticationError);
    const stranger = makeNkeyUser();
    const byNkey = await refused({ url, nkeySeed: stranger.seed });
    expect(byNkey).toBeInstanceOf(AuthenticationError);
    expectNoSecret(byNkey, [stranger.seed]);
    const inUrl = await refused({ url: `nats://ww-user:wrong-${PASSWORD}@127.0.0.1:${server.port}` });
    expect(inUrl).toBeInstanceOf(AuthenticationError);
    expect(inUrl.message).toContain(`nats://ww-user:***@127.0.0.1:${server.port}`);
    expectNoSecret(inUrl, [`wrong-${PASSWORD}`]);
  });

  it('a login refused on reconnect stops after a bounded number of attempts; publish then fails typed', async () => {
    const lines: string[] = [];
    const logger = { debug: () => {}, info: () => {}, warn: (m: string, c?: object) => void lines.push(`${m} ${inspect(c, { depth: null })}`), error: (m: string, c?: object) => void lines.push(`${m} ${inspect(c, { depth: null })}`) };
    const bus = await connectBus({ url, username: 'ww-user', password: PASSWORD, logger });
    await roundTrip(bus);
    // The operator changes the password and reloads: the server drops the connection and refuses the old one.
    const conf = `authorization {\n  users = [\n    { user: "ww-user", password: "changed-${PASSWORD}" }\n  ]\n}\n`;
    writeFileSync(join(dir.path, 'server.conf'), conf);
    const before = refusals();
    server.server.process!.kill('SIGHUP');
    let health = await bus.healthCheck();
    await waitFor(async () => {
      await new Promise((r) => setTimeout(r, 100));
      health = await bus.healthCheck();
      return health.status === 'unhealthy';
    }, 'health to say unhealthy', 30_000);
    expect(health.error).toMatch(/refused the login on reconnect/);
    const error = await bus.publish(createEnvelope({ sessionId: 's1', eventType: 'auth.check', componentSource: 'test', pattern: 'pub_sub', payload: {} })).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(AuthenticationError);
    await new Promise((r) => setTimeout(r, 1_500));
    // nats.js gives up after two refusals in a row; allow one more for the reload's own check.
    expect(refusals() - before).toBeLessThanOrEqual(3);
    expectNoSecret({ health, error, lines }, [PASSWORD, `changed-${PASSWORD}`]);
    // Restore the config for the other tests of this server.
    writeFileSync(join(dir.path, 'server.conf'), `authorization {\n  users = [\n    { user: "ww-user", password: "${PASSWORD}" }\n    { nkey: "${nkey.publicKey}" }\n  ]\n}\n`);
    server.server.process!.kill('SIGHUP');
  });
});

describe('token login', () => {
  const dir = testDir('nats-token');
  let server: ConfiguredNatsServer;

  beforeAll(async () => {
    server = await ConfiguredNatsServer.start(dir.path, `authorization {\n  token: "${TOKEN}"\n}\n`);
  });
  afterAll(async () => {
    await server?.stop();
    dir.remove();
  });

  it('a token (option or URL) logs in; a wrong one is AuthenticationError without the token in it', async () => {
    const url = `nats://127.0.0.1:${server.port}`;
    await roundTrip(await connectBus({ url, token: TOKEN }));
    const inUrl = await connectBus({ url: `nats://${TOKEN}@127.0.0.1:${server.port}` });
    await roundTrip(inUrl);
    expectNoSecret(await inUrl.healthCheck(), [TOKEN]);
    const error = await refused({ url, token: `${TOKEN}-x` });
    expect(error).toBeInstanceOf(AuthenticationError);
    expectNoSecret(error, [`${TOKEN}-x`, TOKEN]);
    const wrongInUrl = await refused({ url: `nats://${TOKEN}-y@127.0.0.1:${server.port}` });
    expect(wrongInUrl).toBeInstanceOf(AuthenticationError);
    expectNoSecret(wrongInUrl, [`${TOKEN}-y`]);
  });
});

describe('secrets never leak', () => {
  const dir = testDir('nats-leak');
  let server: ConfiguredNatsServer;

  beforeAll(async () => {
    server = await ConfiguredNatsServer.start(dir.path, `authorization {\n  token: "${TOKEN}"\n}\n`);
  });
  afterAll(async () => {
    await server?.stop();
    dir.remove();
  });

  it('not in log lines, metrics, health (up and down), errors, or util.inspect of the bus and its options', async () => {
    const seen: unknown[] = [];
    const record = (level: string) => (message: string, context?: object) => void seen.push({ level, message, context: inspect(context, { depth: null, showHidden: true }) });
    const logger = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') };
    const bus = await connectBus({ url: `nats://${TOKEN}@127.0.0.1:${server.port}`, logger, onMetric: (event) => void seen.push(event), publishTimeoutMs: 1_000 });
    let failed = false;
    await bus.subscribe('leak.check', async () => {
      if (!failed) {
        failed = true;
        // An app error quoting the connection string: the bus's log lines must still hide the token.
        throw new Error(`a handler error that quotes nats://${TOKEN}@127.0.0.1:${server.port} and ${TOKEN}`);
      }
    }, { componentId: 'leak' });
    await bus.publish(createEnvelope({ sessionId: 's1', eventType: 'leak.check', componentSource: 'test', pattern: 'pub_sub', payload: {} }));
    await waitFor(() => failed, 'the failing attempt', 20_000);
    seen.push(await bus.healthCheck(), inspect(bus, { depth: 4 }), inspect(bus.options, { depth: null }));
    await server.server.stopProcess();
    try {
      seen.push(await bus.publish(createEnvelope({ sessionId: 's1', eventType: 'leak.check', componentSource: 'test', pattern: 'pub_sub', payload: {} })).catch((e: unknown) => e));
      const down = await bus.healthCheck();
      expect(down.status).not.toBe('healthy');
      seen.push(down);
    } finally {
      await server.server.startProcess();
    }
    await bus.close();
    expect(seen.some((e) => e instanceof BackendUnavailableError)).toBe(true);
    expect(seen.some((e) => typeof e === 'object' && e !== null && 'level' in e)).toBe(true);
    expectNoSecret(seen, [TOKEN]);
  });
});

describe('TLS', () => {
  const dir = testDir('nats-tls');
  let certs: TestCertificates;
  let clientKey: string;
  let server: ConfiguredNatsServer;
  let url: string;

  beforeAll(async () => {
    certs = makeCertificates();
    clientKey = readFileSync(certs.clientKeyFile, 'utf8');
    server = await ConfiguredNatsServer.start(
      dir.path,
      `tls {\n  cert_file: "${certs.serverCertFile}"\n  key_file: "${certs.serverKeyFile}"\n  ca_file: "${certs.caFile}"\n  verify: true\n  timeout: 5\n}\nauthorization {\n  users = [ { user: "ww-tls", password: "${PASSWORD}" } ]\n}\n`,
    );
    url = `tls://127.0.0.1:${server.port}`;
  });
  afterAll(async () => {
    await server?.stop();
    dir.remove();
    certs?.remove();
  });

  const clientTls = (): NonNullable<NatsBusOptions['tls']> => ({ caFile: certs.caFile, certFile: certs.clientCertFile, keyFile: certs.clientKeyFile });

  it('the CA, a client certificate and a password log in; serverName picks the name checked', async () => {
    const bus = await connectBus({ url, username: 'ww-tls', password: PASSWORD, tls: clientTls() });
    await roundTrip(bus);
    const health = await bus.healthCheck();
    expect(health.details?.['tls']).toBe(true);
    expectNoSecret({ health, options: bus.options }, [PASSWORD, clientKey]);
    await roundTrip(await connectBus({ url: `nats://127.0.0.1:${server.port}`, username: 'ww-tls', password: PASSWORD, tls: { ...clientTls(), serverName: 'localhost' } }));
  });

  it('an untrusted server certificate or a wrong server name is AuthenticationError naming the TLS settings', async () => {
    const wrongCa = await refused({ url, username: 'ww-tls', password: PASSWORD, tls: { ...clientTls(), caFile: certs.otherCaFile } });
    expect(wrongCa).toBeInstanceOf(AuthenticationError);
    expect(wrongCa.message).toMatch(/tls\.caFile/);
    const wrongName = await refused({ url, username: 'ww-tls', password: PASSWORD, tls: { ...clientTls(), serverName: 'elsewhere.example' } });
    expect(wrongName).toBeInstanceOf(AuthenticationError);
    expect(wrongName.message).toMatch(/tls\.serverName/);
    expectNoSecret([wrongCa, wrongName], [PASSWORD, clientKey]);
  });

  it('without a client certificate the server drops the connection: connect fails once (server log) with a hint, no loop', async () => {
    // TLS 1.3 ends the client's handshake before the server checks its certificate; the server's
    // refusal then only closes the socket, which nats.js reports as a connect timeout.
    const handshakeErrors = (): number => server.logLines(/TLS handshake error/i).length;
    // The refusals of the test before may reach the log late (a loaded machine): start counting
    // once the log has stopped growing for a second.
    let before = handshakeErrors();
    for (let still = 0; still < 10; ) {
      await new Promise((r) => setTimeout(r, 100));
      const now = handshakeErrors();
      still = now === before ? still + 1 : 0;
      before = now;
    }
    const error = await refused({ url, username: 'ww-tls', password: PASSWORD, tls: { caFile: certs.caFile }, connectTimeoutMs: 3_000 });
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect(error.message).toMatch(/tls\.certFile and tls\.keyFile/);
    expectNoSecret(error, [PASSWORD]);
    await waitFor(() => handshakeErrors() >= before + 1, 'the refusal in the server log', 10_000);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(handshakeErrors()).toBe(before + 1);
  });

  it('a missing certificate file is ConfigFileError naming the option and the file, before connecting', async () => {
    const missing = join(dir.path, 'nope.pem');
    const error = await refused({ url, tls: { caFile: missing } });
    expect(error).toBeInstanceOf(ConfigFileError);
    expect((error as ConfigFileError).file).toBe(missing);
    expect((error as InvalidConfigError).key).toBe('tls.caFile');
    expect(error.message).toContain(missing);
    expect(error.message).toContain('ENOENT');
    const half = await refused({ url, tls: { certFile: certs.clientCertFile } });
    expect((half as InvalidConfigError).key).toBe('tls.keyFile');
  });
});

describe('operator mode: a credentials (JWT) file', () => {
  const dir = testDir('nats-operator');
  let server: ConfiguredNatsServer;
  let operator: Awaited<ReturnType<typeof makeOperator>>;

  beforeAll(async () => {
    operator = await makeOperator();
    server = await ConfiguredNatsServer.start(dir.path, operator.config);
  });
  afterAll(async () => {
    await server?.stop();
    dir.remove();
  });

  it('a user of the account logs in with its creds file and carries messages', async () => {
    const creds = await operator.userCreds(join(dir.path, 'user.creds'), 'ww-jwt-user');
    const bus = await connectBus({ url: `nats://127.0.0.1:${server.port}`, credentialsFile: creds.file });
    await roundTrip(bus);
    const health = await bus.healthCheck();
    expect(health.details?.['login']).toBe('credentials');
    expectNoSecret({ health, options: bus.options }, [creds.seed]);
  });

  it('a user signed by an unknown account is AuthenticationError after one attempt, no seed in it', async () => {
    const creds = await operator.strangerCreds(join(dir.path, 'stranger.creds'));
    const before = server.logLines(/authentication error|authorization violation/i).length;
    const error = await refused({ url: `nats://127.0.0.1:${server.port}`, credentialsFile: creds.file });
    expect(error).toBeInstanceOf(AuthenticationError);
    expect((error as AuthenticationError).user).toBe('stranger');
    expectNoSecret(error, [creds.seed]);
    await waitFor(() => server.logLines(/authentication error|authorization violation/i).length >= before + 1, 'the refusal in the server log', 10_000);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(server.logLines(/authentication error|authorization violation/i).length).toBe(before + 1);
  });

  it('a missing creds file is ConfigFileError, a malformed one InvalidConfigError, both naming credentialsFile', async () => {
    const missing = await refused({ url: `nats://127.0.0.1:${server.port}`, credentialsFile: join(dir.path, 'none.creds') });
    expect(missing).toBeInstanceOf(ConfigFileError);
    expect((missing as InvalidConfigError).key).toBe('credentialsFile');
    const junk = join(dir.path, 'junk.creds');
    writeFileSync(junk, 'not a creds file');
    const malformed = await refused({ url: `nats://127.0.0.1:${server.port}`, credentialsFile: junk });
    expect((malformed as InvalidConfigError).key).toBe('credentialsFile');
  });
});

describe('login options are checked before connecting', () => {
  it('names the option: half a user, two methods, a bad seed', async () => {
    const url = 'nats://127.0.0.1:1';
    expect(((await refused({ url, username: 'u' })) as InvalidConfigError).key).toBe('password');
    expect(((await refused({ url, username: 'u', password: 'p', token: 't' })) as InvalidConfigError).key).toBe('token');
    const badSeed = await refused({ url, nkeySeed: 'SUnot-a-seed' });
    expect((badSeed as InvalidConfigError).key).toBe('nkeySeed');
    expect(badSeed.message).not.toContain('SUnot-a-seed');
    expect(await refused({ url: 'nats://127.0.0.1:1' })).toBeInstanceOf(BackendUnavailableError);
  });
});
