/**
 * The config of a routed bus, in the design's style (snake_case, as a YAML `message_bus:` section,
 * an object, or a file named by `WOODWORK_BUS_CONFIG`):
 *
 * ```yaml
 * message_bus:
 *   type: routed
 *   default: local                  # the member of every type no route names
 *   members:                        # name -> an ordinary bus config (memory, redis, nats)
 *     local: { type: memory }
 *     shared: { type: redis, redis_url: "${WOODWORK_REDIS_URL:-redis://localhost:6379}" }
 *   routes:                         # exact types, or a prefix ending in ".*"
 *     - { event_type: "tool.*", member: shared }
 *     - { event_type: agent.output, member: shared }
 *   concurrency: 16                 # optional: defaults of subscriptions spanning members
 *   handler_timeout_ms: 30000
 *   close_timeout_ms: 10000
 * ```
 *
 * Each member is checked as the bus config it is (its keys named `members.<name>.<key>` in errors);
 * a member may not itself be routed. The routes are checked against the members here, before
 * anything connects: an unknown member (`UnknownMemberError`), a pattern routed twice
 * (`DuplicateRouteError`) or a malformed pattern (`InvalidConfigError`), each listing what is allowed.
 */
import {
  InvalidConfigError,
  configInteger,
  configMilliseconds,
  configName,
  describeValue,
  numberFromText,
} from '@woodwork/bus-core';
import { RouteTable, type Route } from './route-table.js';
import { UnknownMemberError } from './routed-errors.js';

export const ROUTED_TYPE = 'routed';

/** The keys of a routed config. */
export const ROUTED_CONFIG_KEYS = ['type', 'default', 'members', 'routes', 'concurrency', 'handler_timeout_ms', 'close_timeout_ms'] as const;

export interface RoutedRouteConfig {
  /** An exact event type, or a prefix ending in `.*`. */
  event_type: string;
  member: string;
}

/** A routed bus in config form (the `message_bus:` section of a file). */
export interface RoutedBusConfig {
  type: 'routed';
  /** The member of every event type no route names. */
  default: string;
  /** Member name -> that member's own bus config (`type: memory | redis | nats`, and its keys). */
  members: Record<string, Record<string, unknown>>;
  routes?: RoutedRouteConfig[];
  concurrency?: number;
  handler_timeout_ms?: number;
  close_timeout_ms?: number;
}

/** What a checked routed config holds besides the shared fields of a resolved config. */
export interface ResolvedRoutedSettings<M> {
  /** Each member's checked config, by name, in the order given. */
  readonly members: Readonly<Record<string, M>>;
  readonly routes: readonly Route[];
  readonly defaultMember: string;
}

/**
 * Checks a routed config. `resolveMember` checks one member's config (the adapter's
 * `resolveBusConfig`, with the member's key names); `name` names a key in errors.
 */
