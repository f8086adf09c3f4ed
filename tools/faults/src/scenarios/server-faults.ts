/**
 * Server faults on the harness's own server: kill -9 and restart on the same data, a restart with
 * the data gone, SIGSTOP for 10 s, down for 60 s. One consumer group records every delivery; the
 * publisher keeps publishing (paced) through the fault, tolerating rejections.
 */
import type { MessageBus } from '@woodwork/bus-core';
import { Ledger } from '@woodwork/bus-conformance/ledger';
import { countDeadLetters, duplicatesStored, envelope, publishTolerant, recovery, sleep, type ScenarioContext, type ScenarioOutcome } from '../context.js';

const EVENT = 'faults.server';
const SESSIONS = 20;

interface ServerFault {
  /** Runs the fault; resolves when the server is back (the end of the fault). */
  run(ctx: ScenarioContext, at: { killedAt?: number }): Promise<void>;
  wipe?: boolean;
}

async function underServerFault(ctx: ScenarioContext, fault: ServerFault): Promise<ScenarioOutcome> {
  const server = ctx.server;
  if (!server) throw new Error(`${ctx.harness.name} has no server of its own: server scenarios do not apply`);
  const ledger = new Ledger();
  const bus = await ctx.makeBus({ publishTimeoutMs: 2_000 });
  const consumer = await ctx.makeBus();
  await consumer.subscribe(EVENT, (e) => ledger.record(e), { componentId: 'faults-consumer', concurrency: 16 });
  const ackAt = new Map<string, number>();
  let i = 0;
  const publishOne = async (target: MessageBus) => {
    const m = envelope(`s${i % SESSIONS}`, EVENT, { i: i++ });
    if (await publishTolerant(ledger, target, m)) ackAt.set(m.messageId, Date.now());
  };
  const before = ctx.short ? 100 : 1_000;
  const after = ctx.short ? 100 : 1_000;
  for (let n = 0; n < before; n++) await publishOne(bus);
  // A wipe loses what the consumer had not taken yet, by definition. Let it catch up first (on a
  // busy machine it lags), so the scenario measures what it is for: publishing and consuming
  // through the wipe and after it. Whatever is still untaken at the kill is counted as serverLost.
  if (fault.wipe) await caughtUp(ledger, ackAt, ctx.short ? 60_000 : 180_000);

  const at: { killedAt?: number } = {};
  let faultDone = false;
  const deliveredBeforeFault = new Set<string>();
  const faulting = (async () => {
    // What the consumer had when the data went away: the rest of what was acknowledged is the
    // server's loss on a wipe.
    for (const e of ledger.delivered) deliveredBeforeFault.add(e.messageId);
    await fault.run(ctx, at);
    faultDone = true;
  })();
  // Publishers keep publishing through the fault, paced so the publishes span it.
  while (!faultDone) {
    await publishOne(bus);
    await sleep(20);
  }
  await faulting;
  const faultEndedAt = Date.now();
  for (let n = 0; n < after; n++) await publishOne(bus);

  let serverLost: Set<string> | undefined;
  if (fault.wipe) {
    serverLost = new Set([...ackAt.keys()].filter((id) => (ackAt.get(id) ?? 0) <= (at.killedAt ?? 0) && !deliveredBeforeFault.has(id)));
  } else if (at.killedAt !== undefined && (ctx.harness.serverLossWindowMs ?? 0) > 0) {
    const from = at.killedAt - (ctx.harness.serverLossWindowMs ?? 0);
    serverLost = new Set([...ackAt.keys()].filter((id) => {
      const t = ackAt.get(id) ?? 0;
      return t >= from && t <= (at.killedAt ?? 0);
    }));
  }
  const recoveryMs = await recoveryIgnoring(ledger, faultEndedAt, ctx.short ? 60_000 : 180_000, serverLost);
  return {
    ledger,
    deadLetters: await countDeadLetters(consumer),
    recoveryMs,
    ...(serverLost ? { serverLost } : {}),
    duplicatesStored: await duplicatesStored(ctx),
  };
}

/** Waits (bounded) until every acknowledged publish so far has been delivered at least once. */
async function caughtUp(ledger: Ledger, acknowledged: ReadonlyMap<string, number>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const delivered = new Set<string>();
    for (const e of ledger.delivered) delivered.add(e.messageId);
    if ([...acknowledged.keys()].every((id) => delivered.has(id))) return;
    await sleep(20);
  }
}

/** Recovery counted on what the server did not lose itself. */
async function recoveryIgnoring(ledger: Ledger, since: number, timeoutMs: number, serverLost: ReadonlySet<string> | undefined): Promise<number | null> {
  if (!serverLost || serverLost.size === 0) return recovery(ledger, since, timeoutMs);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (ledger.check({ serverLost }).missing.length === 0) return Date.now() - since;
    await sleep(10);
  }
  return null;
}

export function serverKill9(ctx: ScenarioContext): Promise<ScenarioOutcome> {
  return underServerFault(ctx, {
    async run(c, at) {
      at.killedAt = Date.now();
      await c.server!.kill('SIGKILL');
      await c.server!.start();
    },
  });
}

export function serverWiped(ctx: ScenarioContext): Promise<ScenarioOutcome> {
  return underServerFault(ctx, {
    wipe: true,
    async run(c, at) {
      at.killedAt = Date.now();
      await c.server!.kill('SIGKILL');
      await c.server!.start({ wipe: true });
    },
  });
}

export function serverPaused(ctx: ScenarioContext): Promise<ScenarioOutcome> {
  return underServerFault(ctx, {
    async run(c) {
      await c.server!.pause();
      await sleep(c.short ? 2_000 : 10_000);
      await c.server!.resume();
    },
  });
}

export function serverDown(ctx: ScenarioContext): Promise<ScenarioOutcome> {
  return underServerFault(ctx, {
    async run(c) {
      await c.server!.kill('SIGTERM');
      await sleep(c.short ? 5_000 : 60_000);
      await c.server!.start();
    },
  });
}
