/**
 * `RoutedMessageBus`: several member buses (memory, Redis, NATS...) behind one `MessageBus`, with
 * routes from event types to members. It sees only the contract: members are any `MessageBus`
 * (the factory builds them by backend name), so this module imports no backend.
 *
 * What each call does:
 * - `publish` goes to the member the envelope's event type routes to (route-table.ts: exact
 *   types, `prefix.*`, else the default member), and resolves or rejects exactly as that member's
 *   publish does (a member that is down fails or buffers as its backend does; the others go on).
 *   `point_to_point` / `stream` messages route by event type like any other: a component whose
 *   messages travel on one member must listen there (subscribe to that type, or to `'*'`).
 * - `subscribe` to an exact type subscribes on the member that type routes to; `'*'` subscribes on
 *   every member. Either way the caller gets one id (the handler's `DeliveryContext.subscriptionId`
 *   is that id), and `unsubscribe` removes it from every member.
 * - A subscription on several members goes through a gate (spanning-gate.ts, core's `SessionLanes`):
 *   one session's messages still run one at a time, whichever member carried them, and
 *   `concurrency` counts attempts across members. Retries and dead letters stay with each member.
 * - Order: messages of one session published to one member keep the member's order. Between
 *   members there is no order: each member delivers on its own schedule (memory at once, Redis
 *   and NATS after a network round trip and a poll), and nothing records a publish order across
 *   two servers to restore it. Route a session's order-sensitive types to one member.
 * - Dead letters (routed-dead-letters.ts): one list, ids `<member>/<id>` with a `member` field.
 * - Health (routed-health.ts): one report per member and an overall status.
 * - `createSessionQueue` / `deleteSessionQueue` reach every member. `close` closes every member,
 *   even when one fails, then rejects with a `MemberFailuresError` naming each failure.
 */
import {
  BusClosedError,
  InvalidConfigError,
  SessionDeletedError,
  configInteger,
  configMilliseconds,
  configName,
  describeValue,
  rejectUnknownKeys,
  resolveSubscription,
  type DeadLetterFilter,
  type EnvelopeInit,
  type JsonObject,
  type MessageBus,
  type MessageEnvelope,
  type MessageHandler,
  type PublishResult,
  type PurgeResult,
  type RedriveResult,
  type SubscribeOptions,
} from '@woodwork/bus-core';
import { RouteTable, type Route } from './route-table.js';
import { RoutedDeliveryContext } from './routed-context.js';
import { listDeadLetters, purgeDeadLetters, redriveDeadLetters, type RoutedDeadLetterRecord } from './routed-dead-letters.js';
import { MemberFailuresError, memberFailure, type MemberFailure } from './routed-errors.js';
import { routedHealth, type RoutedHealthReport } from './routed-health.js';
import { SpanningGate } from './spanning-gate.js';

export interface RoutedBusOptions {
  /** The member buses by name (1-128 letters, digits, `_`, `-`). The routed bus owns them: its `close` closes them. */
  members: Readonly<Record<string, MessageBus>> | ReadonlyMap<string, MessageBus>;
  /** Event type (or `prefix.*`) to member; see route-table.ts. Default: none (all to `defaultMember`). */
  routes?: readonly Route[];
  /** The member of every event type no route names. */
  defaultMember: string;
  /** Default `concurrency` of a subscription spanning members, counted across them. Default 16. */
  concurrency?: number;
  /** Default handler timeout of a subscription spanning members, ms; 0 turns it off. Default 30000. */
  handlerTimeoutMs?: number;
  /** How long `close` waits for the handlers of spanning subscriptions. Default 10000. */
  closeTimeoutMs?: number;
}

const OPTION_KEYS = ['members', 'routes', 'defaultMember', 'concurrency', 'handlerTimeoutMs', 'closeTimeoutMs'];
const BUS_METHODS = ['publish', 'subscribe', 'unsubscribe', 'getDeadLetterMessages', 'redriveDeadLetters', 'purgeDeadLetters', 'healthCheck', 'close'] as const;

interface RoutedSubscription {
  /** The member subscriptions, as they are made. */
  readonly parts: Array<{ readonly member: string; readonly id: string }>;
  readonly gate: SpanningGate | undefined;
}

