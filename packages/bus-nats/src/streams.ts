/**
 * Creates the prefix's three streams (subjects.ts) when missing. Creating an existing stream with
 * the same config is a no-op on the server; one made with other settings (by another version, or
 * an operator, or a process with another `partitions`) is kept as it is and reported once, never
 * overwritten. Returns the prefix's partition count, read from the events stream's description.
 */
import { DiscardPolicy, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { BackendUnavailableError, type BusLogger } from '@woodwork/bus-core';
import { msToNanos, type ResolvedNatsBusOptions } from './options.js';
import { DEFAULT_PARTITIONS, type Layout } from './subjects.js';

export async function ensureStreams(jsm: JetStreamManager, layout: Layout, options: ResolvedNatsBusOptions, logger: BusLogger): Promise<number> {
  const storage = options.storage === 'memory' ? StorageType.Memory : StorageType.File;
  const common = { storage, num_replicas: options.replicas, retention: RetentionPolicy.Limits };
  const configs: Array<Partial<StreamConfig> & { name: string }> = [
    {
      ...common,
      name: layout.eventsStream,
      subjects: [layout.eventsSubjects],
      description: JSON.stringify({ woodwork: 2, partitions: options.partitions }),
      max_age: msToNanos(options.maxAgeMs),
      // A duplicate window of 0 would turn dedupe off; the server wants it at most max_age.
      duplicate_window: msToNanos(Math.max(1_000, Math.min(options.dedupeWindowMs, options.maxAgeMs || Number.MAX_SAFE_INTEGER))),
    },
    {
      ...common,
      name: layout.dlqStream,
      subjects: [layout.dlqSubjects],
      max_msgs: options.deadLetterMaxSize,
      discard: DiscardPolicy.Old,
      duplicate_window: msToNanos(120_000),
    },
    { ...common, name: layout.stateStream, subjects: [layout.stateSubjects], max_msgs_per_subject: 1 },
  ];
  let partitions: number | undefined;
  for (const config of configs) {
    try {
      const info = await jsm.streams.add(config);
      if (config.name === layout.eventsStream) partitions = partitionsOf(info.config.description);
    } catch (error) {
      // Another process created it at the same moment (the server may then answer "subjects
      // overlap" instead of returning the stream): it exists, so it is used as it is.
      const text = String((error as Error)?.message ?? error);
      const raced = await jsm.streams.info(config.name).catch(() => undefined);
      if (raced) {
        if (/already in use|already exists/i.test(text)) logger.warn('stream exists with other settings; using it as it is', { stream: config.name, error: text });
        if (config.name === layout.eventsStream) partitions = partitionsOf(raced.config.description);
        continue;
      }
      throw new BackendUnavailableError(`cannot create JetStream stream ${config.name}: ${text}`, { cause: error });
    }
  }
  partitions ??= partitionsOf((await jsm.streams.info(layout.eventsStream)).config.description);
  if (partitions !== options.partitions) logger.warn('the prefix has another partition count; using it', { configured: options.partitions, stream: partitions });
  return partitions;
}

/** The partition count an events stream's description states (the default when it states none). */
export function partitionsOf(description: string | undefined): number {
  try {
    const parsed = JSON.parse(description ?? '') as { woodwork?: unknown; partitions?: unknown };
    if (parsed.woodwork === 2 && Number.isSafeInteger(parsed.partitions) && (parsed.partitions as number) >= 1) return parsed.partitions as number;
  } catch {
    // not ours
  }
  return DEFAULT_PARTITIONS;
}
