/**
 * Partitions moving between members while messages flow (shared NATS, a prefix of its own): three
 * buses join one shared group one after another and one leaves, while a publisher keeps going.
 * Every hand-over (an owner over its share drains a partition and frees it, the next owner hands
 * back what it does not hold, then pulls) must run each message once, in order per session.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createEnvelope } from '@woodwork/bus-core';
import { Ledger, randomName, waitFor } from '@woodwork/bus-conformance';
import { NatsMessageBus } from '../src/index.js';
import { SharedNamespaces } from './support/namespaces.js';
import { sharedNatsUrl } from './support/nats-server.js';

const open: NatsMessageBus[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((b) => b.close()));
});
const namespaces = new SharedNamespaces(sharedNatsUrl);
afterAll(() => namespaces.deleteAll(), 60_000);

describe('partitions moving between members', () => {
  it('members joining and leaving while messages flow: each message runs once, in order per session', async () => {
    const streamPrefix = randomName('rb');
    const connect = async (): Promise<NatsMessageBus> => {
      const bus = await NatsMessageBus.connect(namespaces.remember({ url: await sharedNatsUrl(), streamPrefix }));
      open.push(bus);
      return bus;
    };
    const component = randomName('rbc');
    const ledger = new Ledger();
    const runs = new Map<string, number>();
    const join = async (): Promise<NatsMessageBus> => {
      const bus = await connect();
      await bus.subscribe(
        'rb.work',
        async (e) => {
          runs.set(e.messageId, (runs.get(e.messageId) ?? 0) + 1);
          ledger.record(e);
          // Some work in flight at every moment, so hand-overs meet held and running messages.
          if ((e.payload as { n: number }).n % 3 === 0) await new Promise((r) => setTimeout(r, 2));
        },
        { componentId: component },
      );
      return bus;
    };
    const publisher = await connect();
    await join();
    const total = 900;
    const members: NatsMessageBus[] = [];
    for (let n = 0; n < total; n++) {
      await ledger.publish(publisher, createEnvelope({ sessionId: `s${n % 40}`, eventType: 'rb.work', componentSource: 'rb', pattern: 'pub_sub', payload: { n } }));
      if (n === 200 || n === 400) members.push(await join());
      if (n === 650) await members[0]!.close();
      if (n % 50 === 0) await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor(() => ledger.allDelivered(), 'every acknowledged publish', 120_000);
    // Late duplicates would come from a hand-back after the last owner change: give them a moment.
    await new Promise((r) => setTimeout(r, 500));
    const result = ledger.check();
    expect(result.missing).toEqual([]);
    expect(result.unexpected).toEqual([]);
    expect(result.outOfOrder).toEqual([]);
    expect([...runs.entries()].filter(([, count]) => count > 1)).toEqual([]);
    expect(result.duplicates).toBe(0);
  }, 180_000);
});
