/**
 * Persistent backends: a subscriber closed and reopened continues with no loss; a consumer process
 * killed mid-handler has its unacknowledged work taken over, its session's later messages waiting;
 * a server restart loses no acknowledged message. Checked with a ledger.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BusError, type MessageEnvelope } from '@woodwork/bus-core';
import type { BusHarness } from '../harness.js';
import { FAST_RETRY, Ledger, message, randomName, useBuses, waitFor } from '../support.js';

const childScript = fileURLToPath(new URL('../child-consumer.js', import.meta.url));

export function persistenceSuite(harness: BusHarness): void {
  const buses = useBuses(harness);
  const { features } = harness;

  describe('persistence', () => {
    it.skipIf(!features.persistence)('a subscriber closed and reopened continues with no loss, in order', async () => {
      const streamPrefix = randomName('persist');
      const publisher = await buses.make({ streamPrefix });
      const component = randomName('reopen');
      const ledger = new Ledger();
      const first = await buses.make({ streamPrefix });
      await first.subscribe('persist.work', (e) => ledger.record(e), { componentId: component });
      for (let i = 0; i < 30; i++) await ledger.publish(publisher, message({ sessionId: `s${i % 3}`, eventType: 'persist.work', payload: { i } }));
      await waitFor(() => ledger.distinctDelivered >= 10, 'some deliveries');
      await first.close();
      for (let i = 30; i < 60; i++) await ledger.publish(publisher, message({ sessionId: `s${i % 3}`, eventType: 'persist.work', payload: { i } }));
      const second = await buses.make({ streamPrefix });
      await second.subscribe('persist.work', (e) => ledger.record(e), { componentId: component });
      await waitFor(() => ledger.distinctDelivered === 60, 'all 60 deliveries', 30_000);
      const result = ledger.check();
      expect(result.missing).toEqual([]);
      expect(result.unexpected).toEqual([]);
      expect(result.outOfOrder).toEqual([]);
    });

    it.skipIf(!features.crossProcess)(
      'a consumer killed mid-handler has its unacknowledged messages handled by another, its session waiting for them',
      async () => {
        const streamPrefix = randomName('kill');
        const component = randomName('victim');
        const options = { streamPrefix, retry: FAST_RETRY, ...harness.fastRecoveryOptions };
        const child = startChild(harness, { options, eventType: 'kill.work', componentId: component });
        try {
          await child.waitFor('ready');
          const publisher = await buses.make({ streamPrefix });
          const hang = message({ sessionId: 'victim-session', eventType: 'kill.work', payload: { hang: true } });
          const after = message({ sessionId: 'victim-session', eventType: 'kill.work', payload: { i: 1 } });
          const other = message({ sessionId: 'other-session', eventType: 'kill.work', payload: { i: 2 } });
          await publisher.publish(hang);
          await child.waitFor(`started ${hang.messageId}`);
          await publisher.publish(after);
          await publisher.publish(other);
          await child.waitFor(`done ${other.messageId}`);
          expect(child.lines).not.toContain(`started ${after.messageId}`);
          const health = await publisher.healthCheck();
          const group = health.groups.find((g) => g.componentId === component);
          expect((group?.pending ?? 0) + (group?.lag ?? 0)).toBeGreaterThanOrEqual(2);
          child.process.kill('SIGKILL');
          await child.exited;

          const survivor = await buses.make({ ...options });
          const seen: MessageEnvelope[] = [];
          await survivor.subscribe('kill.work', (e) => void seen.push(e), { componentId: component });
          await waitFor(() => seen.some((e) => e.messageId === after.messageId), 'the taken-over messages', 30_000);
          const ids = seen.map((e) => e.messageId);
          expect(ids).toContain(hang.messageId);
          expect(ids.indexOf(hang.messageId)).toBeLessThan(ids.indexOf(after.messageId));
          expect(ids).not.toContain(other.messageId);
          expect(seen.find((e) => e.messageId === hang.messageId)?.retryCount).toBeGreaterThanOrEqual(1);
        } finally {
          child.process.kill('SIGKILL');
        }
      },
    );

    it.skipIf(!features.serverRestart)('a server restart mid-run loses no acknowledged message', async () => {
      const streamPrefix = randomName('restart');
      const bus = await buses.make({ streamPrefix });
      const ledger = new Ledger();
      await bus.subscribe('restart.work', (e) => ledger.record(e), { componentId: randomName('steady') });
      let rejected = 0;
      for (let i = 0; i < 200; i++) {
        if (i === 100) await harness.restartServer!();
        try {
          await ledger.publish(bus, message({ sessionId: `s${i % 4}`, eventType: 'restart.work', payload: { i } }));
        } catch (error) {
          if (!(error instanceof BusError)) throw error;
          rejected++;
        }
      }
      await waitFor(() => ledger.distinctDelivered === ledger.published.length, 'every acknowledged publish', 60_000);
      const result = ledger.check();
      expect(result.missing).toEqual([]);
      expect(result.unexpected).toEqual([]);
      expect(result.outOfOrder).toEqual([]);
      expect(ledger.published.length + rejected).toBe(200);
    });
  });
}

function startChild(harness: BusHarness, config: Record<string, unknown>) {
  if (!harness.childBusModule) throw new Error(`${harness.name} declares crossProcess but gives no childBusModule`);
  const proc: ChildProcess = spawn(process.execPath, [childScript, JSON.stringify({ module: harness.childBusModule, ...config })], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  let buffer = '';
  proc.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    lines.push(...parts);
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    process: proc,
    lines,
    exited,
    waitFor: (line: string) => waitFor(() => lines.includes(line), `child to print "${line}"`, 20_000),
  };
}

