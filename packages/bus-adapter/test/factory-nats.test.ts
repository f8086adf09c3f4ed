/**
 * The factory loads the NATS backend by name (`WOODWORK_MESSAGE_BUS=nats`) and maps every NATS key
 * of the config table to the backend's option. Runs against the shared NATS (NATS_URL, else
 * 127.0.0.1:4222).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MessageBusFactory, resolveBusConfig } from '../src/index.js';

const url = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';

describe('MessageBusFactory with nats', () => {
  it('maps the NATS keys to the backend options', () => {
    const resolved = resolveBusConfig({
      type: 'nats',
      nats_url: url,
      ack_wait_ms: '2000',
      fetch_batch: 64,
      max_held_per_group: 500,
      max_ack_pending: 5000,
      storage: 'memory',
      replicas: 1,
      max_age_ms: 60_000,
      publish_buffer_size: 0,
      connect_timeout_ms: 1000,
    });
    expect(resolved.options).toEqual({
      url,
      ackWaitMs: 2000,
      fetchBatch: 64,
      maxHeldPerGroup: 500,
      maxAckPending: 5000,
      storage: 'memory',
      replicas: 1,
      maxAgeMs: 60_000,
      publishBufferSize: 0,
      connectTimeoutMs: 1000,
    });
    expect(() => resolveBusConfig({ type: 'memory', ack_wait_ms: 10 })).toThrow(/ack_wait_ms/);
    expect(() => resolveBusConfig({ type: 'nats', storage: 'disk' })).toThrow(/storage/);
  });

  it('creates a connected NATS bus from the environment and round-trips a message', async () => {
    const prefix = `adapter-${randomBytes(4).toString('hex')}`;
    const bus = await MessageBusFactory.createFromEnvironment({
      WOODWORK_MESSAGE_BUS: 'nats',
      WOODWORK_NATS_URL: url,
      WOODWORK_STREAM_PREFIX: prefix,
    });
    try {
      expect(bus.backend).toBe('nats');
      const got: string[] = [];
      await bus.subscribe('adapter.ping', (e) => void got.push(e.messageId), { componentId: 'pinger' });
      const { messageId } = await bus.publish({ sessionId: 's', eventType: 'adapter.ping', componentSource: 'test', pattern: 'pub_sub' });
      const deadline = Date.now() + 15_000;
      while (got.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(got).toEqual([messageId]);
      expect((await bus.healthCheck()).status).toBe('healthy');
    } finally {
      // Closes the bus and deletes the prefix's streams: the shared server keeps none.
      await (bus as unknown as { deleteNamespace(): Promise<unknown> }).deleteNamespace();
    }
  });
});
