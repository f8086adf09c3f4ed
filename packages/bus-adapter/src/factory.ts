/**
 * `MessageBusFactory` (design section 4): turns a config (the design's snake_case keys, from a
 * YAML file, an object or the environment) into a connected `MessageBus` by importing the backend
 * package for its `type` at run time; and the process-wide bus of `getGlobalMessageBus()`.
 */
import { InvalidConfigError, describeValue, rejectUnknownKeys, type BusLogger, type MessageBus, type MetricEvent } from '@woodwork/bus-core';
import { loadBackend, importModule, type ImportModule } from './backend-loader.js';
import { BUS_TYPES, isResolvedBusConfig, resolveBusConfig, type BusConfig, type BusType, type ResolvedBusConfig } from './bus-config.js';
import { loadConfigFile, type Environment } from './config.js';
import { ROUTED_TYPE } from './routed/routed-config.js';
import { createRoutedBus } from './routed/routed-factory.js';

export { resolveBusConfig };
export type { BusConfig, BusType, ResolvedBusConfig };

/** What cannot be written in a config file: code the app hands to the backend. */
export interface CreateBusOptions {
  logger?: BusLogger;
  onMetric?: (event: MetricEvent) => void;
  /** How to import a backend package (tests, bundlers). Default: `import(name)`. */
  importModule?: ImportModule;
  /** Use another package for a type (a fork, a test double). Default: `BACKEND_PACKAGES`. */
  packages?: Partial<Record<BusType, string>>;
}

const CREATE_OPTION_KEYS = ['logger', 'onMetric', 'importModule', 'packages'];

/** A misspelt option would otherwise be ignored (a logger that never logs, a fork never loaded). */
function checkCreateOptions(options: CreateBusOptions): void {
  if (typeof options !== 'object' || options === null) throw new InvalidConfigError('options', `must be an object; got ${describeValue(options)}`);
  rejectUnknownKeys(options, CREATE_OPTION_KEYS);
  if (options.importModule !== undefined && typeof options.importModule !== 'function') {
    throw new InvalidConfigError('importModule', `must be a function; got ${describeValue(options.importModule)}`);
  }
  const packages: unknown = own(options, 'packages') ?? {};
  if (typeof packages !== 'object' || packages === null) throw new InvalidConfigError('packages', `must be an object; got ${describeValue(packages)}`);
  rejectUnknownKeys(packages, BUS_TYPES, 'packages.');
  for (const [type, name] of Object.entries(packages)) {
    if (typeof name !== 'string' || name.trim() === '') throw new InvalidConfigError(`packages.${type}`, `must be a package name; got ${describeValue(name)}`);
  }
}

/** The environment variables `createFromEnvironment` reads, and the config key each one sets. */
export const ENVIRONMENT_VARIABLES = Object.freeze({
  WOODWORK_MESSAGE_BUS: 'type',
  WOODWORK_REDIS_URL: 'redis_url',
  WOODWORK_NATS_URL: 'nats_url',
  WOODWORK_STREAM_PREFIX: 'stream_prefix',
  WOODWORK_CONSUMER_GROUP: 'consumer_group',
} as const);

/**
 * The environment variables for logins and TLS, per backend type, and the config key each sets
 * (`tls.ca_file` is `ca_file` under `tls`). Read only for that type; empty counts as unset.
 */
export const SECURITY_ENVIRONMENT_VARIABLES = Object.freeze({
  redis: Object.freeze({
    WOODWORK_REDIS_USERNAME: 'username',
    WOODWORK_REDIS_PASSWORD: 'password',
    WOODWORK_REDIS_TLS_CA_FILE: 'tls.ca_file',
    WOODWORK_REDIS_TLS_CERT_FILE: 'tls.cert_file',
    WOODWORK_REDIS_TLS_KEY_FILE: 'tls.key_file',
    WOODWORK_REDIS_TLS_SERVER_NAME: 'tls.server_name',
    WOODWORK_REDIS_SENTINEL_USERNAME: 'sentinel_username',
    WOODWORK_REDIS_SENTINEL_PASSWORD: 'sentinel_password',
  }),
  nats: Object.freeze({
    WOODWORK_NATS_USERNAME: 'username',
    WOODWORK_NATS_PASSWORD: 'password',
    WOODWORK_NATS_TOKEN: 'token',
    WOODWORK_NATS_CREDENTIALS_FILE: 'credentials_file',
    WOODWORK_NATS_NKEY_SEED_FILE: 'nkey_seed_file',
    WOODWORK_NATS_TLS_CA_FILE: 'tls.ca_file',
    WOODWORK_NATS_TLS_CERT_FILE: 'tls.cert_file',
    WOODWORK_NATS_TLS_KEY_FILE: 'tls.key_file',
    WOODWORK_NATS_TLS_SERVER_NAME: 'tls.server_name',
  }),
} as const);

