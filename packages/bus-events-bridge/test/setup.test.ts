import { InvalidConfigError, InvalidMessageError } from '@woodwork/bus-core';
import type { MemoryMessageBus } from '@woodwork/bus-memory';
import { describe, expect, it } from 'vitest';
import { EventManager, MessageBusEventManager, defaultHookGroupName, setupMessageBusIntegration } from '../src/index.js';
import { busPerTest } from './support/memory-bus.js';
import { waitFor } from './support/waiting.js';

interface Events {
  'agent.thought': { session_id?: string; text: string };
  'agent.done': { session_id?: string };
}

let bus: MemoryMessageBus;
busPerTest(1, (b) => (bus = b));

describe('setupMessageBusIntegration', () => {
  it('moves hooks and pipes to a bus manager and subscribes the hooks on the bus', async () => {
    const existing = new EventManager<Events>();
    const seen: string[] = [];
    existing.on('agent.thought', (p) => void seen.push(`log:${p.text}`), { name: 'logger' });
    existing.on('agent.thought', (p) => void seen.push(`count:${p.text}`));
    existing.on('agent.done', (p) => void seen.push(`done:${p.session_id}`));
    existing.addPipe('agent.thought', (p) => ({ ...p, text: `${p.text}-a` }));
    existing.addPipe('agent.thought', (p) => ({ ...p, text: `${p.text}-b` }));

    const integration = await setupMessageBusIntegration(bus, existing, { componentId: 'agent-app' });
    const { manager } = integration;
    expect(manager).toBeInstanceOf(MessageBusEventManager);
    expect(existing.listHooks()).toEqual([]);
    expect(existing.listPipes()).toEqual([]);
    expect(manager.listHooks().map((h) => `${h.event}/${h.name}`)).toEqual(['agent.thought/logger', 'agent.thought/h1', 'agent.done/h0']);
    const groups = (await bus.healthCheck()).groups.map((g) => g.group).sort();
    expect(groups).toEqual(
      [manager.hookGroup('agent.thought', 'logger'), manager.hookGroup('agent.thought', 'h1'), manager.hookGroup('agent.done', 'h0')].sort(),
    );

    await expect(manager.emit('agent.thought', { session_id: 's1', text: 't' })).resolves.toEqual({ session_id: 's1', text: 't-a-b' });
    await manager.emit('agent.done', { session_id: 's1' });
    await waitFor('three hook deliveries', () => seen.length === 3);
    expect(seen.sort()).toEqual(['count:t', 'done:s1', 'log:t']);

    // The old manager no longer runs them.
    await existing.emit('agent.thought', { text: 'old' });
    expect(seen).toHaveLength(3);

    await integration.close();
    expect((await bus.healthCheck()).metrics.activeSubscriptions).toBe(0);
  });

  it("keeps the existing manager's default session and error reporter unless options say otherwise", async () => {
    const reported: string[] = [];
    const existing = new EventManager<Events>({ defaultSessionId: 'main', onHookError: (_e, info) => void reported.push(info.hookName) });
    const sessions: string[] = [];
    existing.on('agent.thought', (_p, ctx) => void sessions.push(ctx.sessionId));
    const { manager, close } = await setupMessageBusIntegration(bus, existing, { componentId: 'app' });
    expect(manager.defaultSessionId).toBe('main');
    await manager.emit('agent.thought', { text: 'no session' });
    await waitFor('the hook', () => sessions.length === 1);
    expect(sessions).toEqual(['main']);
    // The reporter came along: a hook that cannot be subscribed is reported to it.
    await bus.subscribe('other.event', () => {}, { group: defaultHookGroupName({ componentId: 'app', event: 'agent.done', hookName: 'late' }) });
    manager.on('agent.done', () => {}, { name: 'late' });
    await expect(manager.ready()).rejects.toBeInstanceOf(InvalidConfigError);
    expect(reported).toEqual(['late']);
    const overridden = await setupMessageBusIntegration(bus, new EventManager<Events>({ defaultSessionId: 'main' }), {
      componentId: 'other',
      defaultSessionId: 'explicit',
    });
    expect(overridden.manager.defaultSessionId).toBe('explicit');
    await Promise.all([close(), overridden.close()]);
  });

  it('gives replicas set up from the same code the same groups', async () => {
    const build = (): EventManager<Events> => new EventManager<Events>().on('agent.thought', () => {}).on('agent.done', () => {});
    const a = await setupMessageBusIntegration(bus, build(), { componentId: 'replicated' });
    const b = await setupMessageBusIntegration(bus, build(), { componentId: 'replicated' });
    const health = await bus.healthCheck();
    expect(health.groups).toHaveLength(2);
    expect(health.groups.every((g) => g.consumers === 2)).toBe(true);
    await a.close();
    await b.close();
  });

  it('moves nothing when an event name cannot travel on the bus', async () => {
    const existing = new EventManager();
    existing.on('fine.event', () => {});
    existing.addPipe('not fine', () => undefined);
    await expect(setupMessageBusIntegration(bus, existing, { componentId: 'app' })).rejects.toBeInstanceOf(InvalidMessageError);
    expect(existing.listHooks()).toHaveLength(1);
    expect(existing.listPipes()).toHaveLength(1);
    expect((await bus.healthCheck()).metrics.activeSubscriptions).toBe(0);
  });

  it('puts everything back when a hook cannot be subscribed', async () => {
    const existing = new EventManager<Events>();
    const pipe = (): undefined => undefined;
    existing.on('agent.thought', () => {}).on('agent.thought', () => {}).on('agent.done', () => {}).addPipe('agent.done', pipe);
    const groupName = ({ event, hookName }: { event: string; hookName: string }): string =>
      event === 'agent.done' ? 'broken.group' : `app-${event.replace('.', '_')}-${hookName}`;
    await expect(setupMessageBusIntegration(bus, existing, { componentId: 'app', groupName })).rejects.toBeInstanceOf(InvalidConfigError);
    expect(existing.listHooks().map((h) => `${h.event}/${h.name}`)).toEqual(['agent.thought/h0', 'agent.thought/h1', 'agent.done/h0']);
    expect(existing.listPipes()).toEqual([{ event: 'agent.done', pipe }]);
    await waitFor('no subscriptions left', async () => (await bus.healthCheck()).metrics.activeSubscriptions === 0);
  });
});
