/**
 * Where stream messages go (their `componentTarget`). A component streams through two kinds of
 * address, neither of them the component's own id: the contract routes a targeted message to every
 * group of its target, so with the component's id a `*` component listener would get every chunk
 * (and its queue would hold the stream back), and a listener registering late would find its
 * waiting messages taken by the manager's group.
 * - `<component>--streams`: the group all replicas of the component share. It gets only
 *   `stream.created`, and one replica takes each.
 * - `<component>--streams-<instance>`: one StreamManager's own group (a random instance id per
 *   manager), for everything that must reach the manager owning the other end of a stream.
 */
import { randomBytes } from 'node:crypto';
import { InvalidMessageError, validateName } from '@woodwork/bus-core';

const STREAM_SUFFIX = '--streams';
/** 48 random bits: replicas of one component never draw the same id. */
const INSTANCE_ID_LENGTH = 12;
/** The longest component id that can stream: its instance address must fit the 128-character name rule. */
export const MAX_STREAMING_ID = 128 - STREAM_SUFFIX.length - 1 - INSTANCE_ID_LENGTH;

/** The address of a component's shared group, where streams are opened: its id plus `--streams`. */
export function streamTargetOf(componentId: string): string {
  return `${componentId}${STREAM_SUFFIX}`;
}

/** A fresh instance id for one StreamManager. */
export function newInstanceId(): string {
  return randomBytes(INSTANCE_ID_LENGTH / 2).toString('hex');
}

/** The address (and group) of one StreamManager: `<component>--streams-<instance>`. */
export function streamInstanceAddress(componentId: string, instanceId: string): string {
  return `${streamTargetOf(componentId)}-${instanceId}`;
}

/** A name that can take the suffixes: cutting a longer one would let two components share streams. */
export function streamingName(value: unknown, field: string): string {
  const name = validateName(value, field);
  if (name.length > MAX_STREAMING_ID) {
    throw new InvalidMessageError(
      field,
      `must be at most ${MAX_STREAMING_ID} characters to stream (the "${STREAM_SUFFIX}-<instance>" suffix must fit 128); got ${name.length}`,
    );
  }
  return name;
}
