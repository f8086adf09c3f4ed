import { describe, expect, it } from 'vitest';
import { WakeableDelay } from '../src/wakeable-delay.js';

describe('WakeableDelay', () => {
  it('sleep resolves after its time when nobody wakes it', async () => {
    const delay = new WakeableDelay();
    const started = performance.now();
    await delay.sleep(30);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
  });

  it('wake ends a long sleep at once; a wake with nobody asleep does not cut the next sleep short', async () => {
    const delay = new WakeableDelay();
    delay.wake();
    let ended = false;
    const sleeping = delay.sleep(60_000).then(() => (ended = true));
    await new Promise((r) => setImmediate(r));
    expect(ended).toBe(false);
    delay.wake();
    await sleeping;
    expect(ended).toBe(true);
  });
});
