/**
 * Across instances and processes (backends with `crossProcess`): consumers in two or three processes
 * share one durable group; a consumer killed with a live peer attached; a handler running longer
 * than the claim idle time; dead letters, dedupe, redrive and a target's waiting messages seen from
 * another instance. Consumers run in child processes (`child-consumer.ts`) on the shared server,
 * each test under its own prefix.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { MessageEnvelope } from '@woodwork/bus-core';
import type { BusHarness } from '../harness.js';
import type { ChildEvent } from '../child-consumer.js';
import { startConsumerProcess, type ConsumerProcess } from '../child-process.js';
import { FAST_RETRY, Ledger, message, quietAfterSentinel, quietPeriod, randomName, useBuses, waitFor } from '../support.js';

const CROSS_TEST_TIMEOUT_MS = 180_000;

/** Starts of each message, per session, in the order they happened (by `at`, then arrival). */
function startsBySession(events: Array<ChildEvent & { proc: number }>): Map<string, Array<ChildEvent & { proc: number }>> {
  const out = new Map<string, Array<ChildEvent & { proc: number }>>();
  for (const e of events) {
    if (e.ev !== 'start') continue;
    const list = out.get(e.session!) ?? [];
    list.push(e);
    out.set(e.session!, list);
  }
  for (const list of out.values()) list.sort((a, b) => a.at! - b.at!);
  return out;
}

/** Events of several processes in the order they happened (`at`; a stable sort keeps ties in arrival order). */
function byTime<E extends ChildEvent>(events: E[]): E[] {
  return [...events].sort((a, b) => (a.at ?? 0) - (b.at ?? 0));
}

/** Pairs of attempts of one session whose [start, end] overlap in time, across all processes. */
function sessionOverlaps(events: Array<ChildEvent & { proc: number }>): string[] {
  const spans = new Map<string, Array<{ id: string; from: number; to: number }>>();
  const open = new Map<string, number>();
  for (const e of events) {
    const key = `${e.proc}/${e.id}/${e.attempt}`;
    if (e.ev === 'start') open.set(key, e.at!);
    else if (e.ev === 'done' || e.ev === 'fail') {
      const from = open.get(key);
      if (from === undefined) continue;
      const list = spans.get(e.session!) ?? [];
      list.push({ id: e.id!, from, to: e.at! });
      spans.set(e.session!, list);
    }
  }
  const overlaps: string[] = [];
  for (const [session, list] of spans) {
    list.sort((a, b) => a.from - b.from);
    for (let i = 1; i < list.length; i++) if (list[i]!.from < list[i - 1]!.to) overlaps.push(`${session}: ${list[i - 1]!.id} / ${list[i]!.id}`);
  }
  return overlaps;
}

