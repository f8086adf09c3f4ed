/**
 * Faults of the workload rather than the server: a group lagging while its stream is trimmed (or
 * its queue bounded), poison messages (a handler that always fails; an entry that cannot be
 * decoded), and one hot session among 10,000. A delivery is a handler that succeeded, or a poison
 * message's last attempt (delivered, then given up as a dead letter).
 */
import { Ledger } from '@woodwork/bus-conformance/ledger';
import { countDeadLetters, duplicatesStored, envelope, publishTolerant, recovery, sleep, type ScenarioContext, type ScenarioOutcome } from '../context.js';

export async function trimWhileLagging(ctx: ScenarioContext): Promise<ScenarioOutcome> {
  const bound = ctx.harness.boundedQueueOptions;
  if (!bound) throw new Error(`${ctx.harness.name} gives no boundedQueueOptions: trim-while-lagging does not apply`);
  const limit = ctx.short ? 50 : 500;
  // Publishes may wait for room while the group lags; they must not give up within the run.
  const bus = await ctx.makeBus({ ...bound(limit), publishTimeoutMs: 60_000 });
  const ledger = new Ledger();
  // About 400 messages a second at most: slower than the publishers, so it lags behind all along.
  await bus.subscribe('faults.lag', async (e) => {
    await sleep(5);
    ledger.record(e);
  }, { componentId: 'faults-laggard', concurrency: 2 });
  // A fast group beside it: trimming for the laggard must not cost the fast one anything either.
  const fast = new Ledger();
  await bus.subscribe('faults.lag', (e) => fast.record(e), { componentId: 'faults-fast' });
  const total = limit * 5;
  const publishers = Array.from({ length: 4 }, (_, p) =>
    (async () => {
      for (let i = p; i < total; i += 4) await publishTolerant(ledger, bus, envelope(`s${i % 40}`, 'faults.lag', { i }));
    })(),
  );
  await Promise.all(publishers);
  const lastPublishAt = Date.now();
  for (const e of ledger.published) fast.note(e, true);
  const notes: string[] = [];
  // Proof that trimming ran while the laggard lagged (a backend that counts what it stores):
  // entries gone from the server while acknowledged publishes were still waiting for the laggard.
  if (ctx.harness.countStoredCopies) {
    const stored = [...(await ctx.harness.countStoredCopies(ctx.busOptions)).values()].reduce((a, b) => a + b, 0);
    const waiting = ledger.published.length - ledger.distinctDelivered;
    notes.push(`while the laggard still had ${waiting} to handle, ${ledger.published.length - stored} of ${ledger.published.length} entries were already trimmed`);
  }
  const recoveryMs = await recovery(ledger, lastPublishAt, ctx.short ? 30_000 : 120_000);
  await recovery(fast, lastPublishAt, 10_000);
  const fastReport = fast.check();
  if (fastReport.missing.length > 0) notes.push(`the fast group missed ${fastReport.missing.length}`);
  return { ledger, deadLetters: await countDeadLetters(bus), recoveryMs, duplicatesStored: await duplicatesStored(ctx), notes };
}

export async function poisonMessage(ctx: ScenarioContext): Promise<ScenarioOutcome> {
  const bus = await ctx.makeBus();
  const ledger = new Ledger();
  const maxRetries = 2;
  await bus.subscribe('faults.poison', (e, { attempt }) => {
    if ((e.payload as { poison?: boolean }).poison) {
      // Delivered (in its session's order) on its last attempt, which then gives it up.
      if (attempt === maxRetries + 1) ledger.record(e);
      throw new Error('poison: this handler always fails');
    }
    ledger.record(e);
  }, { componentId: 'faults-poisoned' });
  const total = ctx.short ? 100 : 1_000;
  let poisoned = 0;
  for (let i = 0; i < total; i++) {
    const poison = i % 20 === 7;
    if (poison) poisoned++;
    await publishTolerant(ledger, bus, envelope(`s${i % 10}`, 'faults.poison', { i, poison }, { maxRetries }));
  }
  const notes: string[] = [];
  let undecodable = 0;
  if (ctx.harness.writeUndecodable) {
    await ctx.harness.writeUndecodable(ctx.busOptions, 'faults.poison');
    undecodable = 1;
  } else {
    notes.push('no undecodable entry: the backend has no wire to corrupt (writeUndecodable not given)');
  }
  const lastPublishAt = Date.now();
  let deadLetters = 0;
  const deadline = Date.now() + (ctx.short ? 30_000 : 120_000);
  while (Date.now() < deadline) {
    deadLetters = await countDeadLetters(bus);
    if (deadLetters >= poisoned + undecodable && ledger.distinctDelivered >= ledger.published.length - poisoned) break;
    await sleep(20);
  }
  const recoveryMs = await recovery(ledger, lastPublishAt, 1_000);
  if (deadLetters !== poisoned + undecodable) notes.push(`expected ${poisoned + undecodable} dead letters, found ${deadLetters}`);
  return { ledger, deadLetters, recoveryMs, duplicatesStored: await duplicatesStored(ctx), notes };
}

export async function hotSession(ctx: ScenarioContext): Promise<ScenarioOutcome> {
  const sessions = ctx.short ? 1_000 : 10_000;
  const hotShare = ctx.short ? 1_000 : 10_000;
  const bus = await ctx.makeBus({ concurrency: 64 });
  const ledger = new Ledger();
  await bus.subscribe('faults.hot', (e) => ledger.record(e), { componentId: 'faults-hot' });
  // Eight publishers; each owns whole sessions (so per-session publish order is defined), and the
  // hot session goes to the first, interleaved with its share of the cold ones.
  const workers = 8;
  const publishers = Array.from({ length: workers }, (_, w) =>
    (async () => {
      const cold: string[] = [];
      for (let s = w; s < sessions - 1; s += workers) cold.push(`s${s}`);
      const hot = w === 0 ? hotShare : 0;
      const rounds = Math.max(cold.length, hot);
      for (let r = 0; r < rounds; r++) {
        if (r < hot) await publishTolerant(ledger, bus, envelope('hot', 'faults.hot', { r }));
        if (r < cold.length) await publishTolerant(ledger, bus, envelope(cold[r]!, 'faults.hot', { r }));
      }
    })(),
  );
  await Promise.all(publishers);
  const lastPublishAt = Date.now();
  const recoveryMs = await recovery(ledger, lastPublishAt, ctx.short ? 60_000 : 300_000);
  return { ledger, deadLetters: await countDeadLetters(bus), recoveryMs, duplicatesStored: await duplicatesStored(ctx) };
}
