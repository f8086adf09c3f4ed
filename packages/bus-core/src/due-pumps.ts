/**
 * The due-pump batch of the session lanes: lanes whose pump is due run from one microtask.
 */

const RESOLVED = Promise.resolve();

/**
 * Lanes whose pump is due, run by one microtask (scheduled when the first is added), in the order
 * they were scheduled: a fan-out to 1,000 groups queues one microtask instead of 1,000 reactions,
 * and a group needs no function of its own for it (issue 11). Lanes scheduled while a batch runs go
 * to the next batch, on a later microtask, as a microtask of their own would have.
 */
let duePumps: Array<{ pump(): void }> = [];
let duePumpsScheduled = false;

function runDuePumps(): void {
  const batch = duePumps;
  duePumps = [];
  duePumpsScheduled = false;
  let failed = false;
  let failure: unknown;
  for (const lanes of batch) {
    try {
      lanes.pump();
    } catch (error) {
      // As its own microtask's would: reported (an unhandled rejection) without stopping the others.
      if (!failed) failure = error;
      failed = true;
    }
  }
  if (failed) throw failure;
}

/** Queues `lanes.pump()` on the current batch, scheduling the batch's microtask when it is the first. */
export function scheduleDuePump(lanes: { pump(): void }): void {
  duePumps.push(lanes);
  if (duePumpsScheduled) return;
  duePumpsScheduled = true;
  // The same microtask queue as `queueMicrotask`, without the AsyncResource and bound function
  // Node makes for each call.
  void RESOLVED.then(runDuePumps);
}