export class RoutedMessageBus implements MessageBus {
  readonly backend = 'routed';
  /** The member buses by name, in the order given. */
  readonly members: ReadonlyMap<string, MessageBus>;
  private readonly routes: RouteTable;
  private readonly defaults: { concurrency: number; handlerTimeoutMs: number; closeTimeoutMs: number };
  private readonly subscriptions = new Map<string, RoutedSubscription>();
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(options: RoutedBusOptions) {
    if (typeof options !== 'object' || options === null) throw new InvalidConfigError('options', `must be an object; got ${describeValue(options)}`);
    rejectUnknownKeys(options, OPTION_KEYS);
    this.members = checkMembers(options.members);
    const routes = options.routes ?? [];
    if (!Array.isArray(routes)) throw new InvalidConfigError('routes', `must be a list of { eventType, member }; got ${describeValue(routes)}`);
    const checkedRoutes = routes.map((route: unknown, i) => {
      if (typeof route !== 'object' || route === null) throw new InvalidConfigError(`routes[${i}]`, `must be { eventType, member }; got ${describeValue(route)}`);
      rejectUnknownKeys(route, ['eventType', 'member'], `routes[${i}].`);
      return route as Route;
    });
    this.routes = new RouteTable(checkedRoutes, configName(options.defaultMember, 'defaultMember'), [...this.members.keys()]);
    this.defaults = {
      concurrency: options.concurrency === undefined ? 16 : configInteger(options.concurrency, 'concurrency', 1, 10_000),
      handlerTimeoutMs: options.handlerTimeoutMs === undefined ? 30_000 : configMilliseconds(options.handlerTimeoutMs, 'handlerTimeoutMs', 0),
      closeTimeoutMs: options.closeTimeoutMs === undefined ? 10_000 : configMilliseconds(options.closeTimeoutMs, 'closeTimeoutMs', 0),
    };
  }

  /** The member an event type routes to. */
  memberFor(eventType: string): string {
    return this.routes.memberFor(eventType);
  }

  /** The routes in effect (exact ones first, then prefixes longest first) and the default member. */
  describeRoutes(): { routes: Route[]; defaultMember: string } {
    return { routes: this.routes.describe(), defaultMember: this.routes.defaultMember };
  }