export function crossInstanceSuite(harness: BusHarness): void {
  const buses = useBuses(harness);
  const skip = !harness.features.crossProcess;
  const children: ConsumerProcess[] = [];
  const folders: string[] = [];
  afterEach(async () => {
    await Promise.allSettled(children.splice(0).map((c) => c.kill()));
    for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
  });
  const spawnConsumers = async (n: number, options: Record<string, unknown>, eventType: string, componentId: string) => {
    const started: ConsumerProcess[] = [];
    for (let i = 0; i < n; i++) {
      const child = startConsumerProcess(harness, options, [{ eventType, options: { componentId, handlerTimeoutMs: 60_000 } }]);
      children.push(child);
      started.push(child);
    }
    for (const child of started) await child.waitForEvent((e) => e.ev === 'ready', 'a child consumer to be ready', 60_000);
    return started;
  };
  // In time order (each process's own order kept for equal times): a session's messages may move
  // to another process when one dies or a group rebalances, so process order is not publish order.
  const allEvents = (procs: ConsumerProcess[]) =>
    procs.flatMap((p, proc) => p.events.map((e) => ({ ...e, proc }))).sort((a, b) => (a.at ?? 0) - (b.at ?? 0));

  describe('across instances and processes', () => {
    it.skipIf(skip)(
      'three processes share one durable group: order per session, one at a time, every acknowledged publish, no duplicate, every process gets work',
      async () => {
        const streamPrefix = randomName('x3');
        const component = randomName('shared');
        const procs = await spawnConsumers(3, { streamPrefix, retry: FAST_RETRY }, 'x.work', component);
        const publisher = await buses.make({ streamPrefix });
        const ledger = new Ledger();
        const sessions = 20;
        for (let i = 0; i < 300; i++) await ledger.publish(publisher, message({ sessionId: `s${i % sessions}`, eventType: 'x.work', payload: { i, workMs: 2 } }));
        const done = () => new Set(allEvents(procs).filter((e) => e.ev === 'done').map((e) => e.id));
        await waitFor(() => done().size === 300, 'every message handled', 120_000);
        const sentinel = message({ sessionId: 's0', eventType: 'x.work', payload: {} });
        await quietAfterSentinel(harness, () => ledger.publish(publisher, sentinel), () => done().has(sentinel.messageId));
        const events = allEvents(procs);
        const byId = new Map(ledger.published.map((e) => [e.messageId, e]));
        // In the order they happened across processes (a session may move between them).
        for (const e of byTime(events)) if (e.ev === 'start') ledger.record(byId.get(e.id!) ?? ({ messageId: e.id, sessionId: e.session } as MessageEnvelope));
        const result = ledger.check();
        expect(result.missing).toEqual([]);
        expect(result.unexpected).toEqual([]);
        expect(result.duplicates).toBe(0);
        expect(result.outOfOrder).toEqual([]);
        expect(sessionOverlaps(events)).toEqual([]);
        for (const [i, p] of procs.entries()) expect(p.events.filter((e) => e.ev === 'done').length, `process ${i} got work`).toBeGreaterThan(0);
      },
      CROSS_TEST_TIMEOUT_MS,
    );

    it.skipIf(skip)(
      "a consumer killed with a live peer attached: its held message is redelivered once, its session's later messages wait behind it, duplicates bounded by what was in flight",
      async () => {
        const streamPrefix = randomName('xk');
        const component = randomName('pair');
        const options = { streamPrefix, retry: FAST_RETRY, ...harness.fastRecoveryOptions };
        const procs = await spawnConsumers(2, options, 'xk.work', component);
        const publisher = await buses.make({ streamPrefix });
        const folder = mkdtempSync(join(tmpdir(), 'woodwork-xk-'));
        folders.push(folder);
        const ledger = new Ledger();
        const held = message({ sessionId: 'victim', eventType: 'xk.work', payload: { hangOnce: join(folder, 'held') } });
        await ledger.publish(publisher, held);
        const heldStart = await waitFor(() => allEvents(procs).some((e) => e.ev === 'start' && e.id === held.messageId), 'the held message to start', 30_000).then(
          () => allEvents(procs).find((e) => e.ev === 'start' && e.id === held.messageId)!,
        );
        const victim = procs[heldStart.proc]!;
        const peer = procs[1 - heldStart.proc]!;
        for (let i = 0; i < 200; i++) await ledger.publish(publisher, message({ sessionId: i % 10 === 0 ? 'victim' : `s${i % 10}`, eventType: 'xk.work', payload: { i, workMs: 1 } }));
        await waitFor(() => peer.events.filter((e) => e.ev === 'done').length >= 20, 'the peer to make progress', 60_000);
        const inFlight = (() => {
          const started = new Set(victim.events.filter((e) => e.ev === 'start').map((e) => e.id));
          for (const e of victim.events) if (e.ev === 'done') started.delete(e.id);
          return started.size;
        })();
        expect(victim.events.some((e) => e.ev === 'start' && e.session === 'victim' && e.id !== held.messageId)).toBe(false);
        await victim.kill();
        // What the server had not been told was done when the victim died: a handler that printed
        // "done" just before the kill may not have been acknowledged yet, and runs again elsewhere.
        const group = (await publisher.healthCheck()).groups.find((g) => g.componentId === component);
        const unacknowledgedAtKill = group?.pending ?? 0;
        const after = [0, 1, 2].map((i) => message({ sessionId: 'victim', eventType: 'xk.work', payload: { after: i } }));
        for (const m of after) await ledger.publish(publisher, m);
        const doneIds = () => new Set(allEvents(procs).filter((e) => e.ev === 'done').map((e) => e.id));
        await waitFor(() => ledger.published.every((e) => doneIds().has(e.messageId)), 'every acknowledged publish handled', 120_000);
        await quietPeriod(harness);
        const peerStarts = peer.events.filter((e) => e.ev === 'start');
        expect(peerStarts.filter((e) => e.id === held.messageId)).toHaveLength(1);
        const victimSession = startsBySession(allEvents([peer])).get('victim')!.map((e) => e.id);
        expect(victimSession[0]).toBe(held.messageId);
        const byId = new Map(ledger.published.map((e) => [e.messageId, e]));
        for (const e of byTime(allEvents(procs))) if (e.ev === 'done') ledger.record(byId.get(e.id!) ?? ({ messageId: e.id, sessionId: e.session } as MessageEnvelope));
        const result = ledger.check();
        expect(result.missing).toEqual([]);
        expect(result.unexpected).toEqual([]);
        expect(result.outOfOrder).toEqual([]);
        // Only what the victim had started and not got acknowledged can run twice.
        expect(result.duplicates).toBeLessThanOrEqual(Math.max(inFlight, unacknowledgedAtKill));
      },
      CROSS_TEST_TIMEOUT_MS,
    );

    it.skipIf(skip)(
      'a handler running longer than the claim idle time runs exactly once, nothing of its session overtaking it',
      async () => {
        const streamPrefix = randomName('xl');
        const component = randomName('long');
        const workMs = 3 * (harness.recoveryIdleMs ?? 1_000);
        const procs = await spawnConsumers(2, { streamPrefix, retry: FAST_RETRY, ...harness.fastRecoveryOptions }, 'xl.work', component);
        const publisher = await buses.make({ streamPrefix });
        const long = message({ sessionId: 'long', eventType: 'xl.work', payload: { workMs } });
        const behind = [0, 1, 2].map((i) => message({ sessionId: 'long', eventType: 'xl.work', payload: { i } }));
        await publisher.publish(long);
        for (const m of behind) await publisher.publish(m);
        const done = () => allEvents(procs).filter((e) => e.ev === 'done');
        await waitFor(() => behind.every((m) => done().some((e) => e.id === m.messageId)), 'the session to finish', workMs * 5 + 30_000);
        await quietPeriod(harness);
        const events = allEvents(procs);
        expect(events.filter((e) => e.ev === 'start' && e.id === long.messageId)).toHaveLength(1);
        const longDone = events.find((e) => e.ev === 'done' && e.id === long.messageId)!;
        for (const m of behind) {
          const starts = events.filter((e) => e.ev === 'start' && e.id === m.messageId);
          expect(starts).toHaveLength(1);
          expect(starts[0]!.at!).toBeGreaterThanOrEqual(longDone.at!);
        }
      },
      CROSS_TEST_TIMEOUT_MS,
    );

    it.skipIf(skip)("dead letters, dedupe, redrive and a target's waiting messages are seen from another instance", async () => {
      const streamPrefix = randomName('xs');
      const one = await buses.make({ streamPrefix });
      const two = await buses.make({ streamPrefix });
      const component = randomName('fixer');
      let broken = true;
      const got: string[] = [];
      await one.subscribe('xs.work', (e) => {
        if (broken) throw new Error('down');
        got.push(e.messageId);
      }, { componentId: component });
      const m = message({ sessionId: 's', eventType: 'xs.work', maxRetries: 0, deliveryMode: 'exactly_once' });
      await expect(one.publish(m)).resolves.toMatchObject({ duplicate: false });
      await expect(two.publish(m)).resolves.toMatchObject({ duplicate: true });
      await waitFor(async () => (await two.getDeadLetterMessages()).length === 1, 'the dead letter, seen from the other instance', 30_000);
      broken = false;
      expect((await two.redriveDeadLetters()).redriven).toHaveLength(1);
      await waitFor(() => got.includes(m.messageId), 'the message redriven from the other instance', 30_000);
      expect(await one.getDeadLetterMessages()).toEqual([]);

      const target = randomName('late');
      const waiting = [0, 1].map((i) => message({ sessionId: 'w', eventType: 'xs.task', pattern: 'point_to_point', componentTarget: target, payload: { i } }));
      for (const w of waiting) await one.publish(w);
      const late: string[] = [];
      await two.subscribe('*', (e) => void late.push(e.messageId), { componentId: target, targetedOnly: true });
      await waitFor(() => late.length === 2, "the target's waiting messages on the other instance", 30_000);
      expect(late).toEqual(waiting.map((w) => w.messageId));
    }, CROSS_TEST_TIMEOUT_MS);

    it.skipIf(skip)('two instances redriving the same records at once send each once', async () => {
      const streamPrefix = randomName('xr');
      const one = await buses.make({ streamPrefix });
      const two = await buses.make({ streamPrefix });
      let broken = true;
      const got: string[] = [];
      await one.subscribe('xr.work', (e) => {
        if (broken) throw new Error('down');
        got.push(e.messageId);
      }, { componentId: randomName('c') });
      const sent = [0, 1, 2, 3, 4].map((i) => message({ sessionId: `s${i}`, eventType: 'xr.work', maxRetries: 0 }));
      for (const s of sent) await one.publish(s);
      await waitFor(async () => (await one.getDeadLetterMessages()).length === 5, 'five dead letters', 30_000);
      broken = false;
      const [a, b] = await Promise.all([one.redriveDeadLetters(), two.redriveDeadLetters()]);
      expect(a.redriven.length + b.redriven.length).toBe(5);
      expect(new Set([...a.redriven, ...b.redriven]).size).toBe(5);
      await waitFor(() => got.length >= 5, 'five redriven deliveries', 30_000);
      const sentinel = message({ sessionId: 's0', eventType: 'xr.work' });
      await quietAfterSentinel(harness, () => one.publish(sentinel), () => got.includes(sentinel.messageId));
      expect(got.filter((id) => id !== sentinel.messageId).sort()).toEqual(sent.map((s) => s.messageId).sort());
    }, CROSS_TEST_TIMEOUT_MS);
  });
}
