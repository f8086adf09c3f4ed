/**
 * How the bus logs in to NATS and what it must never print. One login method per bus:
 * - `username` + `password` (the server's `authorization.users`; also `nats://user:pass@host`),
 * - `token` (the server's `authorization.token`; also `nats://token@host`),
 * - `nkeySeed` / `nkeySeedFile` (an `SU...` user seed; the server lists the public `U...` key),
 * - `credentialsFile` (a `.creds` file: user JWT + seed, for servers in operator mode),
 * plus TLS (`tls: { caFile, certFile, keyFile, serverName }`), which may go with any of them
 * (a client certificate is itself a login where the server has `verify`/`verify_and_map`).
 *
 * Files are read when the options are resolved (core's `readConfigFile`), so a missing, unreadable
 * or empty one is a `ConfigFileError` naming the option and the file before anything connects.
 * The secrets (password, token, seed, the credentials' seed, the key file, and any password or
 * token in the URL) are kept in a `NatsAuth` whose `util.inspect` / `JSON.stringify` show `***`,
 * and are listed by `secrets()` for core's `redactError` / `guardedLogger`.
 */
import { inspect } from 'node:util';
import { credsAuthenticator, nkeyAuthenticator, type Authenticator } from '@nats-io/transport-node';
import { InvalidConfigError, REDACTED, describeValue, readConfigFile } from '@woodwork/bus-core';

/** TLS settings, the same keys on every backend (config: `tls: {ca_file, cert_file, key_file, server_name}`). */
export interface NatsTlsOptions {
  /** PEM file of the CA(s) that signed the server's certificate (default: the system's CAs). */
  caFile?: string;
  /** PEM client certificate, for servers that verify clients (with `keyFile`). */
  certFile?: string;
  /** PEM private key of `certFile`. */
  keyFile?: string;
  /** The name the server's certificate must carry, when it is not the host in the URL. */
  serverName?: string;
}

export interface NatsAuthOptions {
  /** User name (with `password`). */
  username?: string;
  password?: string;
  /** An authorization token. */
  token?: string;
  /** An NKey user seed (`SU...`). Prefer `nkeySeedFile`. */
  nkeySeed?: string;
  /** A file holding an NKey user seed. */
  nkeySeedFile?: string;
  /** A NATS credentials file (user JWT and seed), for servers in operator (JWT) mode. */
  credentialsFile?: string;
  /** TLS: `{}` asks for TLS with the system's CAs; a `tls://` URL does too. */
  tls?: NatsTlsOptions;
}

export const AUTH_OPTION_KEYS = ['username', 'password', 'token', 'nkeySeed', 'nkeySeedFile', 'credentialsFile', 'tls'] as const;
const TLS_KEYS = ['caFile', 'certFile', 'keyFile', 'serverName'] as const;

/** Node's `tls.connect` options the client passes through. */
interface TlsConnectOptions {
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
}

type Method = 'none' | 'user' | 'token' | 'nkey' | 'credentials';

/** A resolved login: what `connect` gets, and the secrets to keep out of errors and logs. */
export class NatsAuth {
  readonly #secrets: string[];
  readonly #connect: { user?: string; pass?: string; token?: string; authenticator?: Authenticator; tls?: TlsConnectOptions };

  constructor(
    /** How the bus logs in (`none` when the server needs no login). */
    readonly method: Method,
    /** The user name or the public key / JWT subject shown in errors (never a secret). */
    readonly user: string | undefined,
    /** Whether TLS is asked for by the options (a `tls://` URL asks for it too). */
    readonly tls: boolean,
    /** Whether a TLS client certificate is given. */
    readonly clientCertificate: boolean,
    /** The server URLs without the login some may carry (what nats.js connects to). */
    readonly servers: readonly string[],
    secrets: string[],
    connectOptions: NatsAuth['connectOptions'],
  ) {
    this.#secrets = secrets;
    this.#connect = connectOptions;
  }

  /** The secrets to redact: password, token, seeds, key file text, URL passwords. */
  secrets(): readonly string[] {
    return this.#secrets;
  }

