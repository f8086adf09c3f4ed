/**
 * Close and deleteSessionQueue, as the contract words them: close finishes within `closeTimeoutMs`
 * (plus slack), nothing runs after it (checked past the retry delay), a handler that succeeds during
 * close is acknowledged and one that fails is redelivered (persistent backends), private and
 * `durable: false` groups are gone as another bus sees it; deleting a session with a retry waiting
 * and a running handler leaves nothing running, retrying or dead-lettered, other sessions untouched.
 */
import { describe, expect, it } from 'vitest';
import type { MessageEnvelope } from '@woodwork/bus-core';
import type { BusHarness } from '../harness.js';
import { Ledger, gate, message, quietAfterSentinel, quietPeriod, randomName, upperBound, useBuses, waitFor } from '../support.js';

export function closeAndDeleteSuite(harness: BusHarness): void {
  const buses = useBuses(harness);
  const { features } = harness;

  describe('close and deleteSessionQueue', () => {
    it('close returns within closeTimeoutMs plus slack while a handler ignores its signal', async () => {
      const closeTimeoutMs = 300;
      const bus = await buses.make({ closeTimeoutMs });
      let started = false;
      await bus.subscribe('close.bound', () => {
        started = true;
        return new Promise<void>(() => undefined);
      }, { handlerTimeoutMs: 0 });
      await bus.publish(message({ sessionId: 's', eventType: 'close.bound' }));
      await waitFor(() => started, 'the stuck handler');
      const startedAt = performance.now();
      await bus.close();
      expect(performance.now() - startedAt).toBeLessThanOrEqual(upperBound(harness, closeTimeoutMs));
    });

    it('nothing runs after close, checked past the retry delay', async () => {
      const retryMs = 150;
      const bus = await buses.make({ retry: { initialDelayMs: retryMs, maxDelayMs: retryMs, multiplier: 1, jitter: 0 } });
      let runs = 0;
      await bus.subscribe('close.retry', () => {
        runs++;
        throw new Error('retry later');
      }, { componentId: randomName('c') });
      await bus.publish(message({ sessionId: 's', eventType: 'close.retry', maxRetries: 5 }));
      await waitFor(() => runs === 1, 'the first attempt');
      await bus.close();
      await quietPeriod(harness, retryMs * 3);
      expect(runs).toBe(1);
    });

    it.skipIf(!features.persistence)(
      'a handler that succeeds during close is not redelivered to the next instance; one that fails is redelivered, not dead-lettered',
      async () => {
        const streamPrefix = randomName('close');
        const component = randomName('closing');
        const first = await buses.make({ streamPrefix, closeTimeoutMs: 5_000 });
        const blocker = gate();
        const started = new Set<string>();
        await first.subscribe('close.handover', async (e) => {
          started.add(e.messageId);
          await blocker.promise;
          if ((e.payload as { fail: boolean }).fail) throw new Error('fails during close');
        }, { componentId: component });
        const ok = message({ sessionId: 'ok', eventType: 'close.handover', payload: { fail: false } });
        const failing = message({ sessionId: 'bad', eventType: 'close.handover', payload: { fail: true } });
        await first.publish(ok);
        await first.publish(failing);
        await waitFor(() => started.size === 2, 'both handlers to run');
        const closing = first.close();
        blocker.release();
        await closing;
        const second = await buses.make({ streamPrefix });
        const ledger = new Ledger();
        await second.subscribe('close.handover', (e) => ledger.record(e), { componentId: component });
        await waitFor(() => ledger.delivered.some((e) => e.messageId === failing.messageId), 'the failed one redelivered', 30_000);
        const sentinel = message({ sessionId: 'ok', eventType: 'close.handover', payload: { fail: false } });
        await quietAfterSentinel(harness, () => second.publish(sentinel), () => ledger.delivered.some((e) => e.messageId === sentinel.messageId));
        const ids = ledger.delivered.map((e) => e.messageId);
        expect(ids).not.toContain(ok.messageId);
        expect(ids.filter((id) => id === failing.messageId)).toHaveLength(1);
        expect(await second.getDeadLetterMessages()).toEqual([]);
      },
      60_000,
    );

    it.skipIf(!features.crossProcess)('after close, its private and durable: false groups are gone as another bus sees them', async () => {
      const streamPrefix = randomName('gone');
      const closing = await buses.make({ streamPrefix });
      const watcher = await buses.make({ streamPrefix });
      const address = randomName('reply');
      await closing.subscribe('gone.x', () => undefined);
      await closing.subscribe('*', () => undefined, { componentId: address, targetedOnly: true, durable: false });
      const durable = randomName('stays');
      await closing.subscribe('gone.x', () => undefined, { componentId: durable });
      await waitFor(async () => (await watcher.healthCheck()).groups.length === 3, 'the watcher to see three groups');
      await closing.close();
      await waitFor(
        async () => (await watcher.healthCheck()).groups.map((g) => g.componentId).join() === durable,
        'only the durable group to be left',
        upperBound(harness, 10_000),
      );
    });

    it('deleteSessionQueue across groups stops its running handler, its waiting retry and its queued messages; other sessions go on', async () => {
      const retryMs = 200;
      const bus = await buses.make({ retry: { initialDelayMs: retryMs, maxDelayMs: retryMs, multiplier: 1, jitter: 0 } });
      const doomed = randomName('doomed');
      const runs: Array<[string, string]> = [];
      const other: string[] = [];
      const retrying = randomName('retrying');
      const running = randomName('running');
      let retryFailed = false;
      let runningStarted = false;
      let abortSeen = false;
      // Group 1: the session's first message failed and waits for its retry.
      await bus.subscribe('del.work', (e) => {
        if (e.sessionId !== doomed) return void other.push(`retrying:${e.messageId}`);
        runs.push(['retrying', e.messageId]);
        retryFailed = true;
        throw new Error('retry me');
      }, { group: retrying });
      // Group 2: a handler runs, and rejects when its signal aborts.
      await bus.subscribe('del.work', (e, ctx) => {
        if (e.sessionId !== doomed) return void other.push(`running:${e.messageId}`);
        runs.push(['running', e.messageId]);
        runningStarted = true;
        return new Promise<void>((_resolve, reject) => ctx.signal.addEventListener('abort', () => {
          abortSeen = true;
          reject(new Error('aborted'));
        }));
      }, { group: running });
      // Group 3: bound to the session, its messages queued behind a blocked first one.
      const bound = gate();
      await bus.subscribe('del.work', async (e) => {
        runs.push(['bound', e.messageId]);
        await bound.promise;
      }, { componentId: randomName('bound'), sessionId: doomed });
      for (let i = 0; i < 3; i++) await bus.publish(message({ sessionId: doomed, eventType: 'del.work', maxRetries: 3 }));
      // All three states reached (on a network backend the groups' first deliveries are not simultaneous).
      await waitFor(() => retryFailed && runningStarted && runs.some(([g]) => g === 'bound'), 'a retry waiting, a handler running and one blocked');
      const runsBefore = runs.length;

      await bus.deleteSessionQueue(doomed);
      bound.release();
      await waitFor(() => abortSeen, 'the running handler to be aborted');
      for (let i = 0; i < 3; i++) await bus.publish(message({ sessionId: 'kept', eventType: 'del.work' }));
      await waitFor(() => other.length === 6, 'the other session in both groups');
      // Past several retry delays: nothing of the session runs, retries or is dead-lettered.
      await quietPeriod(harness, retryMs * 3);
      expect(runs.slice(runsBefore)).toEqual([]);
      expect(await bus.getDeadLetterMessages(100, { sessionId: doomed })).toEqual([]);
      const groups = (await bus.healthCheck()).groups;
      for (const g of groups) expect({ group: g.group, pending: g.pending, lag: g.lag }).toEqual({ group: g.group, pending: 0, lag: 0 });
    });

    it('deleteSessionQueue of one session leaves every other session of the group untouched', async () => {
      const bus = await buses.make();
      const doomed = randomName('doomed');
      const blocker = gate();
      const got: MessageEnvelope[] = [];
      await bus.subscribe('del.keep', async (e) => {
        await blocker.promise;
        got.push(e);
      }, { componentId: randomName('c'), concurrency: 1 });
      for (let i = 0; i < 3; i++) await bus.publish(message({ sessionId: doomed, eventType: 'del.keep' }));
      const kept = [0, 1, 2].map((i) => message({ sessionId: `keep-${i % 2}`, eventType: 'del.keep', payload: { i } }));
      for (const m of kept) await bus.publish(m);
      await bus.deleteSessionQueue(doomed);
      blocker.release();
      await waitFor(() => got.filter((e) => e.sessionId !== doomed).length === 3, 'the other sessions');
      await quietPeriod(harness);
      for (const session of ['keep-0', 'keep-1']) {
        expect(got.filter((e) => e.sessionId === session).map((e) => e.messageId)).toEqual(kept.filter((m) => m.sessionId === session).map((m) => m.messageId));
      }
      // At most the attempt that was running when the session was deleted (its outcome ignored).
      expect(got.filter((e) => e.sessionId === doomed).length).toBeLessThanOrEqual(1);
    });
  });
}
