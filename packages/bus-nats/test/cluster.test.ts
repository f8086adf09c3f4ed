/**
 * Distributed proof on a local 3-node JetStream cluster (test/support/nats-cluster.ts): streams with
 * 3 replicas, the events stream's leader (read from stream info) killed with SIGKILL mid-run while
 * publishing and consuming go on; no acknowledged publish is lost and every session's first
 * deliveries keep publish order. `npm test` runs one election; `WW_NATS_SLOW=1` (npm run test:slow)
 * runs more messages and two elections, one after the other.
 */
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterEach, describe, expect, it } from 'vitest';
import { BusError, createEnvelope } from '@woodwork/bus-core';
import { Ledger, randomName, waitFor } from '@woodwork/bus-conformance';
import { NatsMessageBus, layoutFor } from '../src/index.js';
import { NatsCluster } from './support/nats-cluster.js';

const SLOW = process.env['WW_NATS_SLOW'] === '1';
const clusters: NatsCluster[] = [];
const buses: NatsMessageBus[] = [];
afterEach(async () => {
  await Promise.allSettled(buses.splice(0).map((b) => b.close()));
  await Promise.allSettled(clusters.splice(0).map((c) => c.stop()));
});

/** The events stream's current leader, as the cluster reports it (waits out an election). */
async function leaderOf(url: string, stream: string): Promise<string> {
  const nc = await connect({ servers: url.split(','), reconnect: true });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 5_000 });
    let leader = '';
    await waitFor(async () => {
      leader = (await jsm.streams.info(stream).catch(() => undefined))?.cluster?.leader ?? '';
      return leader !== '';
    }, 'the stream to have a leader', 60_000);
    return leader;
  } finally {
    await nc.close();
  }
}

describe('a 3-node JetStream cluster', () => {
  it(
    `loses no acknowledged message and keeps order per session when the stream leader is killed (${SLOW ? 'two elections' : 'one election'})`,
    async () => {
      const cluster = await NatsCluster.start();
      clusters.push(cluster);
      const streamPrefix = randomName('cl');
      const options = { url: cluster.url, streamPrefix, replicas: 3, publishTimeoutMs: 10_000, retry: { initialDelayMs: 5, maxDelayMs: 40, multiplier: 2, jitter: 0 } };
      // The first connect may come before the cluster has elected its meta leader.
      let publisher: NatsMessageBus | undefined;
      await waitFor(async () => {
        publisher = await NatsMessageBus.connect(options).catch(() => undefined);
        return publisher !== undefined;
      }, 'JetStream on the cluster', 60_000);
      buses.push(publisher!);
      const consumer = await NatsMessageBus.connect(options);
      buses.push(consumer);
      const ledger = new Ledger();
      await consumer.subscribe('cl.work', (e) => ledger.record(e), { componentId: randomName('c') });
      const stream = layoutFor(streamPrefix).eventsStream;
      const elections = SLOW ? 2 : 1;
      const perPhase = SLOW ? 500 : 100;
      let n = 0;
      const publishSome = async (count: number) => {
        for (let i = 0; i < count; i++, n++) {
          try {
            await ledger.publish(publisher!, createEnvelope({ sessionId: `s${n % 8}`, eventType: 'cl.work', componentSource: 'cluster', pattern: 'pub_sub', payload: { n } }));
          } catch (error) {
            // Rejected during the election: the ledger keeps it as not acknowledged.
            if (!(error instanceof BusError)) throw error;
          }
        }
      };
      await publishSome(perPhase);
      const killed: string[] = [];
      for (let e = 0; e < elections; e++) {
        const leader = await leaderOf(cluster.url, stream);
        killed.push(leader);
        const node = cluster.node(leader);
        // Publishing goes on while the leader dies and a new one is elected.
        const publishing = publishSome(perPhase);
        await node.stopProcess('SIGKILL');
        await publishing;
        // An election happened: another node leads the stream now.
        expect(await leaderOf(cluster.url, stream)).not.toBe(leader);
        await node.startProcess();
      }
      await publishSome(perPhase);
      await waitFor(() => ledger.allDelivered(), 'every acknowledged publish', 120_000);
      const result = ledger.check();
      expect(result.missing).toEqual([]);
      expect(result.unexpected).toEqual([]);
      expect(result.outOfOrder).toEqual([]);
      expect(killed).toHaveLength(elections);
      expect(ledger.published.length).toBeGreaterThan(perPhase * 2);
    },
    SLOW ? 600_000 : 240_000,
  );
});
