/**
 * A message that arrives while its partition's lease is not fresh for a moment is dropped (not run,
 * not acknowledged). When the lease turns fresh again before the puller noticed the lapse, the next
 * message of the same session must not run before the dropped one: the puller hands the dropped
 * one back first (src/partition-puller.ts `droppedArrival`), instead of leaving it to ack_wait.
 *
 * White-box: the lapse is made by answering "may not run" to the one check the group makes when a
 * message arrives (the puller's own checks see a fresh lease, as in the race this is about).
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createEnvelope, type MessageEnvelope } from '@woodwork/bus-core';
import { randomName, waitFor } from '@woodwork/bus-conformance';
import { NatsMessageBus } from '../src/index.js';
import { SharedNamespaces } from './support/namespaces.js';
import { sharedNatsUrl } from './support/nats-server.js';

const open: NatsMessageBus[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((b) => b.close()));
});
const namespaces = new SharedNamespaces(sharedNatsUrl);
afterAll(() => namespaces.deleteAll(), 60_000);

interface GroupInternals {
  leases: { mayRun(partition: number): boolean };
  onMessage(msg: unknown, partition: number | null): void;
}

describe('a lease lapse shorter than a pull loop', () => {
  it('a message dropped during the lapse runs before the next message of its session', async () => {
    // ack_wait long enough that, without the hand-back, the dropped message comes back only after
    // the later one ran (the order violation this test is about).
    const bus = await NatsMessageBus.connect(namespaces.remember({ url: await sharedNatsUrl(), streamPrefix: randomName('lapse'), ackWaitMs: 20_000 }));
    open.push(bus);
    const ran: string[] = [];
    const component = randomName('lapse');
    await bus.subscribe('lapse.work', (e) => void ran.push(e.messageId), { componentId: component });
    const [group] = [...(bus as unknown as { groups: Map<string, GroupInternals> }).groups.values()];
    if (!group) throw new Error("no group");
    let lapse = false;
    let arriving = false;
    let dropped = 0;
    const mayRun = group.leases.mayRun.bind(group.leases);
    group.leases.mayRun = (partition) => !(lapse && arriving) && mayRun(partition);
    const onMessage = group.onMessage.bind(group);
    group.onMessage = (msg, partition) => {
      arriving = true;
      try {
        onMessage(msg, partition);
      } finally {
        arriving = false;
        if (lapse) {
          dropped++;
          lapse = false; // fresh again at once
        }
      }
    };
    const make = (n: number): MessageEnvelope => createEnvelope({ sessionId: 'one', eventType: 'lapse.work', componentSource: 'lapse', pattern: 'pub_sub', payload: { n } });
    const first = make(1);
    const second = make(2);
    lapse = true;
    await bus.publish(first);
    await waitFor(() => dropped === 1, 'the first message to arrive during the lapse');
    await bus.publish(second);
    await waitFor(() => ran.length === 2, 'both messages to run', 15_000);
    expect(ran).toEqual([first.messageId, second.messageId]);
  }, 60_000);
});
