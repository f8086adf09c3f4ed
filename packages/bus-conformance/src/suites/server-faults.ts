/**
 * Server faults (backends with `serverRestart`): the harness's own server is killed or restarted
 * under a running bus. Publishing goes on through the outage, a bounded number of publishes is
 * rejected, none of the acknowledged ones is lost, a handler running when the server went down is
 * settled (acknowledged, or redelivered), and `healthCheck` answers while the server is away.
 * These tests never touch the shared server: each starts its own (`harness.ownServer()`).
 */
import { describe, expect, it } from 'vitest';
import { BusError, type MessageBus } from '@woodwork/bus-core';
import type { BusHarness } from '../harness.js';
import { Ledger, gate, message, randomName, upperBound, useBuses, useOwnServer, waitFor } from '../support.js';

const SERVER_FAULT_TEST_TIMEOUT_MS = 180_000;

/** The tests that run on the harness's own server (every other test uses the shared one). */
export const OWN_SERVER_TESTS = [
  'a server restart mid-run loses no acknowledged message',
  'publishes go on through an outage: a bounded number rejected, none acknowledged lost, the running handler settled',
  'healthCheck resolves while the server is down, and says so',
] as const;

export function serverFaultsSuite(harness: BusHarness): void {
  const buses = useBuses(harness);
  const ownServer = useOwnServer(harness);
  const skip = !harness.features.serverRestart;

  describe('server faults', () => {
    it.skipIf(skip)('a server restart mid-run loses no acknowledged message', async () => {
      const server = await ownServer();
      const bus = await buses.make({ streamPrefix: randomName('restart'), ...server.busOptions });
      const ledger = new Ledger();
      await bus.subscribe('restart.work', (e) => ledger.record(e), { componentId: randomName('steady') });
      let restarting: Promise<void> | undefined;
      for (let i = 0; i < 200; i++) {
        // Publishing goes on while the server restarts.
        if (i === 100) restarting = server.kill('SIGTERM').then(() => server.start());
        await publishTolerant(ledger, bus, message({ sessionId: `s${i % 4}`, eventType: 'restart.work', payload: { i } }));
      }
      await restarting;
      await waitFor(() => ledger.allDelivered(), 'every acknowledged publish', 60_000);
      const result = ledger.check();
      expect(result.missing).toEqual([]);
      expect(result.unexpected).toEqual([]);
      expect(result.outOfOrder).toEqual([]);
      expect(ledger.published.length + ledger.rejected.length).toBe(200);
    }, SERVER_FAULT_TEST_TIMEOUT_MS);

    it.skipIf(skip)(
      'publishes go on through an outage: a bounded number rejected, none acknowledged lost, the running handler settled',
      async () => {
        const server = await ownServer();
        const publishTimeoutMs = 1_000;
        const bus = await buses.make({ streamPrefix: randomName('outage'), publishTimeoutMs, ...server.busOptions });
        const ledger = new Ledger();
        const blocker = gate();
        let blockerStarted = false;
        const held = message({ sessionId: 'held', eventType: 'outage.work', payload: { held: true } });
        await bus.subscribe(
          'outage.work',
          async (e) => {
            if (e.messageId === held.messageId && !blockerStarted) {
              blockerStarted = true;
              await blocker.promise;
            }
            ledger.record(e);
          },
          { componentId: randomName('outage') },
        );
        await ledger.publish(bus, held);
        await waitFor(() => blockerStarted, 'a handler running when the server goes down');
        await server.kill('SIGKILL');
        const outageStartedAt = Date.now();
        // Publishing goes on while the server is away; each publish is awaited, so at most one is
        // in flight and the number rejected is bounded by the outage length / publishTimeoutMs.
        const outageMs = 3_000;
        let attemptedDuringOutage = 0;
        let i = 0;
        while (Date.now() - outageStartedAt < outageMs) {
          attemptedDuringOutage++;
          await publishTolerant(ledger, bus, message({ sessionId: `o${i % 3}`, eventType: 'outage.work', payload: { i: i++ } }));
        }
        blocker.release();
        await server.start();
        for (let j = 0; j < 30; j++) await publishTolerant(ledger, bus, message({ sessionId: `o${j % 3}`, eventType: 'outage.work', payload: { after: j } }));
        await waitFor(() => ledger.allDelivered(), 'every acknowledged publish after the restart', 90_000);
        const result = ledger.check();
        expect(result.missing).toEqual([]);
        expect(result.unexpected).toEqual([]);
        expect(result.outOfOrder).toEqual([]);
        expect(ledger.published.map((e) => e.messageId)).toContain(held.messageId);
        // Rejections happen only while the server is away (or a buffer drains after it): never
        // more than were attempted during the outage.
        expect(ledger.rejected.length).toBeLessThanOrEqual(attemptedDuringOutage);
        // The handler that ran through the outage: acknowledged once, or redelivered; duplicates
        // are bounded by what was in flight (that one message).
        expect(result.duplicates).toBeLessThanOrEqual(1);
      },
      SERVER_FAULT_TEST_TIMEOUT_MS,
    );

    it.skipIf(skip)('healthCheck resolves while the server is down, and says so', async () => {
      const server = await ownServer();
      const bus = await buses.make({ streamPrefix: randomName('health'), ...server.busOptions });
      await bus.subscribe('health.down', () => undefined, { componentId: randomName('h') });
      expect((await bus.healthCheck()).status).toBe('healthy');
      await server.kill('SIGKILL');
      const startedAt = Date.now();
      const report = await bus.healthCheck();
      expect(Date.now() - startedAt).toBeLessThanOrEqual(upperBound(harness, 5_000));
      expect(['degraded', 'unhealthy']).toContain(report.status);
      await server.start();
      await waitFor(async () => (await bus.healthCheck()).status === 'healthy', 'healthy again after the restart', 60_000);
    }, SERVER_FAULT_TEST_TIMEOUT_MS);
  });
}

/** Publishes through the ledger; a `BusError` rejection is recorded (the ledger keeps it), not thrown. */
async function publishTolerant(ledger: Ledger, bus: MessageBus, envelope: Parameters<Ledger['publish']>[1]): Promise<void> {
  try {
    await ledger.publish(bus, envelope);
  } catch (error) {
    if (!(error instanceof BusError)) throw error;
  }
}