/** The login and TLS settings the environment gives for `type` (see `SECURITY_ENVIRONMENT_VARIABLES`). */
function securityFromEnvironment(type: 'redis' | 'nats', env: Environment, config: BusConfig): void {
  for (const [variable, key] of Object.entries(SECURITY_ENVIRONMENT_VARIABLES[type])) {
    const value = Object.hasOwn(env, variable) ? env[variable] : undefined;
    if (value === undefined || value === '') continue;
    const [outer, inner] = key.split('.') as [string, string | undefined];
    if (inner === undefined) config[outer] = value;
    else config[outer] = { ...((config[outer] as Record<string, unknown> | undefined) ?? {}), [inner]: value };
  }
}

/**
 * The values of the environment's secret variables (`WOODWORK_REDIS_PASSWORD`,
 * `WOODWORK_NATS_TOKEN`...) and of the passwords in `WOODWORK_REDIS_URL` / `WOODWORK_NATS_URL`, in
 * the forms they could be printed in (as given, URL-encoded, inside JSON): for core's
 * `redactKnownSecrets`, before any config is read (the CLI and the demo redact all they print with them).
 */
export function environmentSecrets(env: Environment = process.env): string[] {
  const out: string[] = [];
  const add = (value: string): void => void out.push(value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1));
  for (const table of Object.values(SECURITY_ENVIRONMENT_VARIABLES)) {
    for (const [variable, key] of Object.entries(table)) {
      if (!/password|token/.test(key)) continue;
      const value = Object.hasOwn(env, variable) ? env[variable] : undefined;
      if (value) add(value);
    }
  }
  for (const variable of ['WOODWORK_REDIS_URL', 'WOODWORK_NATS_URL']) {
    const value = Object.hasOwn(env, variable) ? env[variable] : undefined;
    for (const part of value?.split(',') ?? []) {
      try {
        const url = new URL(part.trim());
        if (url.password) add(decodeURIComponent(url.password));
        else if (url.username && variable === 'WOODWORK_NATS_URL') add(decodeURIComponent(url.username)); // nats://TOKEN@host
      } catch {
        // Not a URL: the config check says so; nothing to redact.
      }
    }
  }
  return out;
}

const SECURITY_VARIABLE_OF_KEY = new Map<string, string>(
  Object.values(SECURITY_ENVIRONMENT_VARIABLES).flatMap((table) => Object.entries(table).map(([variable, key]) => [key, variable] as [string, string])),
);

/**
 * The environment variable naming a YAML config file (`message_bus:` section) for
 * `loadEnvironmentConfig` / `createFromEnvironment`: required with `WOODWORK_MESSAGE_BUS=routed`
 * (members and routes do not fit in variables), allowed with any type.
 */
export const BUS_CONFIG_VARIABLE = 'WOODWORK_BUS_CONFIG';

const ENVIRONMENT_TYPES = [...BUS_TYPES, ROUTED_TYPE] as const;

/** An own property of an options object, never one inherited from its prototype. */
function own(object: object, key: string): unknown {
  return Object.hasOwn(object, key) ? (object as Record<string, unknown>)[key] : undefined;
}

const VARIABLE_OF_KEY = new Map<string, string>(Object.entries(ENVIRONMENT_VARIABLES).map(([variable, key]) => [key, variable]));

