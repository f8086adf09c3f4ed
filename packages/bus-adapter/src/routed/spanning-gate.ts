/**
 * The gate of a subscription that spans members (`'*'` on a routed bus of several members): each
 * member delivers to it on its own, and the gate makes the members' deliveries one stream again,
 * with core's `SessionLanes`:
 * - one session's messages run one at a time, whichever member carried them;
 * - at most `concurrency` attempts run at once across all members (not that many per member);
 * - the handler timeout counts from the handler's start (time waiting in the gate does not count).
 *
 * What stays with each member: retries, backoff, dead letters and acknowledgements. The gate runs
 * exactly one attempt per member delivery and hands its outcome back (the member's handler
 * returns or resolves, or throws or rejects with the handler's error), so a failure is retried and dead-lettered by the
 * member that carried the message, as on that backend alone. For that the lanes see a stand-in
 * envelope with `maxRetries: 0` (one attempt, its failure "dead-lettered", which here means: given
 * back to the member), while the handler gets the member's envelope and attempt number.
 *
 * Order between members is not promised (see the README, "Routed bus"): a session's message on
 * member A and its next on member B enter the gate in the order the two members deliver them,
 * which is not the order they were published in. A message waiting for its retry on member A does
 * not hold the session's messages on member B.
 */
import {
  BusClosedError,
  MessageDeliveryMode,
  SessionLanes,
  type DeliveryContext,
  type LaneDelivery,
  type MessageEnvelope,
  type MessageHandler,
} from '@woodwork/bus-core';
import { RoutedDeliveryContext } from './routed-context.js';

interface GateDelivery extends LaneDelivery {
  /** What the member gave: the handler gets these. */
  readonly memberEnvelope: MessageEnvelope;
  readonly memberContext: DeliveryContext;
  /** Set when the attempt ended before the member's handler call returned (a sync handler's). */
  outcome: 'pending' | 'handled' | 'failed';
  error: unknown;
  /** The member's promise, made only when the attempt did not end within the call. */
  resolve: (() => void) | undefined;
  reject: ((error: unknown) => void) | undefined;
}

function handled(delivery: GateDelivery): void {
  if (delivery.resolve) delivery.resolve();
  else delivery.outcome = 'handled';
}

function failed(delivery: GateDelivery, error: unknown): void {
  if (delivery.reject) delivery.reject(error);
  else {
    delivery.outcome = 'failed';
    delivery.error = error;
  }
}

export interface SpanningGateOptions {
  readonly subscriptionId: string;
  readonly group: string;
  readonly handler: MessageHandler;
  readonly concurrency: number;
  readonly handlerTimeoutMs: number;
}

export class SpanningGate {
  private readonly lanes: SessionLanes<GateDelivery>;
  /** The delivery whose envelope the lanes just asked for: its handler call follows synchronously. */
  private starting: GateDelivery | undefined;
  private opened = false;
  private detached = false;
  private stopped = false;

  constructor(private readonly options: SpanningGateOptions) {
    this.lanes = new SessionLanes<GateDelivery>(
      {
        acknowledge: (delivery, reason) => {
          if (reason === 'handled') handled(delivery);
        },
        // One attempt per member delivery: its failure goes back to the member, which retries it.
        deadLetter: (delivery, failure) => failed(delivery, failure.error),
        retryDelayMs: () => 0,
        envelopeFor: (delivery) => {
          this.starting = delivery;
          return delivery.memberEnvelope;
        },
      },
      {
        left: () => {
          if (this.detached && this.lanes.size === 0) void this.stop(0);
        },
      },
    );
  }

  /**
   * The member-side handler: each member subscription delivers through it. When the delivery can
   * start at once (its session idle in the gate, a slot free) it starts within this call, and a
   * handler that returns no promise ends within it too: the member then gets the outcome as a sync
   * handler's (returned or thrown), as it would from that handler subscribed on it alone. A member
   * whose handlers end at once frees its slot at once; one given a promise per message holds a slot
   * over several microtasks, and a publisher that never yields runs ahead of it (issue 14).
   */
  readonly memberHandler: MessageHandler = (envelope, context) => {
    const delivery: GateDelivery = {
      // The lanes read only these three fields of it (session, attempts allowed).
      envelope: { sessionId: envelope.sessionId, maxRetries: 0, deliveryMode: MessageDeliveryMode.AT_LEAST_ONCE } as MessageEnvelope,
      attemptsMade: 0,
      memberEnvelope: envelope,
      memberContext: context,
      outcome: 'pending',
      error: undefined,
      resolve: undefined,
      reject: undefined,
    };
    if (!this.lanes.push(delivery)) throw new BusClosedError('delivery');
    if (this.opened) this.lanes.pump();
    if (delivery.outcome === 'handled') return undefined;
    if (delivery.outcome === 'failed') throw delivery.error;
    return new Promise<void>((resolve, reject) => {
      delivery.resolve = resolve;
      delivery.reject = reject;
    });
  };

  /** Lets attempts start (after `subscribe` has returned the id: none runs before). */
  open(): void {
    if (this.opened || this.stopped) return;
    this.opened = true;
    this.lanes.attach({
      subscriptionId: this.options.subscriptionId,
      group: this.options.group,
      concurrency: this.options.concurrency,
      handlerTimeoutMs: this.options.handlerTimeoutMs,
      handler: (envelope, gateContext) => {
        const delivery = this.starting;
        this.starting = undefined;
        // SessionLanes calls envelopeFor and then the handler in one synchronous step; if that ever
        // changed, fail the attempt (the member retries it) rather than run it with another's context.
        if (delivery === undefined || delivery.memberEnvelope !== envelope) throw new Error('routed gate: the delivery of this attempt is unknown');
        const context = new RoutedDeliveryContext(delivery.memberContext, this.options.subscriptionId, gateContext);
        return this.options.handler(envelope, context);
      },
    });
  }

  /**
   * The members stopped delivering (unsubscribe): what the gate holds still runs (the members
   * count it as running), then the gate stops.
   */
  detach(): void {
    this.detached = true;
    if (!this.opened) this.open();
    if (this.lanes.size === 0) void this.stop(0);
  }

  /** Deletes a session: its running attempt is aborted, its waiting deliveries given back as failed. */
  abortSession(sessionId: string, reason: unknown): void {
    for (const delivery of this.lanes.abortSession(sessionId)) failed(delivery, reason);
  }

  /** Stops: running attempts are aborted and waited for up to `timeoutMs`; the rest is given back. */
  async stop(timeoutMs: number): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const unfinished = await this.lanes.stop(timeoutMs);
    const closed = new BusClosedError('delivery');
    for (const delivery of unfinished) failed(delivery, closed);
  }
}
