/**
 * The bridge from the settler (lane-settling.ts) to SessionLanes' private state and steps, kept
 * apart from the dispatcher so each file has one job.
 */
import type { LaneCounts, Held, Lane, Phase } from './lane-table.js';
import type { ConsumerSlot } from './lane-consumers.js';
import { LaneSettler, type SettlerHost } from './lane-settling.js';
import type { LaneDelivery, LaneObserver, SessionLanesHooks } from './lane-types.js';
import type { SessionLanes } from './session-lanes.js';

/**
 * The settler with its access to the lanes' private state and steps: one small object per lanes
 * instead of a closure per method, or a settler beside its access (a session-bound group per session
 * makes 100,000 lanes, and a fan-out touches each group's: issue 11).
 */
export class SettlerAccess<D extends LaneDelivery> extends LaneSettler<D> implements SettlerHost<D> {
  readonly hooks: SessionLanesHooks<D>;
  readonly observer: LaneObserver<D>;
  readonly counts: LaneCounts;
  private readonly owner: SessionLanes<D>;

  constructor(lanes: SessionLanes<D>) {
    super();
    this.owner = lanes;
    this.hooks = lanes['hooks'];
    this.observer = lanes['observer'];
    this.counts = lanes['counts'];
  }

  setPhase(lane: Lane<D>, phase: Phase): void {
    this.owner['setPhase'](lane, phase);
  }

  wait(lane: Lane<D>, phase: 'retrying' | 'settling', delayMs: number, then: () => void): void {
    this.owner['wait'](lane, phase, delayMs, then);
  }

  completeHead(lane: Lane<D>, held: Held<D>): void {
    this.owner['completeHead'](lane, held);
  }

  endInterrupted(lane: Lane<D>, held: Held<D>): void {
    this.owner['endInterrupted'](lane, held);
  }

  interrupted(lane: Lane<D>, held: Held<D>): boolean {
    return this.owner['interrupted'](lane, held);
  }

  safely(observe: () => void): void {
    this.owner['safely'](observe);
  }

  clearFailing(held: Held<D>): void {
    this.owner['clearFailing'](held);
  }

  settleStarted(): void {
    this.owner['settleStarted']();
  }

  settleEnded(): void {
    this.owner['settleEnded']();
  }

  freeSlot(slot: ConsumerSlot): void {
    this.owner['freeSlot'](slot);
  }

  makeReady(lane: Lane<D>): void {
    this.owner['makeReady'](lane);
  }
}