export class MessageBusFactory {
  /**
   * Checks `config`, imports the backend package for its type (`@woodwork/bus-memory`,
   * `@woodwork/bus-redis`, `@woodwork/bus-nats`) and resolves with the bus its
   * `createMessageBus(options)` returns. Rejects with `InvalidConfigError` for a bad config and with
   * its subclass `BackendNotInstalledError` (naming the package to install) when the backend is
   * missing. Accepts a `ResolvedBusConfig` (from `resolveBusConfig` / `loadConfigFile`) as well.
   */
  static async createMessageBus(config: BusConfig | ResolvedBusConfig = {}, options: CreateBusOptions = {}): Promise<MessageBus> {
    checkCreateOptions(options);
    const checked = isResolvedBusConfig(config) ? config : resolveBusConfig(config);
    if (checked.type === ROUTED_TYPE) {
      // Each member is made here, by its backend's name, with the same code options.
      return createRoutedBus(checked, (member) => MessageBusFactory.createMessageBus(member, options));
    }
    const packages = own(options, 'packages') as CreateBusOptions['packages'];
    const packageName = (packages ? own(packages, checked.type) : undefined) ?? checked.packageName;
    const create = await loadBackend(checked.type, packageName as string, (own(options, 'importModule') as ImportModule | undefined) ?? importModule);
    const backendOptions: Record<string, unknown> = { ...checked.options };
    const logger = own(options, 'logger') as BusLogger | undefined;
    const onMetric = own(options, 'onMetric');
    if (logger) backendOptions['logger'] = logger;
    if (onMetric) backendOptions['onMetric'] = onMetric;
    // What the YAML parser warned about goes to the app's logger, not to the terminal.
    for (const warning of checked.warnings ?? []) {
      try {
        logger?.warn('config file warning', { warning });
      } catch {
        // A throwing logger must not stop the bus from being created.
      }
    }
    const bus: unknown = await create(backendOptions);
    if (!isMessageBus(bus)) {
      // Anything else would fail later, far from here, with a TypeError.
      throw new InvalidConfigError('type', `"${checked.type}" loads ${packageName}, whose createMessageBus(options) did not return a MessageBus; got ${describeValue(bus)}`);
    }
    return bus;
  }

  /**
   * The config the design's environment variables describe: `WOODWORK_MESSAGE_BUS` (memory, redis
   * or nats; default memory), `WOODWORK_REDIS_URL` (default `redis://localhost:6379`),
   * `WOODWORK_NATS_URL` (default `nats://localhost:4222`), `WOODWORK_STREAM_PREFIX` (default
   * `woodwork`), `WOODWORK_CONSUMER_GROUP` (redis; default `woodwork-components`), and the login and
   * TLS settings of `SECURITY_ENVIRONMENT_VARIABLES` (`WOODWORK_REDIS_PASSWORD`,
   * `WOODWORK_NATS_TLS_CA_FILE`...). Empty counts as unset. Pure: checks nothing beyond the type
   * (see `resolveBusConfig`).
   */
  static configFromEnvironment(env: Environment = process.env): BusConfig {
    const read = (name: keyof typeof ENVIRONMENT_VARIABLES): string | undefined => {
      const value = Object.hasOwn(env, name) ? env[name]?.trim() : undefined;
      return value === undefined || value === '' ? undefined : value;
    };
    const type = read('WOODWORK_MESSAGE_BUS') ?? 'memory';
    if (!(ENVIRONMENT_TYPES as readonly string[]).includes(type)) {
      throw new InvalidConfigError('WOODWORK_MESSAGE_BUS', `must be one of the allowed values; got ${JSON.stringify(type)}`, ENVIRONMENT_TYPES);
    }
    const file = Object.hasOwn(env, BUS_CONFIG_VARIABLE) ? env[BUS_CONFIG_VARIABLE]?.trim() : undefined;
    if (type === ROUTED_TYPE || (file !== undefined && file !== '')) {
      throw new InvalidConfigError(
        type === ROUTED_TYPE ? 'WOODWORK_MESSAGE_BUS' : BUS_CONFIG_VARIABLE,
        `${type === ROUTED_TYPE ? 'is "routed"' : 'is set'}: the config comes from the file ${BUS_CONFIG_VARIABLE} names; read it with MessageBusFactory.loadEnvironmentConfig() or createFromEnvironment()`,
      );
    }
    const config: BusConfig = { type: type as BusType };
    const prefix = read('WOODWORK_STREAM_PREFIX');
    if (type === 'redis') {
      config.redis_url = read('WOODWORK_REDIS_URL') ?? 'redis://localhost:6379';
      config.stream_prefix = prefix ?? 'woodwork';
      config.consumer_group = read('WOODWORK_CONSUMER_GROUP') ?? 'woodwork-components';
      securityFromEnvironment('redis', env, config);
    } else if (type === 'nats') {
      config.nats_url = read('WOODWORK_NATS_URL') ?? 'nats://localhost:4222';
      config.stream_prefix = prefix ?? 'woodwork';
      securityFromEnvironment('nats', env, config);
    } else if (prefix !== undefined) {
      config.stream_prefix = prefix;
    }
    return config;
  }

  /**
   * `configFromEnvironment`, checked without connecting: a bad value is an `InvalidConfigError`
   * naming the environment variable.
   */
  static resolveEnvironmentConfig(env: Environment = process.env): ResolvedBusConfig {
    return resolveBusConfig(MessageBusFactory.configFromEnvironment(env), {
      keyName: (key) => {
        const variable = VARIABLE_OF_KEY.get(key) ?? SECURITY_VARIABLE_OF_KEY.get(key);
        return variable === undefined ? key : `${variable} (${key})`;
      },
    });
  }

