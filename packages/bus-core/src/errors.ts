/**
 * Typed errors of the woodwork bus. Every failure a caller can see is a `BusError` with a stable
 * `code`; backends translate driver errors at their edge and keep the driver's error as `cause`.
 */

export const BusErrorCode = {
  INVALID_MESSAGE: 'INVALID_MESSAGE',
  INVALID_CONFIG: 'INVALID_CONFIG',
  BACKEND_UNAVAILABLE: 'BACKEND_UNAVAILABLE',
  BUS_CLOSED: 'BUS_CLOSED',
  HANDLER_TIMEOUT: 'HANDLER_TIMEOUT',
  AUTHENTICATION: 'AUTHENTICATION',
  /** The server accepted the login but refused an operation: the user lacks a permission (an ACL rule, a subject permission). */
  PERMISSION_DENIED: 'PERMISSION_DENIED',
  QUEUE_FULL: 'QUEUE_FULL',
  /** A stream's consumer cancelled it (streaming, `@woodwork/bus-adapter`). */
  STREAM_CANCELLED: 'STREAM_CANCELLED',
  /** A stream's producer failed it, or chunks were lost. */
  STREAM_FAILED: 'STREAM_FAILED',
  /** A handler says retrying cannot help: the message is dead-lettered at once (`UnrecoverableError`). */
  UNRECOVERABLE: 'UNRECOVERABLE',
  /** A session was deleted while one of its attempts ran (`deleteSessionQueue`). */
  SESSION_DELETED: 'SESSION_DELETED',
  /** The server handed a delivery this process held to another consumer (its lease was lost). */
  LEASE_LOST: 'LEASE_LOST',
} as const;
export type BusErrorCode = (typeof BusErrorCode)[keyof typeof BusErrorCode];

export class BusError extends Error {
  override readonly name: string = 'BusError';
  readonly code: BusErrorCode;

