/**
 * The factory loads the Redis backend by name (`WOODWORK_MESSAGE_BUS=redis`) and maps every Redis
 * key of the config table to the backend's option. Runs against the shared Redis (REDIS_URL, else
 * 127.0.0.1:6379), under its own prefix.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MessageBusFactory, resolveBusConfig } from '../src/index.js';

const url = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

describe('MessageBusFactory with redis', () => {
  it('maps the Redis keys to the backend options', () => {
    const resolved = resolveBusConfig({
      type: 'redis',
      redis_url: url,
      consumer_group: 'app',
      partitions: '4',
      claim_idle_ms: 2000,
      read_batch_size: 64,
      max_buffered_per_group: 500,
      block_ms: 1000,
      retention_ms: 60_000,
      maintenance_interval_ms: 1000,
      publish_buffer_size: 10,
      connect_timeout_ms: 1000,
      cluster: 'false',
      sentinels: 'a:26379,b:26380',
      sentinel_name: 'main',
    });
    expect(resolved.options).toEqual({
      url,
      consumerGroup: 'app',
      partitions: 4,
      claimIdleMs: 2000,
      readBatchSize: 64,
      maxBufferedPerGroup: 500,
      blockMs: 1000,
      retentionMs: 60_000,
      maintenanceIntervalMs: 1000,
      publishBufferSize: 10,
      connectTimeoutMs: 1000,
      cluster: false,
      sentinels: 'a:26379,b:26380',
      sentinelName: 'main',
    });
    expect(() => resolveBusConfig({ type: 'memory', claim_idle_ms: 1000 })).toThrow(/claim_idle_ms/);
    expect(() => resolveBusConfig({ type: 'redis', sentinels: 'no-port' })).toThrow(/sentinels/);
    expect(() => resolveBusConfig({ type: 'redis', cluster: 'yes' })).toThrow(/cluster/);
  });

  it('creates a connected Redis bus from the environment and round-trips a message', async () => {
    const prefix = `adapter-${randomBytes(4).toString('hex')}`;
    const bus = await MessageBusFactory.createFromEnvironment({
      WOODWORK_MESSAGE_BUS: 'redis',
      WOODWORK_REDIS_URL: url,
      WOODWORK_STREAM_PREFIX: prefix,
    });
    try {
      expect(bus.backend).toBe('redis');
      const got: string[] = [];
      await bus.subscribe('adapter.ping', (e) => void got.push(e.messageId), { componentId: 'pinger' });
      const { messageId } = await bus.publish({ sessionId: 's', eventType: 'adapter.ping', componentSource: 'test', pattern: 'pub_sub' });
      const deadline = Date.now() + 15_000;
      while (got.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(got).toEqual([messageId]);
      expect((await bus.healthCheck()).status).toBe('healthy');
    } finally {
      await bus.close();
    }
  });
});
