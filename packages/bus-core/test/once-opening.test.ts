/**
 * OnceOpening: calls for a key while it opens share one open; the value reaches `opened` before the
 * callers resume; a failed open is forgotten and the next call opens afresh; `settled` waits for
 * every open in flight.
 */
import { describe, expect, it } from 'vitest';
import { OnceOpening } from '../src/once-opening.js';

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe('OnceOpening', () => {
  it('shares one open among the calls made while it runs, and tells `opened` first', async () => {
    const once = new OnceOpening<string>();
    const table = new Map<string, string>();
    let makes = 0;
    const gate = deferred<string>();
    const make = () => (makes++, gate.promise);
    const calls = [once.open('g', make, (v) => table.set('g', v)), once.open('g', make, (v) => table.set('g', v))];
    expect(once.has('g')).toBe(true);
    const seen: Array<string | undefined> = [];
    const waiters = calls.map((call) => call.then(() => seen.push(table.get('g'))));
    gate.resolve('group');
    expect(await Promise.all(calls)).toEqual(['group', 'group']);
    await Promise.all(waiters);
    expect(makes).toBe(1);
    expect(seen).toEqual(['group', 'group']);
    expect(once.has('g')).toBe(false);
  });

  it('forgets a failed open: the next call opens again', async () => {
    const once = new OnceOpening<number>();
    let makes = 0;
    await expect(once.open('g', () => (makes++, Promise.reject(new Error('no'))), () => undefined)).rejects.toThrow('no');
    expect(once.has('g')).toBe(false);
    expect(await once.open('g', () => (makes++, Promise.resolve(2)), () => undefined)).toBe(2);
    expect(makes).toBe(2);
  });

  it('settled waits for every open in flight, failed ones included', async () => {
    const once = new OnceOpening<number>();
    const a = deferred<number>();
    const b = deferred<number>();
    void once.open('a', () => a.promise, () => undefined);
    void once.open('b', () => b.promise, () => undefined).catch(() => undefined);
    let done = false;
    const settled = once.settled().then(() => (done = true));
    a.resolve(1);
    await Promise.resolve();
    expect(done).toBe(false);
    b.reject(new Error('no'));
    await settled;
    expect(done).toBe(true);
  });
});
