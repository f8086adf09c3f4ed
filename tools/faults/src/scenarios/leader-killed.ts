/**
 * `leader-killed`: a local 3-node cluster of the harness's own (`ownCluster`), storage with 3
 * replicas; the node leading the prefix's storage is SIGKILLed while publishing and consuming go on,
 * and started again once another node leads. The long form does it twice (two elections), the short
 * form once. Publishes rejected during an election are not acknowledged; every acknowledged one must
 * be delivered, in order per session.
 */
import type { MessageBus } from '@woodwork/bus-core';
import { Ledger } from '@woodwork/bus-conformance/ledger';
import { countDeadLetters, duplicatesStored, envelope, publishTolerant, recovery, sleep, waitUntil, type ScenarioContext, type ScenarioOutcome } from '../context.js';

const EVENT = 'faults.cluster';
const SESSIONS = 20;

export async function leaderKilled(ctx: ScenarioContext): Promise<ScenarioOutcome> {
  if (!ctx.harness.ownCluster) throw new Error(`${ctx.harness.name} gives no ownCluster(): leader-killed does not apply`);
  const cluster = await ctx.harness.ownCluster();
  const buses: MessageBus[] = [];
  try {
    const extra = { ...cluster.busOptions, publishTimeoutMs: 10_000 };
    // The cluster elects its JetStream meta leader first: connects fail until then.
    let publisher: MessageBus | undefined;
    const connected = await waitUntil(async () => {
      publisher = await ctx.makeBus(extra).catch(() => undefined);
      if (publisher) buses.push(publisher);
      else await sleep(250);
      return publisher !== undefined;
    }, 90_000);
    if (!connected || !publisher) throw new Error('JetStream on the cluster never answered');
    const consumer = await ctx.makeBus(extra);
    buses.push(consumer);
    const ledger = new Ledger();
    await consumer.subscribe(EVENT, (e) => ledger.record(e), { componentId: 'faults-consumer', concurrency: 16 });
    let i = 0;
    const publishOne = async () => void (await publishTolerant(ledger, publisher!, envelope(`s${i % SESSIONS}`, EVENT, { i: i++ })));
    const perPhase = ctx.short ? 100 : 1_000;
    const elections = ctx.short ? 1 : 2;
    for (let n = 0; n < perPhase; n++) await publishOne();
    let faultEndedAt = Date.now();
    for (let e = 0; e < elections; e++) {
      let done = false;
      const killing = (async () => {
        const killed = await cluster.killLeader({ ...ctx.busOptions, ...extra });
        ctx.log(`leader-killed: killed ${killed}; another node leads`);
        await cluster.restartKilled();
        done = true;
      })();
      // Publishing goes on, paced, while the leader dies and another is elected.
      while (!done) {
        await publishOne();
        await sleep(10);
      }
      await killing;
      faultEndedAt = Date.now();
      for (let n = 0; n < perPhase; n++) await publishOne();
    }
    const recoveryMs = await recovery(ledger, faultEndedAt, ctx.short ? 90_000 : 180_000);
    return {
      ledger,
      deadLetters: await countDeadLetters(consumer),
      recoveryMs,
      duplicatesStored: ctx.harness.countStoredCopies ? await duplicatesStored({ ...ctx, busOptions: { ...ctx.busOptions, ...extra } }) : null,
    };
  } finally {
    // The buses go first, while the cluster still answers (closing again later is a no-op).
    await Promise.allSettled(buses.map((b) => b.close()));
    await cluster.dispose().catch(() => undefined);
  }
}
