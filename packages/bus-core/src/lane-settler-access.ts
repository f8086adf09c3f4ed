/**
 * The bridge from the settler (lane-settling.ts) to SessionLanes' private state and steps, kept
 * apart from the dispatcher so each file has one job.
 */
import type { LaneCounts, Held, Lane, Phase } from './lane-table.js';
import type { ConsumerSlot } from './lane-consumers.js';
import type { SettlerHost } from './lane-settling.js';
import type { LaneDelivery, LaneObserver, SessionLanesHooks } from './lane-types.js';
import type { SessionLanes } from './session-lanes.js';

/**
 * The settler's access to the lanes' private state and steps: one small object per lanes instead of
 * a closure per method (a session-bound group per session makes 100,000 lanes: issue 11).
 */
export class SettlerAccess<D extends LaneDelivery> implements SettlerHost<D> {
  readonly hooks: SessionLanesHooks<D>;
  readonly observer: LaneObserver<D>;
  readonly counts: LaneCounts;

  constructor(private readonly lanes: SessionLanes<D>) {
    this.hooks = lanes['hooks'];
    this.observer = lanes['observer'];
    this.counts = lanes['counts'];
  }

  setPhase(lane: Lane<D>, phase: Phase): void {
    this.lanes['setPhase'](lane, phase);
  }

  wait(lane: Lane<D>, phase: 'retrying' | 'settling', delayMs: number, then: () => void): void {
    this.lanes['wait'](lane, phase, delayMs, then);
  }

  completeHead(lane: Lane<D>, held: Held<D>): void {
    this.lanes['completeHead'](lane, held);
  }

  endInterrupted(lane: Lane<D>, held: Held<D>): void {
    this.lanes['endInterrupted'](lane, held);
  }

  interrupted(lane: Lane<D>, held: Held<D>): boolean {
    return this.lanes['interrupted'](lane, held);
  }

  safely(observe: () => void): void {
    this.lanes['safely'](observe);
  }

  clearFailing(held: Held<D>): void {
    this.lanes['clearFailing'](held);
  }

  settleStarted(): void {
    this.lanes['settleStarted']();
  }

  settleEnded(): void {
    this.lanes['settleEnded']();
  }

  freeSlot(slot: ConsumerSlot): void {
    this.lanes['freeSlot'](slot);
  }

  makeReady(lane: Lane<D>): void {
    this.lanes['makeReady'](lane);
  }
}
