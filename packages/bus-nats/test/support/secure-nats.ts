/**
 * Secured `nats-server`s for the auth, TLS, permission and tenant tests, on top of `OwnNatsServer`
 * (its own port, store folder and PID): a config file written to a folder of the test's own, the
 * server's log in a file there (`logLines()` counts refused logins), and an operator / account /
 * user made with `@nats-io/jwt` and `@nats-io/nkeys` for operator (JWT) mode with a memory
 * resolver. Certificates come from the repository's one openssl helper
 * (packages/bus-redis/test/support/tls-certs.mjs, which the benchmarks use too).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeAccount, encodeOperator, encodeUser, fmtCreds } from '@nats-io/jwt';
import { createAccount, createOperator, createUser } from '@nats-io/nkeys';
import { OwnNatsServer } from './nats-server.js';

export class ConfiguredNatsServer {
  private constructor(
    readonly server: OwnNatsServer,
    readonly dir: string,
    readonly logFile: string,
  ) {}

  /** Starts `nats-server -c <dir>/server.conf` (JetStream on) with `config` (the server's config syntax). */
  static async start(dir: string, config: string): Promise<ConfiguredNatsServer> {
    const conf = join(dir, 'server.conf');
    const logFile = join(dir, 'server.log');
    writeFileSync(conf, config);
    const server = await OwnNatsServer.start({ args: ['-c', conf, '-l', logFile] });
    return new ConfiguredNatsServer(server, dir, logFile);
  }

  get port(): number {
    return this.server.port;
  }

  /** The server log's lines matching `pattern`. */
  logLines(pattern: RegExp): string[] {
    if (!existsSync(this.logFile)) return [];
    return readFileSync(this.logFile, 'utf8')
      .split('\n')
      .filter((line) => pattern.test(line));
  }

  async stop(): Promise<void> {
    await this.server.stop();
  }
}

/** A folder of the test's own under the OS tmpdir; `remove()` deletes it. */
export function testDir(name: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `ww-${name}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** A user nkey pair: the public key the server lists and the seed the client logs in with. */
export function makeNkeyUser(): { publicKey: string; seed: string } {
  const user = createUser();
  return { publicKey: user.getPublicKey(), seed: new TextDecoder().decode(user.getSeed()) };
}

export interface OperatorSetup {
  /** The server config lines: `operator`, `resolver: MEMORY`, `resolver_preload`. */
  config: string;
  /** Writes a credentials file for a new user of the account (optionally with permissions). */
  userCreds(file: string, name: string, permissions?: { pub?: { allow?: string[]; deny?: string[] }; sub?: { allow?: string[]; deny?: string[] } }): Promise<{ seed: string; file: string }>;
  /** Writes a credentials file for a user signed by an account the server does not know. */
  strangerCreds(file: string): Promise<{ seed: string; file: string }>;
}

/** An operator, one account with JetStream, and users: JWTs signed with @nats-io/jwt. */
export async function makeOperator(): Promise<OperatorSetup> {
  const operator = createOperator();
  const account = createAccount();
  // JetStream in operator mode needs a system account.
  const system = createAccount();
  const operatorJwt = await encodeOperator('ww-operator', operator, { system_account: system.getPublicKey() });
  const systemJwt = await encodeAccount('SYS', system, {}, { signer: operator });
  const accountJwt = await encodeAccount(
    'ww-account',
    account,
    { limits: { conn: -1, subs: -1, payload: -1, data: -1, imports: -1, exports: -1, wildcards: true, leaf: -1, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 } as never },
    { signer: operator },
  );
  const writeCreds = async (file: string, name: string, issuer: ReturnType<typeof createAccount>, permissions: object): Promise<{ seed: string; file: string }> => {
    const user = createUser();
    const jwt = await encodeUser(name, user, issuer, permissions);
    writeFileSync(file, fmtCreds(jwt, user));
    return { seed: new TextDecoder().decode(user.getSeed()), file };
  };
  return {
    config: `operator: ${operatorJwt}\nsystem_account: ${system.getPublicKey()}\nresolver: MEMORY\nresolver_preload: {\n  ${account.getPublicKey()}: ${accountJwt}\n  ${system.getPublicKey()}: ${systemJwt}\n}\n`,
    userCreds: (file, name, permissions = {}) => writeCreds(file, name, account, permissions),
    strangerCreds: (file) => writeCreds(file, 'stranger', createAccount(), {}),
  };
}
