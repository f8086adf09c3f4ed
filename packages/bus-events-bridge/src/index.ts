/**
 * @woodwork/bus-events-bridge: woodwork's EventManager (hooks and pipes) and its message-bus
 * version, which carries hooks over any woodwork bus backend and keeps pipes local.
 */
export * from './types.js';
export * from './event-manager.js';
export * from './group-names.js';
export * from './message-bus-event-manager.js';
export * from './setup.js';
