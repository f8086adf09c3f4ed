/**
 * The fixed-rate targets of the Redis diagnostics (cases/redis-tail.mjs, cases/promotion.mjs), each
 * on its own keys of `url`'s server: bare ioredis (the `redis` case's raw loop), the bus, and the two
 * halves that tell which side of the bus a cost is on (`pub`: bus publish, raw consume; `sub`: raw
 * publish, bus consume). `hooks.beginRead()` / `hooks.inRead(i, session)` let a probe mark the raw
 * reads (the tail case); by default they do nothing.
 */
import { Redis } from 'ioredis';
import { createMessageBus, eventsKey, partitionOf } from '@woodwork/bus-redis';
import { wire } from './stats.mjs';

export function redisTargets({ prefix, batch = 256, inflight = 64, hooks = {} }) {
  const beginRead = hooks.beginRead ?? (() => undefined);
  const inRead = hooks.inRead ?? (() => undefined);

  /** Reads `streams` with its own group until stopped: the raw consuming loop. */
  function rawConsumer(url, streams, group) {
    const redis = new Redis(url);
    const reader = new Redis(url);
    let running = true;
    return {
      async create() {
        for (const stream of streams) await redis.xgroup('CREATE', stream, group, '$', 'MKSTREAM');
      },
      consume(handler) {
        void (async () => {
          while (running) {
            const reply = await reader.xreadgroup('GROUP', group, 'raw', 'COUNT', batch, 'BLOCK', 1000, 'STREAMS', ...streams, ...streams.map(() => '>')).catch(() => null);
            for (const [stream, entries] of reply ?? []) {
              beginRead();
              for (const [id, fields] of entries) {
                const data = JSON.parse(fields[fields.indexOf('envelope') + 1]);
                inRead(data.payload.i, data.session_id);
                handler({ payload: data.payload, sessionId: data.session_id });
                void redis.xack(stream, group, id);
              }
            }
          }
        })();
      },
      redis,
      async close() {
        running = false;
        reader.disconnect();
        await redis.quit();
      },
    };
  }

  async function raw(url) {
    const stream = `${prefix}-raw`;
    const consumer = rawConsumer(url, [stream], 'c');
    await consumer.create();
    return {
      name: 'ioredis XADD/XREADGROUP/XACK',
      async publish(e) {
        await consumer.redis.xadd(stream, '*', 'envelope', wire(e));
      },
      subscribe: async (handler) => consumer.consume(handler),
      async close() {
        await consumer.redis.del(stream);
        await consumer.close();
      },
    };
  }

  async function bus(url) {
    const b = await createMessageBus({ url, streamPrefix: `${prefix}-bus`, concurrency: inflight, readBatchSize: batch, maxBufferedPerGroup: 20_000 });
    return {
      name: '@woodwork/bus-redis',
      publish: (e) => b.publish(e),
      subscribe: (handler) => b.subscribe('bench.msg', handler, { componentId: 'bench', concurrency: inflight }),
      close: () => b.close(),
    };
  }

  /** Bus publish; the raw loop reads the bus's partition streams with a group of its own. */
  async function pub(url) {
    const b = await createMessageBus({ url, streamPrefix: `${prefix}-pub`, maxBufferedPerGroup: 20_000 });
    const consumer = rawConsumer(url, Array.from({ length: b.layout.partitions }, (_, n) => eventsKey(b.layout, n)), 'raw');
    await consumer.create();
    return {
      name: 'bus publish, raw consume',
      publish: (e) => b.publish(e),
      subscribe: async (handler) => consumer.consume(handler),
      async close() {
        await consumer.close();
        await b.close();
      },
    };
  }

  /** The raw XADD (the bus's fields: envelope and token) to the session's partition; the bus consumes. */
  async function sub(url) {
    const b = await createMessageBus({ url, streamPrefix: `${prefix}-sub`, concurrency: inflight, readBatchSize: batch, maxBufferedPerGroup: 20_000 });
    const redis = new Redis(url);
    let token = 0;
    return {
      name: 'raw publish, bus consume',
      publish: (e) => redis.xadd(eventsKey(b.layout, partitionOf(e.sessionId, b.layout.partitions)), '*', 'envelope', wire(e), 'token', `raw.${++token}`),
      subscribe: (handler) => b.subscribe('bench.msg', handler, { componentId: 'bench', concurrency: inflight }),
      async close() {
        await b.close();
        await redis.quit();
      },
    };
  }

  return { raw, bus, pub, sub };
}
