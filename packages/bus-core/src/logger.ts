import { redactError, redactKnownSecrets } from './redact.js';

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

/**
 * The app's logger with every call guarded: a logger that throws (a closed stream, a bad
 * serialiser) must never crash the process from a timer, nor change what the bus does. With
 * `secrets`, the message and every string in `context` (errors included, down their `cause`) are
 * redacted first (`redactError`), so no password, token or key reaches the app's log.
 */
export function guardedLogger(logger: BusLogger, secrets: readonly string[] = []): BusLogger {
  if (logger === quietLogger) return logger;
  const guard =
    (level: keyof BusLogger) =>
    (message: string, context?: Record<string, unknown>): void => {
      try {
        logger[level](redactKnownSecrets(message, secrets), context === undefined ? undefined : redactError(context, secrets));
      } catch {
        // Logging failed; there is nowhere left to report it.
      }
    };
  return Object.freeze({ debug: guard('debug'), info: guard('info'), warn: guard('warn'), error: guard('error') });
}
