/**
 * A consumer process SIGKILLed mid-handler while a live peer shares its group (backends with
 * `crossProcess`). Two child consumers on the harness's own server; one message hangs in whichever
 * process takes it first, that process is killed, and the peer must take everything over.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MessageEnvelope } from '@woodwork/bus-core';
import { startConsumerProcess, type ConsumerProcess } from '@woodwork/bus-conformance/child-process';
import { Ledger } from '@woodwork/bus-conformance/ledger';
import { countDeadLetters, duplicatesStored, envelope, publishTolerant, waitUntil, type ScenarioContext, type ScenarioOutcome } from '../context.js';

const EVENT = 'faults.consumer';

export async function consumerKilled(ctx: ScenarioContext): Promise<ScenarioOutcome> {
  const { harness } = ctx;
  if (!harness.features.crossProcess) throw new Error(`${harness.name} has no crossProcess: consumer-killed does not apply`);
  const folder = mkdtempSync(join(tmpdir(), 'woodwork-faults-'));
  const options = { ...ctx.busOptions, ...harness.fastRecoveryOptions };
  const subscriptions = [{ eventType: EVENT, options: { componentId: 'faults-pair', handlerTimeoutMs: 60_000 } }];
  const procs: ConsumerProcess[] = [startConsumerProcess(harness, options, subscriptions), startConsumerProcess(harness, options, subscriptions)];
  try {
    for (const p of procs) await p.waitForEvent((e) => e.ev === 'ready', 'a consumer process to be ready', 60_000);
    const publisher = await ctx.makeBus();
    const ledger = new Ledger();
    const held = envelope('victim', EVENT, { hangOnce: join(folder, 'held') });
    await publishTolerant(ledger, publisher, held);
    await waitUntil(() => procs.some((p) => p.events.some((e) => e.ev === 'start' && e.id === held.messageId)), 30_000);
    const victim = procs.find((p) => p.events.some((e) => e.ev === 'start' && e.id === held.messageId));
    if (!victim) throw new Error('the held message never started');
    const total = ctx.short ? 100 : 500;
    for (let i = 0; i < total; i++) await publishTolerant(ledger, publisher, envelope(i % 10 === 0 ? 'victim' : `s${i % 10}`, EVENT, { i, workMs: 1 }));
    await waitUntil(() => procs.some((p) => p !== victim && p.events.filter((e) => e.ev === 'done').length >= total / 10), 60_000);
    await victim.kill();
    const killedAt = Date.now();
    for (let i = 0; i < total / 5; i++) await publishTolerant(ledger, publisher, envelope(i % 2 === 0 ? 'victim' : `s${i % 10}`, EVENT, { after: i }));

    // A delivery is a handler that finished ("done"), in whichever process. Recorded once, in time
    // order across the processes: a session's messages move to the peer when the victim dies, so
    // one process's events after another's would not be publish order.
    const doneIds = () => new Set(procs.flatMap((p) => p.events.filter((e) => e.ev === 'done').map((e) => e.id)));
    const recovered = await waitUntil(() => {
      const done = doneIds();
      return ledger.published.every((e) => done.has(e.messageId));
    }, ctx.short ? 60_000 : 180_000);
    const recoveryMs = recovered ? Date.now() - killedAt : null;
    // Late duplicates (a redelivery after the last one) get a moment to show up.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const byId = new Map(ledger.published.map((e) => [e.messageId, e]));
    const done = procs.flatMap((p) => p.events.filter((e) => e.ev === 'done')).sort((a, b) => (a.at ?? 0) - (b.at ?? 0));
    for (const e of done) ledger.record(byId.get(e.id!) ?? ({ messageId: e.id, sessionId: e.session } as MessageEnvelope));
    return { ledger, deadLetters: await countDeadLetters(publisher), recoveryMs, duplicatesStored: await duplicatesStored(ctx) };
  } finally {
    await Promise.allSettled(procs.map((p) => p.kill()));
    rmSync(folder, { recursive: true, force: true });
  }
}
