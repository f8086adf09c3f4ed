/**
 * `setupMessageBusIntegration`: the design's section 5 setup. Moves an existing manager's hooks
 * and pipes to a new `MessageBusEventManager` and subscribes the hooks on the bus. All or nothing:
 * if a hook cannot be subscribed, the ones already subscribed are detached and every listener goes
 * back to the old manager.
 */
import { validateEventType, type MessageBus } from '@woodwork/bus-core';
import type { EventManager, HookEntry, PipeEntry } from './event-manager.js';
import { MessageBusEventManager, type MessageBusEventManagerOptions } from './message-bus-event-manager.js';
import type { AnyEvents, EventMapOf, EventName, Hook, Pipe } from './types.js';

export interface MessageBusIntegration<E extends EventMapOf<E>> {
  manager: MessageBusEventManager<E>;
  /** Ends the hook subscriptions (their durable groups stay). The bus stays open: it is the caller's. */
  close(): Promise<void>;
}

/**
 * Creates a `MessageBusEventManager` on `bus`, moves every hook (with its name, so group names stay
 * stable) and pipe (in order) from `existing` to it, and resolves once every hook is subscribed.
 * `existing` is left empty: use the returned manager from now on. Unless `options` say otherwise,
 * the new manager keeps `existing`'s `defaultSessionId` and `onHookError`.
 * Rejects with `InvalidMessageError` (field `event`) before anything moves if an event name
 * cannot travel on the bus.
 */
export async function setupMessageBusIntegration<E extends EventMapOf<E> = AnyEvents>(
  bus: MessageBus,
  existing: EventManager<E>,
  options: MessageBusEventManagerOptions,
): Promise<MessageBusIntegration<E>> {
  // Events without a session keep going to the session they went to, and failures to the same place.
  const manager = new MessageBusEventManager<E>(bus, {
    ...options,
    defaultSessionId: options?.defaultSessionId ?? existing.defaultSessionId,
    onHookError: options?.onHookError ?? existing.onHookError,
  });
  for (const { event } of [...existing.listHooks(), ...existing.listPipes()]) validateEventType(event, 'event');
  const { hooks, pipes } = existing.takeListeners();
  try {
    for (const { event, pipe } of pipes) manager.addPipe(event as EventName<E>, pipe as Pipe<E[EventName<E>]>);
    await Promise.all(
      hooks.map(({ event, hook, name }) => manager.registerHook(event as EventName<E>, hook as Hook<E[EventName<E>]>, { name })),
    );
  } catch (error) {
    await manager.close();
    restore(existing, hooks, pipes);
    throw error;
  }
  return { manager, close: () => manager.close() };
}

function restore<E extends EventMapOf<E>>(manager: EventManager<E>, hooks: HookEntry[], pipes: PipeEntry[]): void {
  for (const { event, hook, name } of hooks) manager.addHook(event as EventName<E>, hook as Hook<E[EventName<E>]>, { name });
  for (const { event, pipe } of pipes) manager.addPipe(event as EventName<E>, pipe as Pipe<E[EventName<E>]>);
}
