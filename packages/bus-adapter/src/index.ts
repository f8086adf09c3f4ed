/**
 * @woodwork/bus-adapter: what an app uses on top of a backend: `MessageBusAdapter`, the
 * `MessageBusFactory` that loads backends by package name, config files, and streaming.
 */
export * from './message-bus-adapter.js';
export * from './factory.js';
export * from './config.js';
export * from './shipped-configs.js';
export * from './errors.js';
export { BACKEND_OPTIONS, BACKEND_PACKAGES, BUS_TYPES, SECRET_OPTIONS, busConfigSecrets, busConfigKeys, busConfigTable, type ResolveBusConfigOptions, type RetryConfig } from './bus-config.js';
export type { BackendModule, ImportModule } from './backend-loader.js';
export * from './streaming/stream-manager.js';
export * from './streaming/stream-writer.js';
export * from './streaming/stream-reader.js';
export * from './streaming/stream-errors.js';
export { StreamEvent, isStreamEvent, type RemoteError } from './streaming/stream-protocol.js';
export { runCli, type CliIo } from './cli/run-cli.js';
export * from './routed/index.js';