export function checkRoutedConfig<M>(
  raw: Record<string, unknown>,
  name: (key: string) => string,
  resolveMember: (config: unknown, section: string, keyName: (key: string) => string) => M,
): { settings: ResolvedRoutedSettings<M>; options: Record<string, unknown>; config: Record<string, unknown> } {
  const get = (key: string): unknown => (Object.hasOwn(raw, key) && raw[key] !== null ? raw[key] : undefined);
  for (const key of Object.keys(raw)) {
    if (!(ROUTED_CONFIG_KEYS as readonly string[]).includes(key)) {
      throw new InvalidConfigError(name(key), 'is not a setting of type "routed" (backend settings go under members.<name>)', ROUTED_CONFIG_KEYS);
    }
  }
  const membersRaw = get('members');
  if (typeof membersRaw !== 'object' || membersRaw === undefined || Array.isArray(membersRaw)) {
    throw new InvalidConfigError(name('members'), `must map member names to bus configs (for example local: { type: memory }); got ${describeValue(membersRaw)}`);
  }
  const memberNames = Object.keys(membersRaw as object);
  if (memberNames.length === 0) throw new InvalidConfigError(name('members'), 'must name at least one member');
  const members: Record<string, M> = {};
  const memberConfigs: Record<string, unknown> = {};
  for (const memberName of memberNames) {
    configName(memberName, name(`members.${memberName}`));
    const memberRaw = (membersRaw as Record<string, unknown>)[memberName];
    const memberType = typeof memberRaw === 'object' && memberRaw !== null && Object.hasOwn(memberRaw, 'type') ? (memberRaw as Record<string, unknown>)['type'] : undefined;
    if (memberType === ROUTED_TYPE) {
      throw new InvalidConfigError(name(`members.${memberName}.type`), 'cannot be "routed": a member is one backend (memory, redis or nats)', ['memory', 'redis', 'nats']);
    }
    const resolved = resolveMember(memberRaw ?? {}, name(`members.${memberName}`), (key) => name(`members.${memberName}.${key}`));
    members[memberName] = resolved;
    memberConfigs[memberName] = (resolved as unknown as { config: unknown }).config;
  }
  rejectSharedNamespaces(members as Record<string, unknown>, name);
  const defaultRaw = get('default');
  if (defaultRaw === undefined) {
    throw new InvalidConfigError(name('default'), 'is required: the member of every event type no route names', memberNames);
  }
  const defaultMember = configName(defaultRaw, name('default'));
  const routesRaw = get('routes') ?? [];
  if (!Array.isArray(routesRaw)) {
    throw new InvalidConfigError(name('routes'), `must be a list of { event_type, member }; got ${describeValue(routesRaw)}`);
  }
  const routes: Route[] = routesRaw.map((route: unknown, i) => {
    const at = name(`routes[${i}]`);
    if (typeof route !== 'object' || route === null || Array.isArray(route)) {
      throw new InvalidConfigError(at, `must be { event_type, member }; got ${describeValue(route)}`);
    }
    for (const key of Object.keys(route)) {
      if (key !== 'event_type' && key !== 'member') throw new InvalidConfigError(`${at}.${key}`, 'is not a route setting', ['event_type', 'member']);
    }
    const r = route as Record<string, unknown>;
    if (typeof r['member'] !== 'string') throw new InvalidConfigError(`${at}.member`, `must name a member; got ${describeValue(r['member'])}`, memberNames);
    return { eventType: r['event_type'] as string, member: r['member'] };
  });
  if (!memberNames.includes(defaultMember)) throw new UnknownMemberError(name('default'), defaultMember, memberNames);
  // Checks patterns, unknown members and duplicates, naming keys as the file does.
  new RouteTable(routes, defaultMember, memberNames, name('routes'), 'event_type');
  const options: Record<string, unknown> = {};
  const config: Record<string, unknown> = { type: ROUTED_TYPE, default: defaultMember, members: memberConfigs, routes: routes.map((r) => ({ event_type: r.eventType, member: r.member })) };
  const number = (key: string, check: (value: unknown, key: string) => number, option: string): void => {
    const value = get(key);
    if (value === undefined) return;
    const checked = check(typeof value === 'string' ? numberFromText(value) : value, name(key));
    options[option] = checked;
    config[key] = checked;
  };
  number('concurrency', (v, k) => configInteger(v, k, 1, 10_000), 'concurrency');
  number('handler_timeout_ms', (v, k) => configMilliseconds(v, k, 0), 'handlerTimeoutMs');
  number('close_timeout_ms', (v, k) => configMilliseconds(v, k, 0), 'closeTimeoutMs');
  return { settings: { members, routes, defaultMember }, options, config };
}

/**
 * Two Redis (or NATS) members on one server with one stream prefix would be one namespace: a
 * subscription spanning both would read each other's messages, and get every message twice.
 */
function rejectSharedNamespaces(members: Record<string, unknown>, name: (key: string) => string): void {
  const seen = new Map<string, string>();
  for (const [memberName, resolved] of Object.entries(members)) {
    const { type, options } = resolved as { type: string; options: Readonly<Record<string, unknown>> };
    if (type === 'memory') continue;
    const namespace = `${type} ${String(options['url'] ?? '(default url)')} ${String(options['streamPrefix'] ?? 'woodwork')}`;
    const first = seen.get(namespace);
    if (first !== undefined) {
      throw new InvalidConfigError(
        name(`members.${memberName}.stream_prefix`),
        `makes members.${memberName} share the namespace of members.${first} (same ${type} server and stream_prefix): a subscription to "*" would get their messages twice; give each member its own stream_prefix`,
      );
    }
    seen.set(namespace, memberName);
  }
}
