/**
 * The routing rules of a routed bus: which member bus carries an event type.
 *
 * A route names an event type and a member:
 * - an exact type, `agent.input`, matches that type only;
 * - a prefix, `tool.*`, matches every type that starts with `tool.` (`tool.call`, `tool.call.done`),
 *   not `tool` itself;
 * - any other type goes to the default member.
 * An exact route wins over a prefix, and a longer prefix over a shorter one (`tool.call.*` over
 * `tool.*`), whatever their order in the list. One pattern listed twice is an error
 * (`DuplicateRouteError`), even with the same member: the list must say one thing per type.
 */
import { InvalidConfigError, describeValue, validateEventType } from '@woodwork/bus-core';
import { DuplicateRouteError, UnknownMemberError } from './routed-errors.js';

export interface Route {
  /** An exact event type, or a prefix ending in `.*` (`tool.*`). */
  readonly eventType: string;
  /** The member bus that carries it. */
  readonly member: string;
}

/** The rule every route's `eventType` follows, for error messages. */
export const ROUTE_PATTERN_RULE = 'must be an event type (agent.input) or a prefix ending in ".*" (tool.*)';

/** Past this many distinct types the lookup cache starts over (a flood of random types cannot grow it). */
const CACHE_LIMIT = 10_000;

export class RouteTable {
  private readonly exact = new Map<string, string>();
  /** `[prefix with its dot, member]`, longest first. */
  private readonly prefixes: Array<readonly [string, string]> = [];
  private readonly cache = new Map<string, string>();

  /**
   * Checks the routes against the members: every member a route names must exist
   * (`UnknownMemberError`), a pattern may appear once (`DuplicateRouteError`), and every pattern
   * follows `ROUTE_PATTERN_RULE` (`InvalidConfigError`). `key` names the list in errors.
   */
  constructor(
    routes: readonly Route[],
    readonly defaultMember: string,
    members: readonly string[],
    key = 'routes',
    /** How the pattern's field is spelt where the routes came from (`event_type` in files). */
    typeKey = 'eventType',
  ) {
    if (!members.includes(defaultMember)) throw new UnknownMemberError('default', defaultMember, members);
    const seen = new Map<string, number>();
    routes.forEach((route, index) => {
      const at = `${key}[${index}]`;
      const pattern = routePattern(route.eventType, `${at}.${typeKey}`);
      if (!members.includes(route.member)) throw new UnknownMemberError(`${at}.member`, route.member, members);
      const earlier = seen.get(pattern);
      if (earlier !== undefined) throw new DuplicateRouteError(at, pattern, `${key}[${earlier}]`);
      seen.set(pattern, index);
      if (pattern.endsWith('.*')) this.prefixes.push([pattern.slice(0, -1), route.member]);
      else this.exact.set(pattern, route.member);
    });
    this.prefixes.sort((a, b) => b[0].length - a[0].length);
  }

  /** The member that carries `eventType` (the default for anything no route names). */
  memberFor(eventType: string): string {
    const exact = this.exact.get(eventType);
    if (exact !== undefined) return exact;
    if (this.prefixes.length === 0) return this.defaultMember;
    const cached = this.cache.get(eventType);
    if (cached !== undefined) return cached;
    let member = this.defaultMember;
    for (const [prefix, to] of this.prefixes) {
      if (eventType.startsWith(prefix)) {
        member = to;
        break;
      }
    }
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(eventType, member);
    return member;
  }

  /** The routes as given (after checking), exact ones first, then prefixes longest first. */
  describe(): Route[] {
    return [
      ...[...this.exact].map(([eventType, member]) => ({ eventType, member })),
      ...this.prefixes.map(([prefix, member]) => ({ eventType: `${prefix}*`, member })),
    ];
  }
}

/** Checks one route pattern: an event type, or an event type followed by `.*`. */
export function routePattern(value: unknown, key: string): string {
  if (typeof value !== 'string') throw new InvalidConfigError(key, `${ROUTE_PATTERN_RULE}; got ${describeValue(value)}`);
  const type = value.endsWith('.*') ? value.slice(0, -2) : value;
  try {
    validateEventType(type, key);
  } catch {
    throw new InvalidConfigError(key, `${ROUTE_PATTERN_RULE}; got ${describeValue(value)}`);
  }
  return value;
}
