/**
 * `MessageBusEventManager`: the design's section 5. Hooks travel over the bus as pub/sub messages
 * (event type = event name), so a hook may live in another process and replicas of one app share
 * each hook's work; pipes run locally, in order.
 *
 * Ordering, as in the design: `emit` publishes the payload as emitted, then runs the pipes locally.
 * Hooks therefore see the payload before any pipe transformed it; only the emitter sees the piped
 * result. A failing hook follows the bus contract (retried, then dead-lettered with its error) and
 * never reaches the emitter.
 */
import {
  BusClosedError,
  InvalidConfigError,
  MAX_RETRIES_LIMIT,
  MessagePattern,
  configInteger,
  configName,
  configString,
  NAME_PATTERN,
  NAME_RULE,
  describeValue,
  rejectUnknownKeys,
  validateEventType,
  type JsonObject,
  type MessageBus,
  type MessageHandler,
} from '@woodwork/bus-core';
import { EventManager, type EventManagerOptions, type HookEntry } from './event-manager.js';
import { defaultHookGroupName, type HookGroupInfo } from './group-names.js';
import { sessionIdOf, type AnyEvents, type EventMapOf, type EventName, type Hook, type HookOptions, type Pipe } from './types.js';

export interface MessageBusEventManagerOptions {
  /**
   * This app's component id: the `componentSource` of every event it emits and the prefix of its
   * hooks' durable groups. Replicas of one app use the same id; different apps must not.
   */
  componentId: string;
  /** Session of payloads without `session_id` / `sessionId`. Default `'default'`. */
  defaultSessionId?: string;
  /** Names each hook's durable group; default `defaultHookGroupName`. Must be deterministic. */
  groupName?: (info: HookGroupInfo) => string;
  /** `maxRetries` of emitted events (attempts = maxRetries + 1). Default: the bus's. */
  maxRetries?: number;
  /** Per-attempt timeout of hooks. Default: the bus's. */
  handlerTimeoutMs?: number;
  /**
   * Told when a hook added with `on` / `addHook` could not be subscribed (info.sessionId is null);
   * the hook is dropped and `ready()` rejects with the error once. Default: `console.error`.
   * Failures of a hook's runs are not reported here: the bus retries and dead-letters them.
   */
  onHookError?: EventManagerOptions['onHookError'];
}

const OPTION_KEYS = ['componentId', 'defaultSessionId', 'groupName', 'maxRetries', 'handlerTimeoutMs', 'onHookError'];

interface HookSubscription {
  group: string;
  subscriptionId: string | null;
  /** Set when the hook was removed before its subscription was in place. */
  removed: boolean;
}

export class MessageBusEventManager<E extends EventMapOf<E> = AnyEvents> extends EventManager<E> {
  readonly componentId: string;
  private readonly bus: MessageBus;
  private readonly groupName: (info: HookGroupInfo) => string;
  private readonly maxRetries: number | undefined;
  private readonly handlerTimeoutMs: number | undefined;
  private readonly subscriptions = new Map<HookEntry, HookSubscription>();
  private readonly pending = new Set<Promise<unknown>>();
  private registrationErrors: unknown[] = [];
  private closed = false;

  constructor(bus: MessageBus, options: MessageBusEventManagerOptions) {
    if (typeof bus !== 'object' || bus === null || typeof bus.publish !== 'function' || typeof bus.subscribe !== 'function') {
      throw new InvalidConfigError('bus', `must be a MessageBus; got ${describeValue(bus)}`);
    }
    if (typeof options !== 'object' || options === null) {
      throw new InvalidConfigError('options', `must be an object with a componentId; got ${describeValue(options)}`);
    }
    rejectUnknownKeys(options, OPTION_KEYS);
    const base: EventManagerOptions = {};
    if (options.defaultSessionId !== undefined) base.defaultSessionId = options.defaultSessionId;
    if (options.onHookError !== undefined) base.onHookError = options.onHookError;
    super(base);
    this.bus = bus;
    this.componentId = configName(options.componentId, 'componentId');
    if (options.groupName !== undefined && typeof options.groupName !== 'function') {
      throw new InvalidConfigError('groupName', `must be a function; got ${describeValue(options.groupName)}`);
    }
    this.groupName = options.groupName ?? defaultHookGroupName;
    this.maxRetries = options.maxRetries === undefined ? undefined : configInteger(options.maxRetries, 'maxRetries', 0, MAX_RETRIES_LIMIT);
    this.handlerTimeoutMs =
      options.handlerTimeoutMs === undefined ? undefined : configInteger(options.handlerTimeoutMs, 'handlerTimeoutMs', 0);
  }

  /**
   * Adds a hook and starts subscribing its durable group. Returns at once; `emit` and `ready()`
   * wait for the subscription (and `ready()` reports a failed one). Use `registerHook` to await it.
   * Throws `InvalidMessageError` (field `event`) for an event name the bus cannot carry.
   */
  override addHook<K extends EventName<E>>(event: K, hook: Hook<E[K]>, options: HookOptions = {}): this {
    const { entry, subscribed } = this.startHook(event, hook, options);
    this.track(
      subscribed.catch((error: unknown) => {
        this.registrationErrors.push(error);
        this.reportHookError(error, { event, hookName: entry.name, sessionId: null });
      }),
    );
    return this;
  }

