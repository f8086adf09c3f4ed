/**
 * Metric attributes of a consumer group, of bounded cardinality. Durable groups (a component or a
 * named group, not bound to a session) are few and named by the app: they keep their name. Groups
 * bound to a session would add one series per session, private groups (`private-<uuid>`) and
 * observers (`observer-<uuid>`) one per subscription: those are reported by kind, component and
 * pattern, never by name, and their values are summed.
 */
import type { Attributes } from '@opentelemetry/api';
import { Attr } from './semconv.js';

export type GroupKind = 'durable' | 'session' | 'private' | 'observer';

export interface GroupShape {
  group: string;
  eventPattern: string;
  componentId: string | null;
  sessionId: string | null;
  durable: boolean;
  observer: boolean;
}

export function groupKind(shape: GroupShape): GroupKind {
  if (shape.observer) return 'observer';
  if (shape.sessionId !== null) return 'session';
  return shape.durable ? 'durable' : 'private';
}

export function groupAttributes(shape: GroupShape): Attributes {
  const kind = groupKind(shape);
  const attributes: Attributes = {
    [Attr.groupKind]: kind,
    [Attr.component]: shape.componentId ?? '',
    [Attr.eventPattern]: shape.eventPattern,
  };
  if (kind === 'durable') attributes[Attr.consumerGroup] = shape.group;
  return attributes;
}

/** A stable key of an attribute set, to sum groups that share one. */
export function attributesKey(attributes: Attributes): string {
  return JSON.stringify(Object.keys(attributes).sort().map((k) => [k, attributes[k]]));
}
