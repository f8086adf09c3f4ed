/** Waiting for a promise at most so long. */

/**
 * Resolves with `promise`'s value when it fulfils within `ms`, with undefined when it does not (or
 * rejects, when `rejections` is 'ignore'); a rejection within `ms` rejects otherwise.
 */
export async function withDeadline<T>(promise: Promise<T>, ms: number, rejections: 'ignore' | 'throw' = 'throw'): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([rejections === 'ignore' ? promise.catch(() => undefined) : promise, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