  /** Adds a hook and resolves once its subscription is in place; rejects (and drops it) if not. */
  async registerHook<K extends EventName<E>>(event: K, hook: Hook<E[K]>, options: HookOptions = {}): Promise<void> {
    const { subscribed } = this.startHook(event, hook, options);
    this.track(subscribed.catch(() => {}));
    await subscribed;
  }

  /** Pipes stay local; the event name is still checked, since emitting it would fail. */
  override addPipe<K extends EventName<E>>(event: K, pipe: Pipe<E[K]>): this {
    this.assertOpen('addPipe');
    validateEventType(event, 'event');
    return super.addPipe(event, pipe);
  }

  /** The durable group carrying a hook (undefined for an unknown hook). */
  hookGroup(event: EventName<E>, hookName: string): string | undefined {
    const entry = this.listHooks(event).find((e) => e.name === hookName);
    return entry ? this.subscriptions.get(entry)?.group : undefined;
  }

  /**
   * Resolves when every hook subscription started so far is in place; rejects with the first
   * failure not reported yet (a failed hook is dropped; `emit` does not wait for it, nor fail).
   */
  async ready(): Promise<void> {
    await this.settled();
    if (this.registrationErrors.length > 0) {
      const [first] = this.registrationErrors;
      this.registrationErrors = [];
      throw first;
    }
  }

  /**
   * Publishes the payload as emitted to the bus (pub_sub, event type = `event`, the payload's
   * session), then runs the local pipes in order and resolves with their result. Rejects when the
   * publish fails (`InvalidMessageError` for a bad event name, session id or non-JSON payload;
   * `QueueFullError`, `BackendUnavailableError`, `BusClosedError`), before any pipe runs.
   * It does not wait for hooks: they run when the bus delivers to their groups.
   */
  override async emit<K extends EventName<E>>(event: K, data: E[K]): Promise<E[K]> {
    this.assertOpen('emit');
    validateEventType(event, 'event');
    const sessionId = sessionIdOf(data, this.defaultSessionId);
    // Hooks being subscribed get this event; one that failed to subscribe is its own problem,
    // reported to onHookError and ready(), never the emitter's (other hooks still need the event).
    await this.settled();
    await this.bus.publish({
      sessionId,
      eventType: event,
      componentSource: this.componentId,
      pattern: MessagePattern.PUB_SUB,
      payload: data as unknown as JsonObject,
      ...(this.maxRetries === undefined ? {} : { maxRetries: this.maxRetries }),
    });
    return this.runPipes(event, data, sessionId);
  }

  /**
   * Ends every hook subscription (their durable groups stay, so messages published meanwhile wait
   * for the app's next start). The bus itself is the caller's and stays open. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const entry of this.listHooks()) this.removeHook(entry.event as EventName<E>, entry.name);
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    this.registrationErrors = [];
  }

  protected override hookRemoved(entry: HookEntry): void {
    const subscription = this.subscriptions.get(entry);
    if (!subscription) return;
    this.subscriptions.delete(entry);
    subscription.removed = true;
    if (subscription.subscriptionId !== null) this.track(this.unsubscribe(subscription.subscriptionId));
  }

  /** Adds the hook and starts its subscription; throws at once for a bad event, name or group. */
  private startHook(event: string, hook: HookEntry['hook'], options: HookOptions): { entry: HookEntry; subscribed: Promise<void> } {
    this.assertOpen('addHook');
    validateEventType(event, 'event');
    const entry = this.newHookEntry(event, hook, options.name);
    const groupName = this.groupName({ componentId: this.componentId, event, hookName: entry.name });
    const group = configString(groupName, 'groupName', NAME_PATTERN, `must return a group name that ${NAME_RULE}`);
    const subscription: HookSubscription = { group, subscriptionId: null, removed: false };
    this.insertHook(entry);
    this.subscriptions.set(entry, subscription);
    const handler: MessageHandler = async (envelope, context) => {
      // The bus contract gives every attempt its own envelope, so a hook changing its payload
      // changes nothing for other hooks, its own retry or the dead-letter record.
      await (hook as Hook<unknown>)(envelope.payload, {
        event: envelope.eventType,
        sessionId: envelope.sessionId,
        signal: context.signal,
        attempt: context.attempt,
        messageId: envelope.messageId,
        componentSource: envelope.componentSource,
      });
    };
    const options_ = this.handlerTimeoutMs === undefined ? { group } : { group, handlerTimeoutMs: this.handlerTimeoutMs };
    const subscribed = this.bus.subscribe(event, handler, options_).then(
      async (subscriptionId) => {
        if (subscription.removed) await this.unsubscribe(subscriptionId);
        else subscription.subscriptionId = subscriptionId;
      },
      (error: unknown) => {
        if (!subscription.removed) this.removeHook(event as EventName<E>, entry.name);
        throw error;
      },
    );
    return { entry, subscribed };
  }

  private async unsubscribe(subscriptionId: string): Promise<void> {
    try {
      await this.bus.unsubscribe(subscriptionId);
    } catch (error) {
      // A closed bus has already detached every subscription; anything else is worth reporting.
      if (!(error instanceof BusClosedError)) this.registrationErrors.push(error);
    }
  }

  private async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private track(promise: Promise<unknown>): void {
    this.pending.add(promise);
    void promise.finally(() => this.pending.delete(promise));
  }

  private assertOpen(operation: string): void {
    if (this.closed) throw new BusClosedError(`MessageBusEventManager.${operation}`);
  }
}
