/**
 * Creates the prefix's three streams (subjects.ts) when missing. Creating an existing stream with
 * the same config is a no-op on the server; one made with other settings (by another version, or
 * an operator, or a process with another `partitions`) is kept as it is and reported once, never
 * overwritten. Returns the prefix's partition count, read from the events stream's description.
 *
 * The description also says which protocol wrote the prefix (`{"woodwork":2,...}`, PROTOCOL.md).
 * A prefix of another version is refused with `InvalidConfigError` naming `streamPrefix`, before
 * anything is published or consumed: a later version's (`woodwork` above 2), and one written by
 * protocol version 1, whose events stream had no description and whose subjects had no partition
 * token (`<p>.m.<session>.<to>.<type>`: a version 2 consumer would never see those messages). An
 * events stream without a description that holds no message is taken over as version 2. Migrating
 * a version 1 prefix: drain it with the build that wrote it, then delete its streams (or use a new
 * `streamPrefix`).
 */
import { DiscardPolicy, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig, type StreamInfo } from '@nats-io/jetstream';
import { BackendUnavailableError, InvalidConfigError, type BusLogger } from '@woodwork/bus-core';
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
      if (config.name === layout.eventsStream) partitions = partitionsOf(checkProtocol(info, layout));
    } catch (error) {
      if (error instanceof InvalidConfigError) throw error;
      // Another process created it at the same moment (the server may then answer "subjects
      // overlap" instead of returning the stream): it exists, so it is used as it is.
      const text = String((error as Error)?.message ?? error);
      const raced = await jsm.streams.info(config.name).catch(() => undefined);
      if (raced) {
        if (/already in use|already exists/i.test(text)) logger.warn('stream exists with other settings; using it as it is', { stream: config.name, error: text });
        if (config.name === layout.eventsStream) partitions = partitionsOf(checkProtocol(raced, layout));
        continue;
      }
      throw new BackendUnavailableError(`cannot create JetStream stream ${config.name}: ${text}`, { cause: error });
    }
  }
  partitions ??= partitionsOf((await jsm.streams.info(layout.eventsStream)).config.description);
  if (partitions !== options.partitions) logger.warn('the prefix has another partition count; using it', { configured: options.partitions, stream: partitions });
  return partitions;
}

/** The protocol version an events stream's description states; undefined when it states none. */
export function protocolOf(description: string | undefined): unknown {
  try {
    const parsed = JSON.parse(description ?? '') as { woodwork?: unknown } | null;
    return typeof parsed === 'object' && parsed !== null ? parsed.woodwork : undefined;
  } catch {
    return undefined;
  }
}

/** Refuses an events stream written by another protocol version; returns its description. */
function checkProtocol(info: StreamInfo, layout: Layout): string | undefined {
  const description = info.config.description;
  const version = protocolOf(description);
  if (version === 2) return description;
  const stream = layout.eventsStream;
  if (version !== undefined) {
    throw new InvalidConfigError('streamPrefix', `"${layout.prefix}" was written by woodwork NATS protocol version ${JSON.stringify(version)} (stream ${stream}); this build speaks version 2: use a build of that version, or a new streamPrefix`);
  }
  if (info.state.messages > 0) {
    throw new InvalidConfigError(
      'streamPrefix',
      `"${layout.prefix}" holds ${info.state.messages} messages in stream ${stream} without a protocol version: written by protocol version 1 (no partition token in its subjects) or not by woodwork. ` +
        'Version 2 would not see them: drain the prefix with the build that wrote it and delete its streams, or use a new streamPrefix (PROTOCOL.md)',
    );
  }
  return description;
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

/** Deletes one stream; false when it was not there. Other failures surface as `BackendUnavailableError`. */
export async function deleteStreamIfPresent(jsm: JetStreamManager, stream: string): Promise<boolean> {
  try {
    return await jsm.streams.delete(stream);
  } catch (error) {
    if (/not found/i.test(String((error as Error)?.message ?? error))) return false;
    throw new BackendUnavailableError(`cannot delete JetStream stream ${stream}: ${String((error as Error)?.message ?? error)}`, { cause: error });
  }
}
