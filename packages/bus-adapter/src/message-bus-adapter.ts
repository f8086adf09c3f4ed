/**
 * `MessageBusAdapter` (design section 1): the convenience layer components use over any
 * `MessageBus`: emit an event, send to one component, register hooks and component listeners,
 * and clean them all up on close.
 *
 * Two deliberate departures from the design's Python sketch:
 * - methods resolve with the publish result and reject on failure instead of returning `bool`, so
 *   a failed publish can never pass unnoticed;
 * - handler errors are not caught and logged: they reach the bus, which retries the message and
 *   dead-letters it after the last attempt (a swallowed error would acknowledge a message that
 *   was never handled).
 */
import {
  BusClosedError,
  InvalidConfigError,
  InvalidMessageError,
  MessagePattern,
  describeValue,
  rejectUnknownKeys,
  validateName,
  type DeliveryContext,
  type EnvelopeInit,
  type JsonObject,
  type MessageBus,
  type MessageEnvelope,
  type PublishResult,
  type SubscribeOptions,
} from '@woodwork/bus-core';

/**
 * What hooks and component listeners receive: the envelope's payload first (what the design's
 * handlers took), then the whole envelope (session, source, metadata...) and the delivery context
 * (abort signal, attempt number). A throw or rejection fails the attempt: the bus retries, then
 * dead-letters. `P` is the payload's type when the handler knows it
 * (`registerHook<Thought>('agent.thought', (thought) => thought.text)`); the bus still checks at
 * run time that every published payload is a JSON object.
 */
export type AdapterHandler<P extends object = JsonObject> = (payload: P, envelope: MessageEnvelope<P>, context: DeliveryContext) => unknown;

/** An event to publish; `P` is its payload's type (`emitEvent<Thought>({ payload: { text } })`). */
export interface EmitEventInit<P extends object = JsonObject> {
  eventType: string;
  payload: P;
  sessionId: string;
  componentSource: string;
  componentTarget?: string | null;
  /** Default `pub_sub` (the design's default for `emit_event`). */
  pattern?: MessagePattern;
  /** Default `at_least_once`. */
  deliveryMode?: EnvelopeInit['deliveryMode'];
  metadata?: JsonObject;
  /** Default: a fresh `msg-<uuid>`. Set it to make `exactly_once` publishes idempotent. */
  messageId?: string;
  /** Default: the bus's `max_retries`. */
  maxRetries?: number;
}

export type SendToComponentInit<P extends object = JsonObject> = Omit<EmitEventInit<P>, 'componentTarget' | 'pattern'>;

export interface HookOptions {
  /** Makes the hook's group durable and shared by replicas of this component. */
  componentId?: string;
  /** An explicit, durable group name (replicas with the same group share the work). */
  group?: string;
  /** Only this session's events. */
  sessionId?: string;
  concurrency?: number;
  handlerTimeoutMs?: number;
}

export interface ComponentListenerOptions {
  /** Only this session's messages. */
  sessionId?: string;
  /** Only this event type. Default `*`: every message targeted to the component. */
  eventPattern?: string;
  concurrency?: number;
  handlerTimeoutMs?: number;
}

const EMIT_KEYS = [
  'eventType',
  'payload',
  'sessionId',
  'componentSource',
  'componentTarget',
  'pattern',
  'deliveryMode',
  'metadata',
  'messageId',
  'maxRetries',
];
const SEND_KEYS = EMIT_KEYS.filter((key) => key !== 'componentTarget' && key !== 'pattern');
const HOOK_OPTION_KEYS = ['componentId', 'group', 'sessionId', 'concurrency', 'handlerTimeoutMs'];
const LISTENER_OPTION_KEYS = ['sessionId', 'eventPattern', 'concurrency', 'handlerTimeoutMs'];

/**
 * Checked here, not left to the bus: the bus would list its own subscribe options, and would take
 * ones the adapter sets itself (`targetedOnly` on a hook would silently turn it into a listener).
 */
function assertOptions(options: unknown, allowed: readonly string[]): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidConfigError('options', `must be an object; got ${describeValue(options)}`);
  }
  rejectUnknownKeys(options, allowed);
}

/** A misspelt field would otherwise be dropped silently (and its default used). */
function assertEventInit(event: unknown, allowed: readonly string[]): void {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new InvalidMessageError('event', `must be an object; got ${describeValue(event)}`);
  }
  for (const key of Object.keys(event)) {
    if (!allowed.includes(key)) throw new InvalidMessageError(key, `is not a field of an event (allowed: ${allowed.join(', ')})`);
  }
}

export class MessageBusAdapter {
  /** local id -> the bus's subscription id. */
  private readonly subscriptions = new Map<string, string>();
  private nextLocalId = 0;
  private closing: Promise<void> | undefined;

