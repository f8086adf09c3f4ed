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

/** These tests wait for servers and processes; their own waits end well before this. */
const PERSISTENCE_TEST_TIMEOUT_MS = 120_000;

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
    }, PERSISTENCE_TEST_TIMEOUT_MS);

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
          // "done" is printed inside the handler, before the backend acknowledges: wait until the
          // group holds exactly the two unacknowledged messages (the hanging one and the one of its
          // session behind it), so `other` is acknowledged before the kill and must not come back.
          const held = async () => {
            const group = (await publisher.healthCheck()).groups.find((g) => g.componentId === component);
            return (group?.pending ?? 0) + (group?.lag ?? 0);
          };
          await waitFor(async () => (await held()) === 2, 'the group to hold exactly the two unacknowledged messages', 20_000);
          expect(child.lines).not.toContain(`started ${after.messageId}`);
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
      PERSISTENCE_TEST_TIMEOUT_MS,
    );

    it.skipIf(!features.serverRestart)('a server restart mid-run loses no acknowledged message', async () => {
      const streamPrefix = randomName('restart');
      const bus = await buses.make({ streamPrefix });
      const ledger = new Ledger();
      await bus.subscribe('restart.work', (e) => ledger.record(e), { componentId: randomName('steady') });
      // A publish that rejected (server away, deadline passed) may still have been stored: it may
      // be delivered, or not. Only acknowledged publishes must arrive.
      const rejected = new Set<string>();
      let restarting: Promise<void> | undefined;
      for (let i = 0; i < 200; i++) {
        // Publishing goes on while the server restarts.
        if (i === 100) restarting = harness.restartServer!();
        const envelope = message({ sessionId: `s${i % 4}`, eventType: 'restart.work', payload: { i } });
        try {
          await ledger.publish(bus, envelope);
        } catch (error) {
          if (!(error instanceof BusError)) throw error;
          rejected.add(envelope.messageId);
        }
      }
      await restarting;
      const acknowledged = new Set(ledger.published.map((e) => e.messageId));
      await waitFor(
        () => new Set(ledger.delivered.map((e) => e.messageId).filter((id) => acknowledged.has(id))).size === acknowledged.size,
        'every acknowledged publish',
        60_000,
      );
      const result = ledger.check();
      expect(result.missing).toEqual([]);
      expect(result.unexpected.filter((id) => !rejected.has(id))).toEqual([]);
      expect(result.outOfOrder).toEqual([]);
      expect(ledger.published.length + rejected.size).toBe(200);
    }, PERSISTENCE_TEST_TIMEOUT_MS);
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
  let exitCode: number | string | null | undefined;
  const exited = new Promise<void>((resolve) =>
    proc.once('exit', (code, signal) => {
      exitCode = code ?? signal;
      resolve();
    }),
  );
  return {
    process: proc,
    lines,
    exited,
    /** Fails at once if the child exits first (a broken harness module), not after the wait. */
    waitFor: (line: string) =>
      waitFor(
        () => {
          if (lines.includes(line)) return true;
          if (exitCode !== undefined) throw new Error(`the child consumer exited (${exitCode}) before printing "${line}"`);
          return false;
        },
        `child to print "${line}"`,
        20_000,
      ),
  };
}

