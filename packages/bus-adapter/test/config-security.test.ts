/**
 * Login and TLS settings in config files and the environment: `username`, `password`,
 * `tls: {ca_file, cert_file, key_file, server_name}`, Sentinel's own login (redis), `token`,
 * `credentials_file`, `nkey_seed_file` (nats); `${VAR}` for secrets; a missing or unreadable file is
 * a `ConfigFileError` naming the key and the file; a bad secret's error never shows the value.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigFileError, InvalidConfigError } from '@woodwork/bus-core';
import { MessageBusFactory, SECURITY_ENVIRONMENT_VARIABLES, busConfigSecrets, parseConfigText, resolveBusConfig } from '../src/index.js';

let dir: string;
const file = (name: string): string => join(dir, name);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ww-config-sec-'));
  for (const name of ['ca.crt', 'client.crt', 'client.key', 'user.creds', 'user.nk']) writeFileSync(file(name), `-----BEGIN TEST-----\n${name}\n-----END TEST-----\n`);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('login and TLS settings', () => {
  it('a redis YAML section with ${VAR} secrets and tls files maps to the backend options', () => {
    const text = [
      'message_bus:',
      '  type: redis',
      '  redis_url: rediss://cache.internal:6380',
      '  username: app',
      '  password: ${REDIS_PASSWORD}',
      '  tls:',
      `    ca_file: ${file('ca.crt')}`,
      '    cert_file: ${CERT_DIR}/client.crt',
      `    key_file: ${file('client.key')}`,
      '    server_name: cache.internal',
      '  sentinel_password: ${SENTINEL_PASSWORD}',
      '  sentinel_username: watcher',
      '',
    ].join('\n');
    const resolved = parseConfigText(text, { REDIS_PASSWORD: 'p@ss word', SENTINEL_PASSWORD: 'sentinel-secret', CERT_DIR: dir }, 'bus.yml');
    expect(resolved.options).toEqual({
      url: 'rediss://cache.internal:6380',
      username: 'app',
      password: 'p@ss word',
      tls: { caFile: file('ca.crt'), certFile: file('client.crt'), keyFile: file('client.key'), serverName: 'cache.internal' },
      sentinelPassword: 'sentinel-secret',
      sentinelUsername: 'watcher',
    });
    expect(busConfigSecrets(resolved)).toEqual(expect.arrayContaining(['p@ss word', 'p%40ss%20word', 'sentinel-secret']));
  });

  it('a nats section takes token, credentials_file, nkey_seed_file and tls', () => {
    const resolved = resolveBusConfig({
      type: 'nats',
      nats_url: 'tls://nats.internal:4222',
      token: 's3cr3t-token',
      credentials_file: file('user.creds'),
      nkey_seed_file: file('user.nk'),
      username: 'u',
      password: 'pw-pw-pw',
      tls: { ca_file: file('ca.crt') },
    });
    expect(resolved.options).toEqual({
      url: 'tls://nats.internal:4222',
      token: 's3cr3t-token',
      credentialsFile: file('user.creds'),
      nkeySeedFile: file('user.nk'),
      username: 'u',
      password: 'pw-pw-pw',
      tls: { caFile: file('ca.crt') },
    });
    expect(() => resolveBusConfig({ type: 'memory', password: 'x' })).toThrow(/password is not a setting of type "memory" \(it belongs to redis, nats\)/);
  });

  it('a missing or unreadable file is a ConfigFileError naming the key and the file', () => {
    const missing = file('nope.crt');
    const error = (() => {
      try {
        parseConfigText(['message_bus:', '  type: redis', '  redis_url: rediss://h:6380', '  tls:', `    ca_file: ${missing}`, ''].join('\n'), {}, 'bus.yml');
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigFileError);
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect((error as ConfigFileError).file).toBe(missing);
    expect((error as ConfigFileError).reason).toBe('ENOENT');
    expect((error as Error).message).toBe(`invalid config: message_bus.tls.ca_file names the file ${missing}, which cannot be read (ENOENT)`);
    expect(() => resolveBusConfig({ type: 'nats', credentials_file: dir })).toThrow(new RegExp(`credentials_file names the file ${dir}, which cannot be read \\(EISDIR\\)`));
    writeFileSync(file('empty.key'), '');
    expect(() => resolveBusConfig({ type: 'redis', tls: { key_file: file('empty.key') } })).toThrow(/tls.key_file names the file .*empty.key, which cannot be read \(empty\)/);
    expect(() => resolveBusConfig({ type: 'redis', tls: { ca: 'x' } })).toThrow(/tls.ca is not a known option/);
  });

  it('a secret of the wrong type is refused without showing it; an unset ${VAR} names the variable', () => {
    expect(() => resolveBusConfig({ type: 'redis', password: 123456789 })).toThrow(/password must be a non-empty string .*got a number$/);
    try {
      resolveBusConfig({ type: 'redis', password: 123456789 });
    } catch (error) {
      expect(String((error as Error).message)).not.toContain('123456789');
    }
    expect(() => parseConfigText('message_bus:\n  type: redis\n  password: ${NOT_SET_PW}\n', {}, 'bus.yml')).toThrow(/message_bus.password refers to \$\{NOT_SET_PW\}, but the environment variable NOT_SET_PW is not set/);
  });

  it('environment variables set the same keys for their backend only', () => {
    const redis = MessageBusFactory.resolveEnvironmentConfig({
      WOODWORK_MESSAGE_BUS: 'redis',
      WOODWORK_REDIS_URL: 'rediss://r:6380',
      WOODWORK_REDIS_USERNAME: 'app',
      WOODWORK_REDIS_PASSWORD: 'env-secret',
      WOODWORK_REDIS_TLS_CA_FILE: file('ca.crt'),
      WOODWORK_REDIS_TLS_CERT_FILE: file('client.crt'),
      WOODWORK_REDIS_TLS_KEY_FILE: file('client.key'),
      WOODWORK_REDIS_TLS_SERVER_NAME: 'r.internal',
      WOODWORK_REDIS_SENTINEL_PASSWORD: 'sentinel-env',
      WOODWORK_NATS_TOKEN: 'ignored-for-redis',
    });
    expect(redis.options).toMatchObject({
      username: 'app',
      password: 'env-secret',
      tls: { caFile: file('ca.crt'), certFile: file('client.crt'), keyFile: file('client.key'), serverName: 'r.internal' },
      sentinelPassword: 'sentinel-env',
    });
    expect(redis.options).not.toHaveProperty('token');
    const nats = MessageBusFactory.resolveEnvironmentConfig({
      WOODWORK_MESSAGE_BUS: 'nats',
      WOODWORK_NATS_TOKEN: 'nats-token',
      WOODWORK_NATS_CREDENTIALS_FILE: file('user.creds'),
      WOODWORK_NATS_TLS_CA_FILE: file('ca.crt'),
    });
    expect(nats.options).toMatchObject({ token: 'nats-token', credentialsFile: file('user.creds'), tls: { caFile: file('ca.crt') } });
    expect(() => MessageBusFactory.resolveEnvironmentConfig({ WOODWORK_MESSAGE_BUS: 'redis', WOODWORK_REDIS_TLS_CA_FILE: file('gone.crt') })).toThrow(ConfigFileError);
    expect(Object.keys(SECURITY_ENVIRONMENT_VARIABLES.redis)).toContain('WOODWORK_REDIS_PASSWORD');
  });
});
