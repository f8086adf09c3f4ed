/**
 * The NATS bench targets shared by cases/nats.mjs and cases/nats-rounds.mjs: raw nats.js
 * JetStream publish/pull/ack beside @woodwork/bus-nats doing the same work, each on a stream prefix
 * of its own (deleted on close), and the 100,000-sessions run.
 */
import { connect } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { createMessageBus } from '@woodwork/bus-nats';
import { heapAfterGc, publishAll, wire } from './stats.mjs';

/**
 * `prefix`: this run's stream prefix; `batch`: pull batch; `inflight`: publishes in flight and
 * handler concurrency; `partitions`: bus-nats partitions (undefined: its default); `envelope`: the
 * bench's envelope maker.
 */
export function natsTargets({ prefix: PREFIX, batch: BATCH, inflight: INFLIGHT, partitions, envelope }) {
  let seq = 0;
  const values = { partitions };


  // ---------- targets ----------
  async function makeRaw(url) {
    const nc = await connect({ servers: url });
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const name = `${PREFIX}-raw-${++seq}`;
    await jsm.streams.add({ name, subjects: [`${name}.>`], duplicate_window: 120e9 });
    let messages;
    return {
      name: 'nats.js JetStream publish/pull/ack',
      async publish(e) {
        await js.publish(`${name}.${e.sessionId}.${e.eventType}`, wire(e), { msgID: `pub-${e.messageId}` });
      },
      async subscribe(handler) {
        await jsm.consumers.add(name, { durable_name: 'c', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.New, max_ack_pending: 20_000 });
        const consumer = await js.consumers.get(name, 'c');
        messages = await consumer.consume({ max_messages: BATCH });
        void (async () => {
          for await (const m of messages) {
            const data = JSON.parse(m.string());
            handler({ payload: data.payload, sessionId: data.session_id });
            m.ack();
          }
        })();
      },
      async close() {
        messages?.stop();
        await jsm.streams.delete(name);
        await nc.close();
      },
    };
  }

  async function makeBus(url) {
    const streamPrefix = `${PREFIX}-bus-${++seq}`;
    const bus = await createMessageBus({
      url, streamPrefix, concurrency: INFLIGHT, fetchBatch: BATCH, maxHeldPerGroup: 20_000, maxAckPending: 20_000,
      ...(values.partitions ? { partitions: Number(values.partitions) } : {}),
    });
    return {
      name: '@woodwork/bus-nats',
      bus,
      publish: (e) => bus.publish(e),
      subscribe: (handler) => bus.subscribe('bench.msg', handler, { componentId: 'bench', concurrency: INFLIGHT }),
      async close() {
        await bus.close();
        await deletePrefix(url, streamPrefix);
      },
    };
  }

  /** Removes a bench prefix's three streams (only ever our own). */
  async function deletePrefix(url, prefix) {
    const nc = await connect({ servers: url });
    const jsm = await jetstreamManager(nc);
    for (const stream of [`${prefix}~EVENTS`, `${prefix}~DLQ`, `${prefix}~STATE`]) await jsm.streams.delete(stream).catch(() => undefined);
    await nc.close();
  }

  async function manySessions(url) {
    const count = 100_000;
    const heapBefore = heapAfterGc();
    const target = await makeBus(url);
    let received = 0;
    let done;
    const finished = new Promise((resolve) => (done = resolve));
    await target.subscribe(() => {
      if (++received === count) done();
    });
    const started = performance.now();
    await publishAll(target, count, (i) => envelope(i, 0, `session-${i}`), INFLIGHT);
    await finished;
    const ms = performance.now() - started;
    const health = await target.bus.healthCheck();
    const heapAfter = heapAfterGc();
    await target.close();
    return { ms, clientMb: (heapAfter - heapBefore) / (1024 * 1024), lanesLeft: health.details.sessionLanes, heldLeft: health.details.heldMessages };
  }

  return { makeRaw, makeBus, manySessions };
}