  /** What nats.js `connect()` takes for this login. */
  get connectOptions(): { user?: string; pass?: string; token?: string; authenticator?: Authenticator; tls?: TlsConnectOptions } {
    return this.#connect;
  }

  toJSON(): Record<string, unknown> {
    return { method: this.method, user: this.user, tls: this.tls, clientCertificate: this.clientCertificate, servers: this.servers, secrets: REDACTED };
  }

  [inspect.custom](): string {
    return `NatsAuth ${JSON.stringify(this.toJSON())}`;
  }
}

/** Checks the login options, reads their files, and returns the login (or throws InvalidConfigError naming the option). */
export function resolveNatsAuth(options: NatsAuthOptions, url: string): NatsAuth {
  const username = text(options.username, 'username');
  const password = text(options.password, 'password');
  const token = text(options.token, 'token');
  const nkeySeed = text(options.nkeySeed, 'nkeySeed');
  const nkeySeedFile = text(options.nkeySeedFile, 'nkeySeedFile');
  const credentialsFile = text(options.credentialsFile, 'credentialsFile');
  const urlSecrets = secretsInUrl(url);
  if ((username === undefined) !== (password === undefined)) {
    throw new InvalidConfigError(username === undefined ? 'username' : 'password', 'must be set together with ' + (username === undefined ? 'password' : 'username'));
  }
  if (nkeySeed !== undefined && nkeySeedFile !== undefined) throw new InvalidConfigError('nkeySeed', 'cannot be set together with nkeySeedFile: give one');
  const given: [string, boolean][] = [
    ['username', username !== undefined],
    ['token', token !== undefined],
    [nkeySeed !== undefined ? 'nkeySeed' : 'nkeySeedFile', nkeySeed !== undefined || nkeySeedFile !== undefined],
    ['credentialsFile', credentialsFile !== undefined],
  ];
  const methods = given.filter(([, set]) => set).map(([key]) => key);
  if (methods.length > 1) throw new InvalidConfigError(methods[1]!, `cannot be set together with ${methods[0]}: NATS takes one login method`, ['username+password', 'token', 'nkeySeed or nkeySeedFile', 'credentialsFile']);
  if (methods.length === 1 && urlSecrets.inUrl) throw new InvalidConfigError('url', `carries a user or token while ${methods[0]} is set too: give the login once`);

  const secrets = [...urlSecrets.secrets];
  const tls = resolveTls(options.tls, secrets);
  const connectOptions: NatsAuth['connectOptions'] = tls ? { tls } : {};
  let method: Method = 'none';
  let user = urlSecrets.user;
  if (urlSecrets.user !== undefined && urlSecrets.pass !== undefined) {
    method = 'user';
    connectOptions.user = urlSecrets.user;
    connectOptions.pass = urlSecrets.pass;
  } else if (urlSecrets.token !== undefined) {
    method = 'token';
    connectOptions.token = urlSecrets.token;
  }
  if (username !== undefined && password !== undefined) {
    method = 'user';
    user = username;
    connectOptions.user = username;
    connectOptions.pass = password;
    secrets.push(password);
  } else if (token !== undefined) {
    method = 'token';
    connectOptions.token = token;
    secrets.push(token);
  } else if (nkeySeed !== undefined || nkeySeedFile !== undefined) {
    const seed = (nkeySeed ?? readConfigFile('nkeySeedFile', nkeySeedFile)).trim();
    secrets.push(seed);
    if (!/^SU[A-Z2-7]{50,}$/.test(seed)) {
      throw new InvalidConfigError(nkeySeed !== undefined ? 'nkeySeed' : 'nkeySeedFile', 'must be an NKey user seed (SU followed by base32 text)');
    }
    method = 'nkey';
    connectOptions.authenticator = nkeyAuthenticator(new TextEncoder().encode(seed));
  } else if (credentialsFile !== undefined) {
    const creds = readConfigFile('credentialsFile', credentialsFile);
    const seed = /-----BEGIN USER NKEY SEED-----\s*\r?\n\s*(\S+)\s*\r?\n/.exec(creds)?.[1];
    const jwt = /-----BEGIN NATS USER JWT-----\s*\r?\n\s*(\S+)\s*\r?\n/.exec(creds)?.[1];
    if (!seed || !jwt) throw new InvalidConfigError('credentialsFile', `must be a NATS credentials file (a user JWT and a user seed block); ${credentialsFile} is not`);
    secrets.push(seed);
    method = 'credentials';
    user = jwtSubject(jwt);
    connectOptions.authenticator = credsAuthenticator(new TextEncoder().encode(creds));
  }
  return new NatsAuth(method, user, tls !== undefined, tls?.cert !== undefined, serversOf(url), secrets, connectOptions);
}

