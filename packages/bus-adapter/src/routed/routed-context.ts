/**
 * The `DeliveryContext` a handler of a routed subscription gets: the member's attempt and group,
 * the routed subscription's id (not the member's own), and a signal that fires when the member's
 * fires (timeout, session deleted, close, lease lost) or, for a subscription spanning members, the
 * gate's (its timeout, session deletion, stop). The signal is made only when read, as core's is.
 */
import type { DeliveryContext } from '@woodwork/bus-core';

export class RoutedDeliveryContext implements DeliveryContext {
  private combined: AbortSignal | undefined;

  constructor(
    private readonly member: DeliveryContext,
    readonly subscriptionId: string,
    private readonly gate?: DeliveryContext,
  ) {}

  get attempt(): number {
    return this.member.attempt;
  }

  get group(): string {
    return this.member.group;
  }

  get signal(): AbortSignal {
    if (this.gate === undefined) return this.member.signal;
    this.combined ??= AbortSignal.any([this.gate.signal, this.member.signal]);
    return this.combined;
  }
}
