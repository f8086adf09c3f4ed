/**
 * What a group in this process knows of one of its consumers (one per partition of a shared group,
 * one for a private group), and the recreation of that consumer when it is gone (deleted from
 * outside, or a server that restarted with its data lost): it starts after what this process
 * settled or still holds of the partition, so nothing acknowledged is handed to a handler again.
 */
import type { GroupSpec } from '@woodwork/bus-core';
import { ensureConsumer, isNotFound, type StoredGroup } from './consumers.js';
import type { GroupHost } from './nats-group.js';
import type { PartitionPuller } from './partition-puller.js';

/** One consumer of the group and what this process knows of it. */
export interface PartitionState {
  readonly partition: number | null;
  readonly name: string;
  stored: StoredGroup;
  puller: PartitionPuller | undefined;
  /** Deliveries of this partition held here. */
  held: number;
  /** Highest stream sequence of this partition settled here: a recreated consumer starts after it. */
  lastSettledSeq: number;
  /** The events stream's creation time its consumer was made on (a recreated stream starts again at 1). */
  streamCreated: string | undefined;
}

/**
 * Recreates the puller's consumer if the server no longer has it; true when it did. `heldSeqs` gives
 * the partition's sequences held here at the moment the new start is chosen (after the look-ups).
 */
export async function recreateConsumerIfGone(host: GroupHost, spec: GroupSpec, puller: PartitionPuller, state: PartitionState, heldSeqs: () => number[]): Promise<boolean> {
  try {
    await host.jsm.consumers.info(host.layout.eventsStream, puller.consumer);
    return false;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  // The stream itself may be gone too (deleted, or a server restarted with its data lost).
  if ((await host.jsm.streams.info(host.layout.eventsStream).catch((error: unknown) => (isNotFound(error) ? undefined : Promise.reject(error)))) === undefined) {
    await host.recreateStreams();
  }
  const held = heldSeqs();
  const start = held.length > 0 ? Math.min(...held) : state.lastSettledSeq + 1;
  host.options.logger.warn('consumer was deleted; recreating it after the last acknowledged message', { consumer: puller.consumer, start });
  const made = await ensureConsumer(host, spec, puller.consumer, puller.partition, { recreateFrom: { start, since: state.stored.since, streamCreated: state.streamCreated } });
  state.stored = made.stored;
  if (made.streamCreated !== undefined) state.streamCreated = made.streamCreated;
  return true;
}

export function newState(partition: number | null, name: string, stored: StoredGroup): PartitionState {
  return { partition, name, stored, puller: undefined, held: 0, lastSettledSeq: 0, streamCreated: undefined };
}