  /**
   * The config the environment describes, reading a file when it says so: with
   * `WOODWORK_BUS_CONFIG` set, the YAML file it names (its `${VAR}`s from the same environment;
   * `WOODWORK_MESSAGE_BUS`, when set too, must be the file's type); `WOODWORK_MESSAGE_BUS=routed`
   * requires that file. Otherwise the variables alone (`resolveEnvironmentConfig`).
   */
  static async loadEnvironmentConfig(env: Environment = process.env): Promise<ResolvedBusConfig> {
    const read = (name: string): string | undefined => {
      const value = Object.hasOwn(env, name) ? env[name]?.trim() : undefined;
      return value === undefined || value === '' ? undefined : value;
    };
    const file = read(BUS_CONFIG_VARIABLE);
    const type = read('WOODWORK_MESSAGE_BUS');
    if (file === undefined) {
      if (type === ROUTED_TYPE) {
        throw new InvalidConfigError(
          BUS_CONFIG_VARIABLE,
          'must name the YAML file with the routed bus\'s members and routes (WOODWORK_MESSAGE_BUS is "routed"), for example config/message_bus_routed.yml of @woodwork/bus-adapter; it is not set',
        );
      }
      return MessageBusFactory.resolveEnvironmentConfig(env);
    }
    if (type !== undefined && !(ENVIRONMENT_TYPES as readonly string[]).includes(type)) {
      throw new InvalidConfigError('WOODWORK_MESSAGE_BUS', `must be one of the allowed values; got ${JSON.stringify(type)}`, ENVIRONMENT_TYPES);
    }
    const loaded = await loadConfigFile(file, env);
    if (type !== undefined && loaded.type !== type) {
      throw new InvalidConfigError(
        'WOODWORK_MESSAGE_BUS',
        `is "${type}", but ${BUS_CONFIG_VARIABLE} names ${file}, whose message_bus.type is "${loaded.type}": make them agree (or unset WOODWORK_MESSAGE_BUS)`,
      );
    }
    return loaded;
  }

  /** Creates the bus the environment describes (see `loadEnvironmentConfig`). */
  static async createFromEnvironment(env: Environment = process.env, options: CreateBusOptions = {}): Promise<MessageBus> {
    return MessageBusFactory.createMessageBus(await MessageBusFactory.loadEnvironmentConfig(env), options);
  }
}

let globalBus: MessageBus | undefined;
let creating: Promise<MessageBus> | undefined;
/** Bumped by every `setGlobalMessageBus`, so a creation that finishes after one does not overwrite it. */
let generation = 0;

/**
 * The process-wide bus, created from the environment on first use. Concurrent first calls share
 * one creation; a failed creation is not remembered (the next call tries again).
 */
export async function getGlobalMessageBus(): Promise<MessageBus> {
  if (globalBus) return globalBus;
  if (creating) return creating;
  const started = generation;
  const attempt = MessageBusFactory.createFromEnvironment().then(
    async (bus) => {
      if (generation !== started) {
        // Someone set the global bus meanwhile: theirs wins, this one is not anyone's.
        await bus.close().catch(() => undefined);
        if (globalBus) return globalBus;
        return getGlobalMessageBus();
      }
      globalBus = bus;
      return bus;
    },
  );
  creating = attempt;
  try {
    return await attempt;
  } finally {
    if (creating === attempt) creating = undefined;
  }
}

/**
 * Replaces the process-wide bus (`undefined` clears it, so the next get creates one). The caller
 * keeps ownership of the previous bus: it is not closed here.
 */
export function setGlobalMessageBus(bus: MessageBus | undefined): void {
  if (bus !== undefined && !isMessageBus(bus)) {
    // An adapter (or a config) here would make every later getGlobalMessageBus() caller fail oddly.
    throw new InvalidConfigError('bus', `must be a MessageBus (publish, subscribe, close...) or undefined; got ${describeValue(bus)}`);
  }
  generation++;
  globalBus = bus;
  creating = undefined;
}

const BUS_METHODS = ['publish', 'subscribe', 'unsubscribe', 'healthCheck', 'close'] as const;

function isMessageBus(value: unknown): value is MessageBus {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return typeof candidate['backend'] === 'string' && BUS_METHODS.every((method) => typeof candidate[method] === 'function');
}
