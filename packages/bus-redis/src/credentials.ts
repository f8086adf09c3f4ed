/**
 * The login and TLS material of a Redis bus, gathered once from the URL and the options: the ACL
 * user and password (URL `redis://user:password@host` or `username` / `password`), Sentinel's own
 * user and password, and the TLS files (read here, once; an unreadable file is core's
 * `ConfigFileError` naming the option and the file). The object prints as `[redacted]` (inspect,
 * JSON), so logging the resolved options never shows a secret, and it lists its secrets for
 * core's `redactError` / `guardedLogger`.
 */
import { inspect } from 'node:util';
import { InvalidConfigError, describeValue, readConfigFile } from '@woodwork/bus-core';
import type { ConnectionOptions } from 'node:tls';
import type { RedisBusOptions, RedisTlsOptions } from './options.js';

const TLS_FIELDS = ['caFile', 'certFile', 'keyFile', 'serverName'] as const;

interface Material {
  username: string | undefined;
  password: string | undefined;
  sentinelUsername: string | undefined;
  sentinelPassword: string | undefined;
  /** undefined: plain TCP. */
  tls: ConnectionOptions | undefined;
}

export class RedisCredentials {
  readonly #material: Material;
  readonly #secrets: readonly string[];

  constructor(material: Material) {
    this.#material = material;
    this.#secrets = Object.freeze(listSecrets(material));
  }

  get username(): string | undefined {
    return this.#material.username;
  }

  get password(): string | undefined {
    return this.#material.password;
  }

  get sentinelUsername(): string | undefined {
    return this.#material.sentinelUsername;
  }

  get sentinelPassword(): string | undefined {
    return this.#material.sentinelPassword;
  }

  /** ioredis's `tls` (undefined: no TLS). */
  get tls(): ConnectionOptions | undefined {
    return this.#material.tls;
  }

  /** The secrets to redact wherever text leaves the bus: passwords (raw and URL-encoded) and the client key. */
  secrets(): readonly string[] {
    return this.#secrets;
  }

  toJSON(): string {
    return '[redacted]';
  }

  [inspect.custom](): string {
    return `RedisCredentials { user: ${JSON.stringify(this.#material.username ?? null)}, password: ${this.#material.password ? '***' : 'none'}, tls: ${this.#material.tls ? 'on' : 'off'} }`;
  }
}

function listSecrets(material: Material): string[] {
  const out = new Set<string>();
  for (const secret of [material.password, material.sentinelPassword]) {
    if (!secret) continue;
    out.add(secret);
    out.add(encodeURIComponent(secret));
  }
  const key = material.tls?.key;
  if (typeof key === 'string') out.add(key.trim());
  return [...out];
}

function optionalString(options: RedisBusOptions, key: keyof RedisBusOptions): string | undefined {
  const value = Object.hasOwn(options, key) ? (options as Record<string, unknown>)[key] : undefined;
  if (value === undefined) return undefined;
  // The value itself is never shown: it may be a password.
  if (typeof value !== 'string' || value === '') throw new InvalidConfigError(key, `must be a non-empty string; got ${typeof value === 'string' ? 'an empty string' : value === null ? 'null' : `a ${typeof value}`}`);
  return value;
}

function userInfo(url: string): { username?: string; password?: string; tls: boolean } {
  const first = url.split(',')[0]?.trim() ?? '';
  const u = new URL(first);
  return {
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    tls: u.protocol === 'rediss:',
  };
}

/** One value given in the URL and as an option: the same, or an error naming both places. */
function once(option: 'username' | 'password', fromOption: string | undefined, fromUrl: string | undefined): string | undefined {
  if (fromOption !== undefined && fromUrl !== undefined && fromOption !== fromUrl) {
    throw new InvalidConfigError(option, `differs from the ${option === 'username' ? 'user' : 'password'} in url: give it in one place`);
  }
  return fromOption ?? fromUrl;
}

function resolveTls(options: RedisBusOptions, urlTls: boolean): ConnectionOptions | undefined {
  const given = Object.hasOwn(options, 'tls') ? options.tls : undefined;
  if (given === undefined) return urlTls ? {} : undefined;
  if (typeof given !== 'object' || given === null || Array.isArray(given)) throw new InvalidConfigError('tls', `must be an object of ${TLS_FIELDS.join(', ')}; got ${describeValue(given)}`);
  for (const key of Object.keys(given)) {
    if (!(TLS_FIELDS as readonly string[]).includes(key)) throw new InvalidConfigError(`tls.${key}`, 'is not a known option', TLS_FIELDS);
  }
  const field = (key: keyof RedisTlsOptions): string | undefined => {
    const value = Object.hasOwn(given, key) ? given[key] : undefined;
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value.trim() === '') throw new InvalidConfigError(`tls.${key}`, `must be a non-empty string; got ${describeValue(value)}`);
    return value;
  };
  const [caFile, certFile, keyFile, serverName] = TLS_FIELDS.map(field);
  if (!urlTls && (caFile ?? certFile ?? keyFile ?? serverName) !== undefined) {
    throw new InvalidConfigError('tls', 'is set, but url starts with redis:// (plain TCP): use rediss:// for TLS');
  }
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new InvalidConfigError(certFile === undefined ? 'tls.keyFile' : 'tls.certFile', 'needs tls.certFile and tls.keyFile together (a client certificate and its key)');
  }
  return {
    ...(caFile !== undefined ? { ca: readConfigFile('tls.caFile', caFile) } : {}),
    ...(certFile !== undefined ? { cert: readConfigFile('tls.certFile', certFile) } : {}),
    ...(keyFile !== undefined ? { key: readConfigFile('tls.keyFile', keyFile) } : {}),
    ...(serverName !== undefined ? { servername: serverName } : {}),
    rejectUnauthorized: true,
  };
}

/** The credentials `options` and `url` give, checked; TLS files read now. */
export function resolveCredentials(options: RedisBusOptions, url: string): RedisCredentials {
  const fromUrl = userInfo(url);
  return new RedisCredentials({
    username: once('username', optionalString(options, 'username'), fromUrl.username),
    password: once('password', optionalString(options, 'password'), fromUrl.password),
    sentinelUsername: optionalString(options, 'sentinelUsername'),
    sentinelPassword: optionalString(options, 'sentinelPassword'),
    tls: resolveTls(options, fromUrl.tls),
  });
}

/** `url` (or a comma-separated list) without passwords: what the bus keeps once the credentials are taken out. */
export function withoutPasswords(url: string): string {
  return url
    .split(',')
    .map((part) => {
      const trimmed = part.trim();
      const u = new URL(trimmed);
      if (u.password === '') return trimmed;
      u.password = '';
      return u.toString();
    })
    .join(',');
}
