/**
 * The config files this package ships in its `config/` folder (the design's three), found by name
 * wherever the package is installed: `loadConfigFile('config/…')` would read the app's own folder,
 * not this package's. They are in the exports map too (`@woodwork/bus-adapter/config/<file>.yml`),
 * for tools that resolve package files themselves.
 */
import { fileURLToPath } from 'node:url';
import { InvalidConfigError, describeValue } from '@woodwork/bus-core';
import { loadConfigFile, type Environment, type LoadConfigOptions } from './config.js';
import type { ResolvedBusConfig } from './bus-config.js';

/**
 * Each shipped config by its short name. `dev`: the memory backend (no server, no other package);
 * `local`: Redis on localhost (needs `@woodwork/bus-redis`); `cloud`: Redis at `${REDIS_CLUSTER_URL}`;
 * `routed`: a routed bus of memory (hooks), Redis (chains, streams) and NATS (shared events).
 */
export const SHIPPED_CONFIGS = Object.freeze({
  dev: 'message_bus_dev.yml',
  local: 'message_bus_local.yml',
  cloud: 'message_bus_cloud.yml',
  routed: 'message_bus_routed.yml',
} as const);

export type ShippedConfigName = keyof typeof SHIPPED_CONFIGS;

/** The absolute path of a shipped config, by short name (`dev`) or file name (`message_bus_dev.yml`). */
export function shippedConfigPath(name: ShippedConfigName | (typeof SHIPPED_CONFIGS)[ShippedConfigName]): string {
  const names = Object.keys(SHIPPED_CONFIGS) as ShippedConfigName[];
  const file = Object.hasOwn(SHIPPED_CONFIGS, name as string)
    ? SHIPPED_CONFIGS[name as ShippedConfigName]
    : names.map((n) => SHIPPED_CONFIGS[n]).find((f) => f === name);
  if (file === undefined) {
    throw new InvalidConfigError('name', `is not a shipped config; got ${describeValue(name)}`, [...names, ...names.map((n) => SHIPPED_CONFIGS[n])]);
  }
  // dist/shipped-configs.js (and src/ in this repository's tests) sit one folder below config/.
  return fileURLToPath(new URL(`../config/${file}`, import.meta.url));
}

/**
 * Loads a shipped config by name, like `loadConfigFile` (same `${VAR}` substitution and checks):
 * `await MessageBusFactory.createMessageBus(await loadShippedConfig('dev'))` is a memory bus.
 */
export function loadShippedConfig(
  name: ShippedConfigName | (typeof SHIPPED_CONFIGS)[ShippedConfigName],
  env: Environment = process.env,
  options: LoadConfigOptions = {},
): Promise<ResolvedBusConfig> {
  return loadConfigFile(shippedConfigPath(name), env, options);
}
