/**
 * Builds a routed bus from a checked `type: routed` config: each member is created by the
 * factory by its backend name (so this module imports no backend), all at once; if any member
 * cannot be created, those already made are closed again and the error names the member (a
 * missing backend package: `MemberNotInstalledError`, with the `npm install` to run).
 */
import { type MessageBus } from '@woodwork/bus-core';
import type { ResolvedBusConfig } from '../bus-config.js';
import { BackendNotInstalledError } from '../errors.js';
import { RoutedMessageBus } from './routed-bus.js';
import { MemberFailuresError, MemberNotInstalledError, type MemberFailure } from './routed-errors.js';

export async function createRoutedBus(
  config: ResolvedBusConfig,
  createMember: (config: ResolvedBusConfig, member: string) => Promise<MessageBus>,
): Promise<RoutedMessageBus> {
  const settings = config.routed!;
  const names = Object.keys(settings.members);
  const results = await Promise.allSettled(names.map((name) => createMember(settings.members[name]!, name)));
  const made = new Map<string, MessageBus>();
  const failures: MemberFailure[] = [];
  results.forEach((result, i) => {
    const name = names[i]!;
    if (result.status === 'fulfilled') made.set(name, result.value);
    else failures.push({ member: name, error: result.reason instanceof BackendNotInstalledError ? new MemberNotInstalledError(name, result.reason) : result.reason });
  });
  if (failures.length > 0) {
    await Promise.allSettled([...made.values()].map((bus) => bus.close()));
    throw failures.length === 1 ? failures[0]!.error : new MemberFailuresError('creating the routed bus', failures);
  }
  try {
    return new RoutedMessageBus({ members: made, routes: settings.routes, defaultMember: settings.defaultMember, ...config.options });
  } catch (error) {
    await Promise.allSettled([...made.values()].map((bus) => bus.close()));
    throw error;
  }
}