  constructor(readonly bus: MessageBus) {
    if (typeof bus !== 'object' || bus === null || typeof bus.publish !== 'function' || typeof bus.subscribe !== 'function') {
      throw new InvalidConfigError('bus', `must be a MessageBus; got ${describeValue(bus)}`);
    }
  }

  /** Publishes an event (default `pub_sub`: every hook matching its type gets it). Rejects on any failure. */
  async emitEvent<P extends object = JsonObject>(event: EmitEventInit<P>): Promise<PublishResult> {
    this.assertOpen('emitEvent');
    assertEventInit(event, EMIT_KEYS);
    const { pattern, ...rest } = event;
    return this.bus.publish<P>({ ...rest, pattern: pattern ?? MessagePattern.PUB_SUB });
  }

  /** Sends a `point_to_point` message to one component (one replica of it handles it). */
  async sendToComponent<P extends object = JsonObject>(targetComponent: string, event: SendToComponentInit<P>): Promise<PublishResult> {
    // Without a target a point_to_point message routes like pub_sub: a typo would become a broadcast.
    validateName(targetComponent, 'targetComponent');
    assertEventInit(event, SEND_KEYS);
    return this.emitEvent<P>({ ...event, componentTarget: targetComponent, pattern: MessagePattern.POINT_TO_POINT });
  }

  /**
   * Runs `handler` for every event of type `eventPattern` (or `*` for all). Resolves with a local id
   * for `unregister`.
   */
  async registerHook<P extends object = JsonObject>(eventPattern: string, handler: AdapterHandler<P>, options: HookOptions = {}): Promise<string> {
    assertOptions(options, HOOK_OPTION_KEYS);
    return this.register('hook', eventPattern, handler, { ...options });
  }

  /**
   * Runs `handler` for messages targeted to `componentId` (`point_to_point` and `stream` with that
   * `componentTarget`), and only those: the backend routes them (`targetedOnly`), nothing is
   * filtered here. Replicas registering the same component share the messages.
   */
  async registerComponentListener<P extends object = JsonObject>(
    componentId: string,
    handler: AdapterHandler<P>,
    options: ComponentListenerOptions = {},
  ): Promise<string> {
    assertOptions(options, LISTENER_OPTION_KEYS);
    const { eventPattern, ...rest } = options;
    return this.register(`component-${componentId}`, eventPattern ?? '*', handler, { ...rest, componentId, targetedOnly: true });
  }

  /** Removes a hook or listener. Resolves false for an unknown id. */
  async unregister(localId: string): Promise<boolean> {
    const subscriptionId = this.subscriptions.get(localId);
    if (subscriptionId === undefined) return false;
    this.subscriptions.delete(localId);
    return this.bus.unsubscribe(subscriptionId);
  }

  /** Local ids of the registered hooks and listeners. */
  registrations(): string[] {
    return [...this.subscriptions.keys()];
  }

  /**
   * Unregisters everything this adapter registered, then closes the bus (unless `closeBus` is
   * false, for a bus shared with other adapters). Idempotent.
   */
  close(options: { closeBus?: boolean } = {}): Promise<void> {
    this.closing ??= this.closeOnce(options.closeBus ?? true);
    return this.closing;
  }

  private async closeOnce(closeBus: boolean): Promise<void> {
    const ids = [...this.subscriptions.values()];
    this.subscriptions.clear();
    const results = await Promise.allSettled(ids.map((id) => this.bus.unsubscribe(id)));
    if (closeBus) await this.bus.close();
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected' && !(r.reason instanceof BusClosedError));
    if (failure) throw failure.reason;
  }

  private async register<P extends object>(kind: string, eventPattern: string, handler: AdapterHandler<P>, options: SubscribeOptions): Promise<string> {
    this.assertOpen('register');
    if (typeof handler !== 'function') throw new InvalidConfigError('handler', `must be a function; got ${describeValue(handler)}`);
    // The handler's promise is returned as is: a rejection must reach the bus (retry, then dead letter).
    const subscriptionId = await this.bus.subscribe<P>(eventPattern, (envelope, context) => handler(envelope.payload, envelope, context), options);
    if (this.closing) {
      // close() started while subscribing: nobody will unregister this one.
      await this.bus.unsubscribe(subscriptionId).catch(() => undefined);
      throw new BusClosedError('register');
    }
    const localId = `${kind}-${this.nextLocalId++}`;
    this.subscriptions.set(localId, subscriptionId);
    return localId;
  }

  private assertOpen(operation: string): void {
    if (this.closing) throw new BusClosedError(operation);
  }
}
