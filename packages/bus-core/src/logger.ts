/**
 * The one place the bus logs. Quiet unless the app injects a logger (console works as one).
 */
export interface BusLogger {
  debug(message: string, context?: Record<string, unknown>): void;
  info(message: string, context?: Record<string, unknown>): void;
  warn(message: string, context?: Record<string, unknown>): void;
  error(message: string, context?: Record<string, unknown>): void;
}

const noop = (): void => {};

export const quietLogger: BusLogger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop });
