/**
 * What every backend does the same with a subscribe call and a publish call: check the input,
 * name the group, and decide which groups a message reaches.
 */
// Node's own uuid v4: a flat string (a JS-built one is a tree of ~19 concatenated pieces, ~600 B).
import { randomUUID } from 'node:crypto';
import type { MessageHandler, SubscribeOptions } from './bus.js';
import { createEnvelope, isTargeted, type EnvelopeInit, type MessageEnvelope } from './envelope.js';
import { InvalidConfigError, InvalidMessageError } from './errors.js';
import { configInteger, configName, rejectUnknownKeys, type ResolvedBusOptions } from './options.js';
import { describeValue, validateAndEncodeBody, validateAndMeasureBody, validateEventPattern, type EncodedBody, type MeasuredBody } from './validation.js';

/** Which messages a group receives. */
export interface GroupSpec {
  group: string;
  eventPattern: string;
  componentId: string | null;
  sessionId: string | null;
  targetedOnly: boolean;
  /** An observer's private group sees targeted messages too, without ever counting as the target. */
  observer: boolean;
  /** Durable groups outlive their replicas; private ones end with their one subscription. */
  durable: boolean;
}

export interface ResolvedSubscription extends GroupSpec {
  subscriptionId: string;
  handler: MessageHandler;
  concurrency: number;
  handlerTimeoutMs: number;
}

const SUBSCRIBE_OPTION_KEYS = ['sessionId', 'componentId', 'group', 'concurrency', 'handlerTimeoutMs', 'targetedOnly', 'observe', 'durable'];

/**
 * Checks a subscribe call and names its group: the explicit `group`, else the `componentId` (plus
 * `~pattern` unless `*`, plus `@session` when bound), else a private group.
 * Default group names never contain dots, so they are valid NATS consumer names too.
 */
export function resolveSubscription(
  eventPattern: unknown,
  handler: unknown,
  options: SubscribeOptions | undefined,
  defaults: Pick<ResolvedBusOptions, 'concurrency' | 'handlerTimeoutMs'>,
): ResolvedSubscription {
  const pattern = validateEventPattern(eventPattern);
  if (typeof handler !== 'function') throw new InvalidConfigError('handler', `must be a function; got ${describeValue(handler)}`);
  const o = options ?? {};
  if (typeof o !== 'object') throw new InvalidConfigError('options', `must be an object; got ${describeValue(o)}`);
  rejectUnknownKeys(o, SUBSCRIBE_OPTION_KEYS);
  // Option names are config, like every other option: `InvalidConfigError` with the name rule.
  const sessionId = o.sessionId === undefined ? null : configName(o.sessionId, 'sessionId');
  const componentId = o.componentId === undefined ? null : configName(o.componentId, 'componentId');
  const explicitGroup = o.group === undefined ? null : configName(o.group, 'group');
  const targetedOnly = o.targetedOnly ?? false;
  if (typeof targetedOnly !== 'boolean') throw new InvalidConfigError('targetedOnly', `must be a boolean; got ${describeValue(targetedOnly)}`);
  if (targetedOnly && componentId === null) throw new InvalidConfigError('targetedOnly', 'requires componentId');
  const observer = o.observe ?? false;
  if (typeof observer !== 'boolean') throw new InvalidConfigError('observe', `must be a boolean; got ${describeValue(observer)}`);
  if (observer && (componentId !== null || explicitGroup !== null || targetedOnly)) {
    throw new InvalidConfigError('observe', 'cannot be combined with componentId, group or targetedOnly: an observer has a private group of its own');
  }
  const durableOption = o.durable ?? true;
  if (typeof durableOption !== 'boolean') throw new InvalidConfigError('durable', `must be a boolean; got ${describeValue(durableOption)}`);
  if (o.durable !== undefined && componentId === null && explicitGroup === null) {
    throw new InvalidConfigError('durable', 'needs componentId or group (without them a subscription is always private)');
  }
  // Names are joined, not concatenated with `+`: a joined string is one flat string, where `+` makes
  // a tree of pieces (about 32 B each) that a group kept for each of 100,000 sessions would hold.
  const uuid = randomUUID();
  const subscriptionId = ['sub-', uuid].join('');
  let group: string;
  if (observer) group = ['observer-', uuid].join('');
  else if (explicitGroup !== null) group = explicitGroup;
  else if (componentId !== null) {
    const parts = [componentId];
    if (pattern !== '*') parts.push('~', pattern.replaceAll('.', '~'));
    if (targetedOnly) parts.push('~targeted');
    if (sessionId !== null) parts.push('@', sessionId);
    group = parts.join('');
  } else group = ['private-', uuid].join('');
  return {
    subscriptionId,
    handler: handler as MessageHandler,
    group,
    eventPattern: pattern,
    componentId,
    sessionId,
    targetedOnly,
    observer,
    durable: !observer && durableOption && (explicitGroup !== null || componentId !== null),
    concurrency: o.concurrency === undefined ? defaults.concurrency : configInteger(o.concurrency, 'concurrency', 1, 10_000),
    handlerTimeoutMs:
      o.handlerTimeoutMs === undefined ? defaults.handlerTimeoutMs : configInteger(o.handlerTimeoutMs, 'handlerTimeoutMs', 0),
  };
}

/** Two subscriptions may share a group only if they receive the same messages. */
export function assertSameGroupSpec(existing: GroupSpec, incoming: GroupSpec): void {
  for (const key of ['eventPattern', 'componentId', 'sessionId', 'targetedOnly', 'observer', 'durable'] as const) {
    if (existing[key] !== incoming[key]) {
      throw new InvalidConfigError(
        'group',
        `"${existing.group}" already exists with ${key} ${JSON.stringify(existing[key])}; a replica must subscribe with the same ${key} (got ${JSON.stringify(incoming[key])})`,
      );
    }
  }
}

/** True when the group with `spec` receives `envelope` (the contract's routing rule). */
export function groupReceives(spec: GroupSpec, envelope: MessageEnvelope): boolean {
  if (spec.sessionId !== null && spec.sessionId !== envelope.sessionId) return false;
  if (spec.eventPattern !== '*' && spec.eventPattern !== envelope.eventType) return false;
  if (spec.observer) return true;
  if (isTargeted(envelope)) return spec.componentId === envelope.componentTarget;
  return !spec.targetedOnly;
}

export interface PreparedPublish extends EncodedBody {
  envelope: MessageEnvelope;
}

/**
 * Completes an envelope with the design's defaults (`maxRetries` from config) and checks every
 * rule; returns it with its payload and metadata already encoded as JSON. Throws
 * `InvalidMessageError` before anything is sent.
 */
export function preparePublish(
  input: MessageEnvelope<object> | EnvelopeInit<object>,
  options: Pick<ResolvedBusOptions, 'maxRetries' | 'maxPayloadBytes'>,
): PreparedPublish {
  if (typeof input !== 'object' || input === null) throw new InvalidMessageError('envelope', `must be an object; got ${describeValue(input)}`);
  assertEnvelopeKeys(input);
  // Whatever payload type the caller declared, only a JSON object passes the validation below.
  const envelope = createEnvelope(input as EnvelopeInit, options);
  const body = validateAndEncodeBody(envelope, options);
  return { envelope, payloadJson: body.payloadJson, metadataJson: body.metadataJson, size: body.size, payloadCopy: body.payloadCopy, metadataCopy: body.metadataCopy };
}

export interface PreparedCheckedPublish extends MeasuredBody {
  envelope: MessageEnvelope;
}

/**
 * `preparePublish` without the payload's and metadata's own JSON text: the same envelope, checks,
 * size (counted during the walk) and plain copies. Memory sends no text; Redis and NATS make the
 * whole wire text from the copies in one `JSON.stringify` (`encodeCheckedWire`).
 */
export function prepareCheckedPublish(
  input: MessageEnvelope<object> | EnvelopeInit<object>,
  options: Pick<ResolvedBusOptions, 'maxRetries' | 'maxPayloadBytes'>,
): PreparedCheckedPublish {
  if (typeof input !== 'object' || input === null) throw new InvalidMessageError('envelope', `must be an object; got ${describeValue(input)}`);
  assertEnvelopeKeys(input);
  const envelope = createEnvelope(input as EnvelopeInit, options);
  const body = validateAndMeasureBody(envelope, options);
  return { envelope, size: body.size, payloadCopy: body.payloadCopy, metadataCopy: body.metadataCopy };
}

const ENVELOPE_KEYS = new Set<string>([
  'messageId',
  'sessionId',
  'eventType',
  'componentSource',
  'componentTarget',
  'timestamp',
  'deliveryMode',
  'pattern',
  'payload',
  'metadata',
  'retryCount',
  'maxRetries',
]);

/**
 * A misspelt field (`componentTraget`) would otherwise be dropped and its default used: the message
 * would go to every subscriber instead of its target. Wire (snake_case) names get a hint.
 */
function assertEnvelopeKeys(input: object): void {
  for (const key in input) {
    if (ENVELOPE_KEYS.has(key)) continue;
    if (!Object.prototype.hasOwnProperty.call(input, key)) continue;
    const camel = key.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
    const hint = camel !== key && ENVELOPE_KEYS.has(camel) ? ` (did you mean ${camel}? publish takes camelCase fields)` : '';
    throw new InvalidMessageError(key, `is not an envelope field${hint}; allowed: ${[...ENVELOPE_KEYS].join(', ')}`);
  }
}
