/**
 * The Redis backend's edge for refusals and secrets: a refused login (WRONGPASS, NOAUTH), a TLS
 * handshake that failed (untrusted server certificate, a client certificate the server wanted),
 * and a missing ACL permission (NOPERM, a script's refused call) become core's typed errors,
 * naming the server (secret replaced), the user and, for permissions, the refused command and key.
 * Everything the backend throws or logs passes through `surfaceError`, which ends in core's
 * `redactError` with the bus's secrets (ioredis errors carry the AUTH arguments in `command.args`).
 */
import { AuthenticationError, BusError, PermissionDeniedError, redactError } from '@woodwork/bus-core';

/** Refused logins (or TLS handshakes) in a row after which a connection stops reconnecting. */
export const MAX_REFUSED_CONNECTS = 3;

/** What the translation needs to know about the bus. */
export interface AccessContext {
  /** The server, secrets replaced. */
  server: string;
  username: string | undefined;
  secrets: readonly string[];
}

const AUTH_RE = /WRONGPASS|NOAUTH|invalid username-password|invalid password|Client sent AUTH, but no password is set|AUTH failed/i;
const PERMISSION_RE = /NOPERM|user executing the script can't|has no permissions/i;
const TLS_CODES = /^(SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|CERT_SIGNATURE_FAILURE|CERT_UNTRUSTED|CERT_REJECTED|ERR_TLS_CERT_ALTNAME_INVALID|ERR_SSL_.*)$/;

function messageOf(error: unknown): string {
  return String((error as Error)?.message ?? error);
}

/** A refused login: wrong password, unknown or disabled user, no password given where one is needed. */
export function isLoginRefusal(error: unknown): boolean {
  return AUTH_RE.test(messageOf(error));
}

/** A TLS handshake that cannot succeed by retrying: the certificate was not trusted, or the server wanted another. */
export function isTlsRefusal(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return (typeof code === 'string' && TLS_CODES.test(code)) || /certificate|wrong version number|SSL routines/i.test(messageOf(error));
}

export function isPermissionRefusal(error: unknown): boolean {
  return PERMISSION_RE.test(messageOf(error));
}

/** `XADD woodwork:{...}:events:3`: the command an ioredis reply error was for, with its first key. */
export function refusedOperation(error: unknown): string | undefined {
  const command = (error as { command?: { name?: unknown; args?: unknown } })?.command;
  if (!command || typeof command.name !== 'string') return undefined;
  const name = command.name.toUpperCase();
  const args = Array.isArray(command.args) ? command.args.map((a) => (typeof a === 'string' || typeof a === 'number' ? String(a) : '')) : [];
  const key = firstKey(name, args);
  return key === undefined ? name : `${name} ${key}`;
}

function firstKey(name: string, args: string[]): string | undefined {
  if (name === 'EVALSHA' || name === 'EVAL' || name === 'EVALSHA_RO' || name === 'FCALL') return Number(args[1]) > 0 ? args[2] : undefined;
  if (name === 'XREADGROUP' || name === 'XREAD') {
    const at = args.findIndex((a) => a.toUpperCase() === 'STREAMS');
    return at >= 0 ? args[at + 1] : undefined;
  }
  if (name === 'AUTH' || name === 'HELLO' || name === 'CLIENT' || name === 'INFO' || name === 'PING' || name === 'TIME' || name === 'SCRIPT') return undefined;
  return args[0];
}

/** The typed error for a refusal, or undefined when `error` is something else. The driver's error is kept as cause, redacted. */
export function accessError(error: unknown, context: AccessContext): AuthenticationError | PermissionDeniedError | undefined {
  if (error instanceof AuthenticationError || error instanceof PermissionDeniedError) return error;
  const who = context.username === undefined ? 'the default user' : `user "${context.username}"`;
  const details = { cause: redactError(error, context.secrets), server: context.server, ...(context.username !== undefined ? { user: context.username } : {}) };
  // The bus does not retry a refusal, whatever the driver's text says.
  const reason = messageOf(error).trim().replace(/\s*\n\s*/g, ' ').replace(/ Retrying from scratch after \d+ms\./, '');
  if (isLoginRefusal(error) && /All sentinels are unreachable/.test(reason)) {
    return new AuthenticationError(`Redis Sentinel refused the login (sentinelUsername / sentinelPassword) at ${context.server}: ${reason}`, details);
  }
  if (isLoginRefusal(error)) {
    return new AuthenticationError(`Redis at ${context.server} refused the login of ${who}: ${reason}`, details);
  }
  if (isTlsRefusal(error)) {
    return new AuthenticationError(
      `TLS with Redis at ${context.server} failed: ${reason}${typeof (error as { code?: unknown })?.code === 'string' ? ` (${(error as { code: string }).code})` : ''}; check tls.caFile, tls.serverName and the client certificate (tls.certFile, tls.keyFile)`,
      details,
    );
  }
  if (isPermissionRefusal(error)) {
    const operation = refusedOperation(error);
    return new PermissionDeniedError(
      `Redis at ${context.server} refused ${operation ?? 'a command'} to ${who}: ${reason}; the user needs the ACL rules in @woodwork/bus-redis's README (Production)`,
      { ...details, ...(operation !== undefined ? { operation } : {}) },
    );
  }
  return undefined;
}

/**
 * What the bus lets a caller (or its logger) see of `error`: the typed refusal when it is one,
 * otherwise the error itself; always redacted with the bus's secrets.
 */
export function surfaceError(error: unknown, context: AccessContext): unknown {
  const typed = accessError(error, context);
  if (typed) return redactError(typed, context.secrets);
  return error instanceof BusError || error instanceof Error ? redactError(error, context.secrets) : error;
}
