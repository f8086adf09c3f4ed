/**
 * One app, three backends: a routed bus of memory + Redis + NATS members built by the factory from
 * one config, against the real shared servers (REDIS_URL / NATS_URL, else the local defaults),
 * each test under its own prefixes. The events bridge runs on it without knowing it is routed.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { MessageBus } from '@woodwork/bus-core';
import { MessageBusEventManager } from '@woodwork/bus-events-bridge';
import { MessageBusFactory, RoutedMessageBus } from '../src/index.js';
import { eventually } from './support/memory.js';

const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const natsUrl = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
const FAST = { initial_delay_ms: 5, max_delay_ms: 20, multiplier: 2, jitter: 0 };

const open: MessageBus[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map(closeLeavingNoStreams));
});

/** Closes a bus; a NATS member first deletes its prefix's streams, so the shared server keeps none. */
async function closeLeavingNoStreams(bus: MessageBus): Promise<void> {
  if (bus instanceof RoutedMessageBus) {
    for (const member of bus.members.values()) {
      if ('deleteNamespace' in member && typeof member.deleteNamespace === 'function') await (member.deleteNamespace as () => Promise<unknown>)().catch(() => {});
    }
  }
  await bus.close();
}

async function threeBackends(): Promise<RoutedMessageBus> {
  const prefix = `routed-${randomBytes(5).toString('hex')}`;
  const bus = await MessageBusFactory.createMessageBus({
    type: 'routed',
    default: 'local',
    members: {
      local: { type: 'memory', max_retries: 1, retry: FAST },
      chains: { type: 'redis', redis_url: redisUrl, stream_prefix: prefix, max_retries: 1, retry: FAST, block_ms: 100 },
      shared: { type: 'nats', nats_url: natsUrl, stream_prefix: prefix, max_retries: 1, retry: FAST },
    },
    routes: [
      { event_type: 'chain.*', member: 'chains' },
      { event_type: 'shared.*', member: 'shared' },
    ],
  });
  open.push(bus);
  expect(bus).toBeInstanceOf(RoutedMessageBus);
  return bus as RoutedMessageBus;
}

/** Messages published on each member so far (each member's own health). */
async function publishedBy(bus: RoutedMessageBus): Promise<Record<string, number>> {
  const health = await bus.healthCheck();
  return Object.fromEntries(Object.entries(health.members).map(([name, report]) => [name, report.metrics.messagesPublishedTotal]));
}

describe('routed bus over memory + Redis + NATS', () => {
  it('routes each event to its backend, and one "*" subscription runs a session spanning all three one at a time', async () => {
    const bus = await threeBackends();
    expect([...bus.members].map(([name, member]) => `${name}:${member.backend}`)).toEqual(['local:memory', 'chains:redis', 'shared:nats']);
    const handled: string[] = [];
    const ids = new Set<string>();
    let running = 0;
    let overlaps = 0;
    await bus.subscribe(
      '*',
      async (e, ctx) => {
        if (running++ > 0) overlaps++;
        ids.add(ctx.subscriptionId);
        await new Promise((r) => setTimeout(r, 2));
        handled.push(e.eventType);
        running--;
      },
      { componentId: 'watcher' },
    );
    const types = ['hook.fired', 'chain.step', 'shared.notice'];
    for (let i = 0; i < 9; i++) await bus.publish({ sessionId: 'one', eventType: types[i % 3]!, componentSource: 'app', payload: { i } });
    await eventually(() => expect(handled).toHaveLength(9));
    expect(overlaps).toBe(0);
    expect(ids.size).toBe(1);
    expect(await publishedBy(bus)).toEqual({ local: 3, chains: 3, shared: 3 });
    const health = await bus.healthCheck();
    expect(health.status).toBe('healthy');
    expect(health.groups.find((g) => g.group === 'watcher')).toMatchObject({ consumers: 1, members: ['local', 'chains', 'shared'] });
  });

  it('the events bridge runs hooks on each backend without knowing it is routed; a failing hook is dead-lettered by its own member', async () => {
    const bus = await threeBackends();
    const events = new MessageBusEventManager<Record<'agent.thinking' | 'chain.step' | 'shared.notice' | 'chain.audit', { session_id: string; step: string }>>(bus, {
      componentId: 'app',
      maxRetries: 1,
    });
    const seen: string[] = [];
    events.on('agent.thinking', (p) => void seen.push(`memory:${p.step}`));
    events.on('chain.step', (p) => void seen.push(`redis:${p.step}`));
    events.on('shared.notice', (p) => void seen.push(`nats:${p.step}`));
    events.on('chain.audit', () => {
      throw new Error('audit unreachable');
    });
    await events.ready();
    await events.emit('agent.thinking', { session_id: 's', step: 'a' });
    await events.emit('chain.step', { session_id: 's', step: 'b' });
    await events.emit('shared.notice', { session_id: 's', step: 'c' });
    await events.emit('chain.audit', { session_id: 's', step: 'd' });
    await eventually(() => expect(seen.sort()).toEqual(['memory:a', 'nats:c', 'redis:b']));
    await eventually(async () => expect(await bus.getDeadLetterMessages()).toHaveLength(1));
    const [record] = await bus.getDeadLetterMessages();
    expect(record).toMatchObject({ member: 'chains', attempts: 2, error: { message: 'audit unreachable' } });
    expect(record!.id.startsWith('chains/')).toBe(true);
    expect(await publishedBy(bus)).toEqual({ local: 1, chains: 2, shared: 1 });
    // Redriven on its own member (Redis), into the hook's own group.
    expect((await bus.redriveDeadLetters({ ids: [record!.id] })).redriven).toEqual([record!.id]);
    await events.close();
  });
});