function resolveTls(value: unknown, secrets: string[]): TlsConnectOptions | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidConfigError('tls', `must be an object with ${TLS_KEYS.join(', ')}; got ${describeValue(value)}`);
  for (const key of Object.keys(value)) {
    if (!(TLS_KEYS as readonly string[]).includes(key)) throw new InvalidConfigError(`tls.${key}`, 'is not a TLS option', TLS_KEYS);
  }
  const own = (key: (typeof TLS_KEYS)[number]): string | undefined => text(Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined, `tls.${key}`);
  const caFile = own('caFile');
  const certFile = own('certFile');
  const keyFile = own('keyFile');
  const serverName = own('serverName');
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new InvalidConfigError(certFile === undefined ? 'tls.certFile' : 'tls.keyFile', `must be set together with ${certFile === undefined ? 'tls.keyFile' : 'tls.certFile'}`);
  }
  const tls: TlsConnectOptions = {};
  if (caFile !== undefined) tls.ca = readConfigFile('tls.caFile', caFile);
  if (certFile !== undefined) tls.cert = readConfigFile('tls.certFile', certFile);
  if (keyFile !== undefined) {
    tls.key = readConfigFile('tls.keyFile', keyFile);
    secrets.push(tls.key);
  }
  if (serverName !== undefined) tls.servername = serverName;
  return tls;
}

function text(value: unknown, key: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '') throw new InvalidConfigError(key, `must be a non-empty string; got ${typeof value === 'string' ? 'an empty string' : typeof value}`);
  return value;
}

/**
 * The login written in the URL(s): `nats://user:pass@host` or `nats://token@host` (percent-encoded
 * characters decoded). nats.js does not read it from the URL, so the bus passes it as options and
 * connects to the URLs without it (`serversOf`). Several URLs must carry the same login.
 */
function secretsInUrl(url: string): { secrets: string[]; user: string | undefined; pass: string | undefined; token: string | undefined; inUrl: boolean } {
  const decode = (s: string): string => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  const found = new Set<string>();
  for (const part of url.split(',')) {
    const userinfo = USERINFO.exec(part.trim())?.[2];
    if (userinfo !== undefined && userinfo !== '') found.add(userinfo);
  }
  if (found.size === 0) return { secrets: [], user: undefined, pass: undefined, token: undefined, inUrl: false };
  if (found.size > 1) throw new InvalidConfigError('url', 'lists servers with different logins; give one login (or set username/password/token instead)');
  const userinfo = [...found][0]!;
  const colon = userinfo.indexOf(':');
  if (colon < 0) return { secrets: [userinfo, decode(userinfo)], user: undefined, pass: undefined, token: decode(userinfo), inUrl: true };
  const pass = userinfo.slice(colon + 1);
  return { secrets: [pass, decode(pass)], user: decode(userinfo.slice(0, colon)), pass: decode(pass), token: undefined, inUrl: true };
}

const USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)([^@/]*)@/i;

/** The server URLs without any login in them, as nats.js `servers` takes them. */
export function serversOf(url: string): string[] {
  return url.split(',').map((part) => part.trim().replace(USERINFO, '$1'));
}

/** The subject (the user's public key) of a user JWT, for errors; undefined when unreadable. */
function jwtSubject(jwt: string): string | undefined {
  try {
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as { sub?: unknown; name?: unknown };
    return typeof claims.name === 'string' && claims.name !== '' ? claims.name : typeof claims.sub === 'string' ? claims.sub : undefined;
  } catch {
    return undefined;
  }
}
