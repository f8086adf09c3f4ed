/**
 * Errors of the routed bus. Config problems are `InvalidConfigError`s (so code that handles bad
 * config handles these), each naming the key and what is allowed; a call that fails on several
 * members at once is one `MemberFailuresError` listing every member's error.
 */
import { BusError, BusErrorCode, InvalidConfigError, isBusError } from '@woodwork/bus-core';
import { BackendNotInstalledError } from '../errors.js';

/** A route (or `default`) names a member that the `members` section does not define. */
export class UnknownMemberError extends InvalidConfigError {
  override readonly name: string = 'UnknownMemberError';
  constructor(
    key: string,
    readonly member: string,
    readonly members: readonly string[],
  ) {
    super(key, `names the member ${JSON.stringify(member)}, which is not defined under members`, members);
  }
}

/** One event type (or prefix) is routed twice. */
export class DuplicateRouteError extends InvalidConfigError {
  override readonly name: string = 'DuplicateRouteError';
  constructor(
    key: string,
    readonly eventType: string,
    /** Where the same pattern was listed first. */
    readonly firstKey: string,
  ) {
    super(
      key,
      `routes ${JSON.stringify(eventType)} again (already routed by ${firstKey}): each event type or prefix may be routed once; ` +
        'a more specific route (an exact type, a longer prefix) already wins over a broader one without repeating it',
    );
  }
}

/** A member's backend package is not installed: says which member, and what to install. */
export class MemberNotInstalledError extends BackendNotInstalledError {
  override readonly name: string = 'MemberNotInstalledError';
  constructor(
    readonly member: string,
    missing: BackendNotInstalledError,
  ) {
    super(missing.backendType, missing.packageName, missing.backendPackage, { cause: missing });
    this.message = `invalid config: members.${member}.type ${missing.rule}`;
  }
}

export interface MemberFailure {
  readonly member: string;
  readonly error: unknown;
}

/**
 * A call that goes to several members failed on some of them (`close`, `deleteSessionQueue`...).
 * `failures` has every member's error (also as `errors`, like an `AggregateError`); the message
 * names each member. `code` is the first failure's own code when it has one.
 */
export class MemberFailuresError extends BusError {
  override readonly name: string = 'MemberFailuresError';
  readonly errors: readonly unknown[];
  constructor(
    readonly operation: string,
    readonly failures: readonly MemberFailure[],
  ) {
    const first = failures[0]?.error;
    super(
      isBusError(first) ? first.code : BusErrorCode.BACKEND_UNAVAILABLE,
      `${operation} failed on ${failures.length} member${failures.length === 1 ? '' : 's'}: ${failures
        .map((f) => `${f.member}: ${describeError(f.error)}`)
        .join('; ')}`,
      { cause: first },
    );
    this.errors = failures.map((f) => f.error);
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  try {
    return String(error);
  } catch {
    return typeof error;
  }
}

/**
 * The outcome of one call made on several members: nothing when all succeeded; the error itself
 * when every member failed with the same `BusError` code (bad input, a closed bus: the call's own
 * fault, said as the members say it); otherwise a `MemberFailuresError` naming each.
 */
export function memberFailure(operation: string, failures: readonly MemberFailure[], memberCount: number): unknown {
  if (failures.length === 0) return undefined;
  const first = failures[0]!.error;
  if (failures.length === memberCount && isBusError(first) && failures.every((f) => isBusError(f.error) && f.error.code === first.code)) {
    return first;
  }
  return new MemberFailuresError(operation, failures);
}