  constructor(code: BusErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** A message (or one of its fields) breaks a rule; `field` names it and `rule` says what is required. */
export class InvalidMessageError extends BusError {
  override readonly name: string = 'InvalidMessageError';
  constructor(
    readonly field: string,
    readonly rule: string,
    options?: { cause?: unknown },
  ) {
    super(BusErrorCode.INVALID_MESSAGE, `invalid message: ${field} ${rule}`, options);
  }
}

/**
 * A configuration key is unknown or its value is out of range; `allowed` lists what would be
 * accepted. `source`, when the config came from a file, is that file: the message starts with it
 * (`invalid config: app.yml: message_bus.max_retries must be ...`).
 */
export class InvalidConfigError extends BusError {
  override readonly name: string = 'InvalidConfigError';
  readonly source: string | undefined;
  constructor(
    readonly key: string,
    readonly rule: string,
    readonly allowed?: readonly string[],
    options?: { cause?: unknown; source?: string },
  ) {
    super(
      BusErrorCode.INVALID_CONFIG,
      `invalid config: ${options?.source === undefined ? '' : `${options.source}: `}${key} ${rule}${allowed && allowed.length > 0 ? ` (allowed: ${allowed.join(', ')})` : ''}`,
      options !== undefined && 'cause' in options ? { cause: options.cause } : undefined,
    );
    this.source = options?.source;
  }
}

/**
 * A file the config names (a TLS CA, certificate or key, a credentials file) is missing or cannot be
 * read. `key` is the setting that names it (`tls.caFile`), `file` the path, `reason` the system's
 * code (`ENOENT`, `EACCES`, `EISDIR`) or what is wrong with its content. Never carries the file's
 * content.
 */
export class ConfigFileError extends InvalidConfigError {
  override readonly name: string = 'ConfigFileError';
  constructor(
    key: string,
    readonly file: string,
    readonly reason: string,
    options?: { cause?: unknown; source?: string },
  ) {
    super(key, `names the file ${file}, which cannot be read (${reason})`, undefined, options);
  }
}

/** The backend's server cannot be reached or refused the work; retrying later may succeed. */
export class BackendUnavailableError extends BusError {
  override readonly name: string = 'BackendUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(BusErrorCode.BACKEND_UNAVAILABLE, message, options);
  }
}

/** A bounded queue or buffer is full and the caller asked not to wait (or waited past its deadline). */
export class QueueFullError extends BusError {
  override readonly name: string = 'QueueFullError';
  constructor(
    readonly queue: string,
    readonly limit: number,
    message?: string,
  ) {
    super(BusErrorCode.QUEUE_FULL, message ?? `queue ${queue} is full (limit ${limit})`);
  }
}

/** The bus was closed; no call is accepted after `close()`. */
export class BusClosedError extends BusError {
  override readonly name: string = 'BusClosedError';
  constructor(operation: string) {
    super(BusErrorCode.BUS_CLOSED, `bus is closed: ${operation} rejected`);
  }
}

/** A handler did not settle within its `handlerTimeoutMs`; the attempt counts as failed. */
export class HandlerTimeoutError extends BusError {
  override readonly name: string = 'HandlerTimeoutError';
  constructor(readonly timeoutMs: number) {
    super(BusErrorCode.HANDLER_TIMEOUT, `handler timed out after ${timeoutMs} ms`);
  }
}

/** Who was refused and where; never the secret itself. The server is shown with any secret redacted. */
export interface AccessDeniedDetails {
  cause?: unknown;
  /** The server, as `host:port` or a URL with its secret replaced (`redactSecrets`). */
  server?: string;
  /** The user name that was refused, when the login has one (never a password, token or key). */
  user?: string;
}

/**
 * The server rejected the credentials (a wrong password, token, key or credentials file). Retrying
 * with the same credentials will not help, so backends give up after a bounded number of attempts
 * instead of reconnecting for ever.
 */
export class AuthenticationError extends BusError {
  override readonly name: string = 'AuthenticationError';
  readonly server: string | undefined;
  readonly user: string | undefined;
  constructor(message: string, options?: AccessDeniedDetails) {
    super(BusErrorCode.AUTHENTICATION, message, options);
    this.server = options?.server;
    this.user = options?.user;
  }
}

/**
 * The login worked but the server refused an operation the bus needs: the user lacks an ACL
 * permission (a Redis command or key pattern) or a subject / JetStream API permission (NATS).
 * `operation` names what was refused (`XADD woodwork:...`, `publish woodwork.events.x`), so the
 * operator knows which rule to add. Not retried: the same user gets the same answer.
 */
export class PermissionDeniedError extends BusError {
  override readonly name: string = 'PermissionDeniedError';
  readonly server: string | undefined;
  readonly user: string | undefined;
  readonly operation: string | undefined;
  constructor(message: string, options?: AccessDeniedDetails & { operation?: string }) {
    super(BusErrorCode.PERMISSION_DENIED, message, options);
    this.server = options?.server;
    this.user = options?.user;
    this.operation = options?.operation;
  }
}

/**
 * Thrown by a handler when retrying cannot help (a message malformed for its protocol, a permanent
 * refusal): the delivery is dead-lettered at once, without further attempts, and the record keeps
 * this error (and its `cause`). Recognised by its `code`, so a copy of core bundled twice still works.
 * (BullMQ's name for the same idea.)
 */
export class UnrecoverableError extends BusError {
  override readonly name: string = 'UnrecoverableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(BusErrorCode.UNRECOVERABLE, message, options);
  }
}

/** True for an `UnrecoverableError`, or any error whose `code` is `UNRECOVERABLE`. Never throws. */
export function isUnrecoverable(error: unknown): boolean {
  try {
    return (
      typeof error === 'object' && error !== null && (error as { code?: unknown }).code === BusErrorCode.UNRECOVERABLE
    );
  } catch {
    return false;
  }
}

/** The session's queue was deleted while this attempt ran; its outcome is ignored. */
export class SessionDeletedError extends BusError {
  override readonly name: string = 'SessionDeletedError';
  constructor(readonly sessionId: string) {
    super(BusErrorCode.SESSION_DELETED, `session ${sessionId} was deleted`);
  }
}

/**
 * The server gave this delivery to another consumer (its lease ran out, or renewing it failed for
 * good): the attempt's signal aborts with it and its outcome is ignored; nothing is acknowledged.
 */
export class LeaseLostError extends BusError {
  override readonly name: string = 'LeaseLostError';
  constructor(readonly deliveryId: string | undefined) {
    super(BusErrorCode.LEASE_LOST, `the lease of delivery ${deliveryId ?? '(no id)'} was lost: another consumer owns it now`);
  }
}

export function isBusError(error: unknown): error is BusError {
  return error instanceof BusError;
}