  publish<P extends object = JsonObject>(envelope: MessageEnvelope<P> | EnvelopeInit<P>): Promise<PublishResult> {
    if (this.closed) return Promise.reject(new BusClosedError('publish'));
    let eventType: unknown;
    try {
      eventType = (envelope as { eventType?: unknown }).eventType;
    } catch {
      // A hostile object: the default member's validation says what is wrong with it.
    }
    const member = typeof eventType === 'string' ? this.routes.memberFor(eventType) : this.routes.defaultMember;
    try {
      return this.members.get(member)!.publish(envelope);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async subscribe<P extends object = JsonObject>(eventPattern: string, handler: MessageHandler<P>, options?: SubscribeOptions): Promise<string> {
    if (this.closed) throw new BusClosedError('subscribe');
    // The members' own checks, made once here, so a bad call reaches no member.
    const resolved = resolveSubscription(eventPattern, handler, options, this.defaults);
    const id = resolved.subscriptionId;
    const names = eventPattern === '*' ? [...this.members.keys()] : [this.routes.memberFor(eventPattern)];
    const subscription: RoutedSubscription = {
      parts: [],
      gate:
        names.length > 1
          ? new SpanningGate({
              subscriptionId: id,
              group: resolved.group,
              handler: handler as MessageHandler,
              concurrency: resolved.concurrency,
              handlerTimeoutMs: resolved.handlerTimeoutMs,
            })
          : undefined,
    };
    this.subscriptions.set(id, subscription);
    const opened = manualResolvers();
    let open = false;
    let memberHandler: MessageHandler;
    let memberOptions: SubscribeOptions | undefined = options;
    if (subscription.gate) {
      memberHandler = subscription.gate.memberHandler;
      // The gate counts concurrency across members and times the handler from its own start.
      memberOptions = { ...options, concurrency: resolved.concurrency, handlerTimeoutMs: 0 };
    } else {
      const user = handler as MessageHandler;
      memberHandler = (envelope, context) => {
        if (open) return user(envelope, new RoutedDeliveryContext(context, id));
        return opened.promise.then(() => user(envelope, new RoutedDeliveryContext(context, id)));
      };
    }
    let failed: string | undefined;
    try {
      for (const name of names) {
        failed = name;
        const memberId = await this.members.get(name)!.subscribe(eventPattern, memberHandler, memberOptions);
        subscription.parts.push({ member: name, id: memberId });
      }
    } catch (error) {
      this.subscriptions.delete(id);
      await Promise.allSettled(subscription.parts.map((part) => this.members.get(part.member)!.unsubscribe(part.id)));
      void subscription.gate?.stop(0);
      // On one member the member's own error; on several, which member refused (the others were undone).
      throw names.length === 1 ? error : new MemberFailuresError('subscribe', [{ member: failed as string, error }]);
    }
    if (this.closed || !this.subscriptions.has(id)) {
      // Closed (or unsubscribed by id) while subscribing: nothing may start.
      await Promise.allSettled(subscription.parts.map((part) => this.members.get(part.member)!.unsubscribe(part.id)));
      void subscription.gate?.stop(0);
      if (this.closed) throw new BusClosedError('subscribe');
      return id;
    }
    // No handler runs before the caller has the id: open once its await has resumed (see afterCallerResumes).
    afterCallerResumes(() => {
      open = true;
      opened.resolve(undefined);
      subscription.gate?.open();
    });
    return id;
  }

  async unsubscribe(subscriptionId: string): Promise<boolean> {
    if (this.closed) throw new BusClosedError('unsubscribe');
    const subscription = typeof subscriptionId === 'string' ? this.subscriptions.get(subscriptionId) : undefined;
    if (!subscription) return false;
    this.subscriptions.delete(subscriptionId);
    const failures = await this.onParts(subscription.parts, (bus, id) => bus.unsubscribe(id));
    subscription.gate?.detach();
    const error = memberFailure('unsubscribe', failures, subscription.parts.length);
    if (error !== undefined) throw error;
    return true;
  }

  async createSessionQueue(sessionId: string): Promise<void> {
    if (this.closed) throw new BusClosedError('createSessionQueue');
    await this.onEveryMember('createSessionQueue', (bus) => bus.createSessionQueue(sessionId));
  }

  async deleteSessionQueue(sessionId: string): Promise<void> {
    if (this.closed) throw new BusClosedError('deleteSessionQueue');
    const failures = await this.collect([...this.members], (bus) => bus.deleteSessionQueue(sessionId));
    if (failures.length < this.members.size) {
      const reason = new SessionDeletedError(sessionId);
      for (const subscription of this.subscriptions.values()) subscription.gate?.abortSession(sessionId, reason);
    }
    const error = memberFailure('deleteSessionQueue', failures, this.members.size);
    if (error !== undefined) throw error;
  }

  async getDeadLetterMessages(limit?: number, filter?: Omit<DeadLetterFilter, 'limit'>): Promise<RoutedDeadLetterRecord[]> {
    if (this.closed) throw new BusClosedError('getDeadLetterMessages');
    return listDeadLetters(this.members, limit, filter);
  }

  async redriveDeadLetters(filter?: DeadLetterFilter): Promise<RedriveResult> {
    if (this.closed) throw new BusClosedError('redriveDeadLetters');
    return redriveDeadLetters(this.members, filter);
  }

  async purgeDeadLetters(filter?: DeadLetterFilter): Promise<PurgeResult> {
    if (this.closed) throw new BusClosedError('purgeDeadLetters');
    return purgeDeadLetters(this.members, filter);
  }

  async healthCheck(): Promise<RoutedHealthReport> {
    if (this.closed) throw new BusClosedError('healthCheck');
    return routedHealth(this.members, this.subscriptions.size);
  }

  /**
   * Closes every member (all of them, even when one fails) and stops the gates of spanning
   * subscriptions (their running handlers' signals abort; they are waited for up to
   * `closeTimeoutMs`). Rejects with a `MemberFailuresError` listing every member whose close
   * failed. Idempotent: later calls return the same promise.
   */
  close(): Promise<void> {
    this.closing ??= this.closeAll();
    return this.closing;
  }

  private async closeAll(): Promise<void> {
    this.closed = true;
    const gates: Promise<void>[] = [];
    for (const subscription of this.subscriptions.values()) if (subscription.gate) gates.push(subscription.gate.stop(this.defaults.closeTimeoutMs));
    this.subscriptions.clear();
    const failures = await this.collect([...this.members], (bus) => bus.close());
    await Promise.allSettled(gates);
    if (failures.length > 0) throw new MemberFailuresError('close', failures);
  }

  private async onEveryMember(operation: string, call: (bus: MessageBus) => Promise<unknown>): Promise<void> {
    const failures = await this.collect([...this.members], call);
    const error = memberFailure(operation, failures, this.members.size);
    if (error !== undefined) throw error;
  }

  private onParts(parts: RoutedSubscription['parts'], call: (bus: MessageBus, id: string) => Promise<unknown>): Promise<MemberFailure[]> {
    return this.collect(
      parts.map((part) => [part.member, this.members.get(part.member)!] as const),
      (bus, i) => call(bus, parts[i]!.id),
    );
  }

  /** Runs `call` on each member at once and returns the failures, member by member. */
  private async collect(
    targets: ReadonlyArray<readonly [string, MessageBus]>,
    call: (bus: MessageBus, index: number) => Promise<unknown>,
  ): Promise<MemberFailure[]> {
    const results = await Promise.allSettled(
      targets.map(([, bus], i) => {
        try {
          return call(bus, i);
        } catch (error) {
          return Promise.reject(error);
        }
      }),
    );
    const failures: MemberFailure[] = [];
    results.forEach((result, i) => {
      if (result.status === 'rejected') failures.push({ member: targets[i]![0], error: result.reason });
    });
    return failures;
  }
}

/**
 * Runs `open` right after the caller's `await subscribe(...)` has resumed with the id, and no later:
 * a microtask queued now runs before that resumption (the caller's reaction is queued by the
 * `return` that follows), and one queued from it runs just after it. Deliveries that come before
 * wait on the subscription (their `.then` is queued after the caller's reaction), never the other way.
 *
 * Not `setImmediate`: a member delivering in microtasks (memory) would hold every delivery until
 * the next turn of the event loop while publishes go on, so a publisher that never yields (a loop
 * of awaited in-memory publishes) fills the member's queue with all it sends before the first
 * handler runs: a queue of 100,000 messages kept alive instead of a few hundred, and garbage
 * collection doubled the CPU of each message (the routed bench, issue 14).
 */
function afterCallerResumes(open: () => void): void {
  queueMicrotask(() => queueMicrotask(open));
}

function manualResolvers(): { promise: Promise<unknown>; resolve: (value: unknown) => void } {
  let resolve!: (value: unknown) => void;
  const promise = new Promise<unknown>((r) => (resolve = r));
  return { promise, resolve };
}

function checkMembers(members: unknown): Map<string, MessageBus> {
  if (typeof members !== 'object' || members === null) {
    throw new InvalidConfigError('members', `must map member names to MessageBus instances; got ${describeValue(members)}`);
  }
  const entries: Array<[string, unknown]> = members instanceof Map ? [...members] : Object.keys(members).map((k) => [k, (members as Record<string, unknown>)[k]]);
  if (entries.length === 0) throw new InvalidConfigError('members', 'must name at least one member bus');
  const out = new Map<string, MessageBus>();
  const seen = new Set<unknown>();
  for (const [name, bus] of entries) {
    configName(name, `members.${name}`);
    if (!isMessageBus(bus)) throw new InvalidConfigError(`members.${name}`, `must be a MessageBus (publish, subscribe, healthCheck, close...); got ${describeValue(bus)}`);
    if (seen.has(bus)) throw new InvalidConfigError(`members.${name}`, 'is the same bus instance as another member: each member must be its own bus');
    seen.add(bus);
    out.set(name, bus);
  }
  return out;
}

function isMessageBus(value: unknown): value is MessageBus {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return typeof candidate['backend'] === 'string' && BUS_METHODS.every((method) => typeof candidate[method] === 'function');
}
