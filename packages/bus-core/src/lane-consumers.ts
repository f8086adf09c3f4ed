/**
 * The consumers (replicas) the lanes hand attempts to, each with its own count of running attempts:
 * a replica subscribed with `concurrency: 1` never runs two at once, whatever its neighbours allow.
 * Attempts go to the next consumer in turn that has a free slot.
 */
import type { LaneConsumer } from './lane-types.js';

/** A consumer and its running attempts. Outlives `detach` while its attempts run. */
export interface ConsumerSlot {
  readonly consumer: LaneConsumer;
  running: number;
  attached: boolean;
}

const NO_SLOTS: readonly never[] = Object.freeze([]);

export class LaneConsumers {
  /** Shared while empty (never written: `attach` makes a new array). */
  private slots: ConsumerSlot[] = NO_SLOTS as never[];
  private next = 0;

  get size(): number {
    return this.slots.length;
  }

  /** Adds a consumer (a second attach of the same subscription id replaces the first). */
  attach(consumer: LaneConsumer): void {
    this.detach(consumer.subscriptionId);
    // Exact size: a push onto an empty array reserves 16 slots (lanes are made per group, one per session).
    this.slots = this.slots.concat({ consumer, running: 0, attached: true });
  }

  /** Takes the consumer out of the turn; its running attempts finish. False when unknown. */
  detach(subscriptionId: string): boolean {
    const at = this.slots.findIndex((s) => s.consumer.subscriptionId === subscriptionId);
    if (at < 0) return false;
    (this.slots[at] as ConsumerSlot).attached = false;
    this.slots.splice(at, 1);
    if (this.next > at) this.next--;
    return true;
  }

  /** The next consumer in turn with a free slot, its count already raised; undefined when all are busy. */
  take(): ConsumerSlot | undefined {
    const n = this.slots.length;
    for (let i = 0; i < n; i++) {
      const index = (this.next + i) % n;
      const slot = this.slots[index] as ConsumerSlot;
      if (slot.running < slot.consumer.concurrency) {
        this.next = (index + 1) % n;
        slot.running++;
        return slot;
      }
    }
    return undefined;
  }

  /** Running attempts of the attached consumers. */
  get running(): number {
    let total = 0;
    for (const slot of this.slots) total += slot.running;
    return total;
  }
}
