/**
 * The one read loop of a bus: every group consuming in this process reads through it, on one
 * connection, so connections never grow with groups or subscriptions. A blocking XREADGROUP can
 * wait for one group only, so the loop never blocks in one:
 *
 * 1. each group claims what it must first (partition-reader.ts: takeovers, re-claims after an error);
 * 2. when one group has something to read (the common case: one group per process), one blocking
 *    `XREADGROUP ... BLOCK` for it, no longer than its leases surely last;
 * 3. when several have, one pipeline: the last entry id of every partition they read (a small
 *    script), then a non-blocking `XREADGROUP ... >` per group with room, each for the partitions
 *    it owns; if any group got entries, go again at once; if none did, wait in one blocking
 *    `XREAD COUNT 1 BLOCK <blockMs>` on those partitions after the ids of the pipeline (the
 *    doorbell: it reads without a group, so it changes no pending list). The ids were taken before
 *    the group reads, so an entry added after a group's read is newer than them and ends the wait.
 *
 * A change of ownership, a new group, or room freed for a group that had none ends the wait
 * (CLIENT UNBLOCK). On Cluster (partitions on different nodes, no multi-key wait) the groups poll
 * every partition without blocking: at once again while entries come, then after 50 ms, and after
 * each poll that found nothing twice as long, up to a quarter of `blockMs` (500 ms by default), so
 * an idle bus costs a few reads per partition a second instead of twenty; a publish from this
 * process, a change of ownership or room freed ends the pause at once.
 */
import { WakeableDelay } from '@woodwork/bus-core';
import { connectClient, createClient, isConnectionError, type RedisClient } from './connection.js';
import { eventsKey, type Layout } from './keys.js';
import type { ResolvedRedisBusOptions } from './options.js';
import type { PartitionReader, ReadSpec } from './partition-reader.js';
import { isNoGroup } from './stream-replies.js';

const IDLE_WAIT_MS = 200;
/** Cluster: the first pause after a poll that found nothing; each further empty poll doubles it. */
const CLUSTER_IDLE_POLL_MS = 50;
/** Cluster: the longest pause between idle polls, at most this share of `blockMs`. */
const CLUSTER_IDLE_POLL_MAX_SHARE = 0.25;
/** A read without an answer this long (beyond its blocking time) means a dead connection. */
const POLL_GUARD_MS = 15_000;
/** Idle poll period of several groups when the server refuses the doorbell's commands. */
const DOORBELL_OFF_POLL_MS = 50;

/**
 * The last id each stream generated (`0-0` when it does not exist): where the doorbell's wait
 * starts. XINFO STREAM, not XREVRANGE: the ACL rules of a tenant (redisAclRules) allow it.
 */
const LAST_IDS = `
local out = {}
for i, key in ipairs(KEYS) do
  local info = redis.pcall('XINFO', 'STREAM', key)
  out[i] = '0-0'
  if type(info) == 'table' and not info.err then
    for j = 1, #info, 2 do
      if info[j] == 'last-generated-id' then out[i] = info[j + 1] end
    end
  end
end
return out
`;

export interface ReadLoopHost {
  /** The command connection (CLIENT UNBLOCK goes on it). */
  client: RedisClient;
  layout: Layout;
  options: ResolvedRedisBusOptions;
}

export class ReadLoop {
  private readonly readers = new Set<PartitionReader>();
  /** Groups left out of the last poll for lack of room: room freed for one ends the wait. */
  private readonly starved = new Set<PartitionReader>();
  private conn: RedisClient | undefined;
  private connId: number | undefined;
  private running: Promise<void> | undefined;
  /** The poll on its way (its groups' entries not yet handed over). */
  private polling: Promise<unknown> | undefined;
  private stopped = false;
  private blocked = false;
  /** The server refused the doorbell's commands: poll instead. */
  private doorbellOff = false;
  private readonly delay = new WakeableDelay();
  /** The last read failed: the loop is in its backoff (a reconnect ends it). */
  private failing = false;
  /** Times the reader's connection became ready; and that count at the last failed read. */
  private reconnects = 0;
  private reconnectsAtFailure = 0;
  /** Cluster: polls in a row that found nothing (the idle pause grows with them). */
  private emptyPolls = 0;

  constructor(private readonly host: ReadLoopHost) {}

  /** Reads for `reader` from now on. */
  add(reader: PartitionReader): void {
    if (this.stopped) return;
    this.readers.add(reader);
    this.running ??= this.loop().catch((error: unknown) => this.host.options.logger.error('read loop stopped', { error: String(error) }));
    this.interrupt();
  }

  /** Reads nothing more for `reader`; resolves once no read of it is on its way. */
  async remove(reader: PartitionReader): Promise<void> {
    this.readers.delete(reader);
    this.starved.delete(reader);
    // A blocking read of its partitions ends now (CLIENT UNBLOCK, on the command connection: before
    // the releases of its leases that follow on it).
    if (reader.busyAny()) this.interrupt();
    while (reader.busyAny()) {
      const polling = this.polling;
      if (!polling) break;
      await polling.catch(() => undefined);
      // Never spin on a settled promise: give the loop a turn to clear it.
      if (this.polling === polling) await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Room freed in `reader`'s group: look again now. */
  roomFreed(reader: PartitionReader): void {
    if (this.starved.has(reader)) this.interrupt();
    else this.delay.wake();
  }

  /**
   * This process published: on Cluster, where the loop pauses between polls, look again now (a
   * blocking wait on one server already ends with the new entry).
   */
  published(): void {
    if (this.host.options.cluster && this.emptyPolls > 0) {
      this.emptyPolls = 0;
      this.delay.wake();
    }
  }

  /** Look again now, ending a wait (ownership changed, a group joined). */
  interrupt(): void {
    this.delay.wake();
    if (this.blocked && this.connId !== undefined && !this.host.options.cluster) {
      this.blocked = false;
      void this.host.client.client('UNBLOCK', this.connId).catch(() => undefined);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.interrupt();
    this.conn?.disconnect();
    await this.running;
  }

  private async connection(): Promise<RedisClient> {
    if (this.conn) return this.conn;
    const { options } = this.host;
    const conn = createClient(options, `woodwork-reader ${this.host.layout.prefix}`);
    conn.on('error', () => undefined);
    if (!options.cluster) {
      conn.on('ready', () => {
        void (conn as unknown as { client(sub: 'ID'): Promise<number> }).client('ID').then((id) => (this.connId = Number(id)), () => undefined);
      });
    }
    // Back after a failure: read again now, not at the end of the loop's backoff.
    conn.on('ready', () => {
      this.reconnects++;
      if (this.failing) this.delay.wake();
    });
    try {
      await connectClient(conn, options);
    } catch (error) {
      // connectClient gave the client up: the next round makes a new one.
      conn.removeAllListeners('ready');
      throw error;
    }
    this.conn = conn;
    return conn;
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        const conn = await this.connection();
        for (const reader of [...this.readers]) await reader.prepare();
        const specs = this.specs();
        if (specs.length === 0) {
          await this.delay.sleep(IDLE_WAIT_MS);
          continue;
        }
        if (this.host.options.cluster) {
          if ((await this.track(this.guarded(conn, this.pollEach(conn, specs), POLL_GUARD_MS))) > 0) this.emptyPolls = 0;
          else await this.delay.sleep(this.clusterIdlePauseMs(++this.emptyPolls));
        } else if (specs.length === 1) {
          const [{ reader, spec }] = specs as [{ reader: PartitionReader; spec: ReadSpec }];
          await this.track(this.guarded(conn, this.readBlocking(conn, reader, spec), spec.blockMs + POLL_GUARD_MS));
        } else {
          const { got, ids, keys } = await this.track(this.guarded(conn, this.poll(conn, specs), POLL_GUARD_MS));
          if (got > 0 || this.stopped) continue;
          if (ids === undefined) await this.delay.sleep(DOORBELL_OFF_POLL_MS);
          else await this.guarded(conn, this.waitForEntries(conn, keys, ids), this.host.options.blockMs + POLL_GUARD_MS);
        }
        failures = 0;
        this.failing = false;
      } catch (error) {
        this.blocked = false;
        if (this.stopped) return;
        failures++;
        for (const reader of this.readers) reader.readFailed();
        if (failures === 1 || failures % 20 === 0) this.host.options.logger.warn('read failed; retrying', { error: String((error as Error)?.message ?? error) });
        this.failing = true;
        // The first failure after a reconnect (a read sent in the moment the connection came back)
        // waits only a little: the server is back. Otherwise the backoff grows to 1 s.
        const justReconnected = this.reconnects !== this.reconnectsAtFailure;
        this.reconnectsAtFailure = this.reconnects;
        await this.delay.sleep(justReconnected && failures > 1 ? 25 : Math.min(1_000, 25 * 2 ** Math.min(failures, 6)));
      }
    }
    // A connection made while stop() ran.
    this.conn?.disconnect();
  }

  /** Cluster: the pause after the `empty`-th poll in a row that found nothing. */
  private clusterIdlePauseMs(empty: number): number {
    const max = Math.max(CLUSTER_IDLE_POLL_MS, Math.floor(this.host.options.blockMs * CLUSTER_IDLE_POLL_MAX_SHARE));
    return Math.min(max, CLUSTER_IDLE_POLL_MS * 2 ** Math.min(empty - 1, 10));
  }

  /**
   * A read that got no answer long after it should have (a connection that died without a word):
   * the connection is dropped and made again; the groups re-claim what a lost reply handed them.
   */
  private async guarded<T>(conn: RedisClient, read: Promise<T>, limitMs: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.host.options.logger.warn('a read got no answer; reconnecting the reader', { limitMs });
        if (this.conn === conn) this.conn = undefined;
        conn.disconnect();
        reject(new Error(`read got no answer within ${limitMs} ms`));
      }, limitMs);
    });
    try {
      return await Promise.race([read, stalled]);
    } finally {
      clearTimeout(timer);
      read.catch(() => undefined);
    }
  }

  /** The poll on its way, until its entries are handed over (what `remove` waits for). */
  private async track<T>(poll: Promise<T>): Promise<T> {
    this.polling = poll;
    try {
      return await poll;
    } finally {
      if (this.polling === poll) this.polling = undefined;
    }
  }

  private specs(): Array<{ reader: PartitionReader; spec: ReadSpec }> {
    const out: Array<{ reader: PartitionReader; spec: ReadSpec }> = [];
    const now = Date.now();
    this.starved.clear();
    for (const reader of this.readers) {
      const spec = reader.readSpec(now);
      if (spec === 'no-room') this.starved.add(reader);
      else if (spec !== undefined) out.push({ reader, spec });
    }
    return out;
  }

  /** Step 3: the partitions' last ids, then every group's new entries, in one pipeline. */
  private async poll(conn: RedisClient, specs: Array<{ reader: PartitionReader; spec: ReadSpec }>): Promise<{ got: number; ids: string[] | undefined; keys: string[] }> {
    const parts = [...new Set(specs.flatMap(({ spec }) => spec.parts))].sort((a, b) => a - b);
    const keys = parts.map((n) => eventsKey(this.host.layout, n));
    const pipeline = conn.pipeline();
    pipeline.eval(LAST_IDS, keys.length, ...keys);
    for (const { reader, spec } of specs) {
      const streams = spec.parts.map((n) => eventsKey(this.host.layout, n));
      pipeline.xreadgroup('GROUP', reader.groupKey, reader.consumer, 'COUNT', spec.count, 'STREAMS', ...streams, ...streams.map(() => '>'));
    }
    for (const { reader, spec } of specs) reader.markBusy(spec.parts);
    let got = 0;
    try {
      const results = (await pipeline.exec()) ?? [];
      const [idsError, idsReply] = results[0] ?? [new Error('no reply'), undefined];
      for (const [i, { reader }] of specs.entries()) {
        const [error, reply] = results[i + 1] ?? [new Error('no reply'), undefined];
        if (!error) got += reader.deliver(reply);
        else if (isNoGroup(error)) await reader.recreate().catch(() => undefined);
        else throw error;
      }
      if (idsError) return { got, ids: this.doorbellRefused(idsError), keys };
      return { got, ids: (idsReply as unknown[]).map(String), keys };
    } finally {
      for (const { reader } of specs) reader.markBusy([]);
    }
  }

  /** Step 2: one group's blocking read (its partitions cannot be released while it waits). */
  private async readBlocking(conn: RedisClient, reader: PartitionReader, spec: ReadSpec): Promise<number> {
    const streams = spec.parts.map((n) => eventsKey(this.host.layout, n));
    reader.markBusy(spec.parts);
    this.blocked = true;
    try {
      const reply = await conn.xreadgroup('GROUP', reader.groupKey, reader.consumer, 'COUNT', spec.count, 'BLOCK', spec.blockMs, 'STREAMS', ...streams, ...streams.map(() => '>'));
      this.blocked = false;
      return reader.deliver(reply);
    } catch (error) {
      if (!isNoGroup(error)) throw error;
      this.blocked = false;
      await reader.recreate().catch(() => undefined);
      return 0;
    } finally {
      this.blocked = false;
      reader.markBusy([]);
    }
  }

  /**
   * The doorbell's commands refused by the server (an ACL without XINFO or XREAD, say): the groups'
   * reads went through, so they are not failed (that would re-claim what they hold); the loop polls
   * every 50 ms instead, and says so once. A connection error is a read failure as usual.
   */
  private doorbellRefused(error: unknown): undefined {
    if (isConnectionError(error)) throw error;
    if (!this.doorbellOff) {
      this.doorbellOff = true;
      this.host.options.logger.warn('the wait for new entries was refused: polling every 50 ms instead', { error: String((error as Error)?.message ?? error) });
    }
    return undefined;
  }

  /** Step 3: waits until one of the partitions holds an entry after `ids` (or blockMs passed). */
  private async waitForEntries(conn: RedisClient, keys: string[], ids: string[]): Promise<void> {
    if (this.doorbellOff) {
      await this.delay.sleep(DOORBELL_OFF_POLL_MS);
      return;
    }
    this.blocked = true;
    try {
      await conn.xread('COUNT', 1, 'BLOCK', this.host.options.blockMs, 'STREAMS', ...keys, ...ids);
    } catch (error) {
      this.doorbellRefused(error);
    } finally {
      this.blocked = false;
    }
  }

  /** Cluster: one non-blocking read per group and partition (keys of different slots). */
  private async pollEach(conn: RedisClient, specs: Array<{ reader: PartitionReader; spec: ReadSpec }>): Promise<number> {
    let got = 0;
    for (const { reader, spec } of specs) {
      reader.markBusy(spec.parts);
      try {
        const replies = await Promise.all(
          spec.parts.map((n) => conn.xreadgroup('GROUP', reader.groupKey, reader.consumer, 'COUNT', spec.count, 'STREAMS', eventsKey(this.host.layout, n), '>').catch((error: unknown) => error)),
        );
        const failed = replies.find((r) => r instanceof Error);
        if (failed && isNoGroup(failed)) {
          await reader.recreate().catch(() => undefined);
          continue;
        }
        if (failed) throw failed;
        // One delivery for all of them: entries go to the lanes oldest first across partitions.
        got += reader.deliver(replies.flatMap((reply) => (Array.isArray(reply) ? reply : [])));
      } finally {
        reader.markBusy([]);
      }
    }
    return got;
  }
}
