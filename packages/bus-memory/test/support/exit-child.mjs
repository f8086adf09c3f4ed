/**
 * Run by memory-process-exit.test.ts in a child process (from the built dist). argv[2] is the
 * scenario. The process must exit on its own: no timer of the bus may keep it alive.
 *   closed  - a retry waiting a minute, a handler that never settles, one with a deadline, a
 *             publish waiting for room and a message waiting for its target, then close().
 *   idle    - a bus that handled a message and is never closed.
 */
import { createMessageBus } from '../../dist/index.js';

const scenario = process.argv[2];
const m = (sessionId, eventType, extra = {}) => ({ sessionId, eventType, componentSource: 'child', pattern: 'pub_sub', ...extra });

if (scenario === 'closed') {
  const bus = createMessageBus({
    maxQueueSize: 1,
    closeTimeoutMs: 50,
    handlerTimeoutMs: 0,
    publishTimeoutMs: 60_000,
    retry: { initialDelayMs: 60_000, maxDelayMs: 60_000 },
  });
  await bus.subscribe('fail', () => {
    throw new Error('retry in a minute');
  });
  await bus.subscribe('stuck', () => new Promise(() => undefined));
  await bus.subscribe(
    'slow',
    (_e, { signal }) =>
      new Promise((resolve) => {
        const timer = setTimeout(resolve, 60_000);
        signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        });
      }),
    { handlerTimeoutMs: 30_000 },
  );
  await bus.publish(m('a', 'fail'));
  await bus.publish(m('b', 'stuck'));
  await bus.publish(m('c', 'slow'));
  const waiting = bus.publish(m('b', 'stuck')).catch((error) => error.name);
  await bus.publish(m('d', 'task', { pattern: 'point_to_point', componentTarget: 'nobody' }));
  await new Promise((resolve) => setTimeout(resolve, 50));
  await bus.close();
  process.stdout.write(`closed; waiting publish: ${await waiting}\n`);
} else if (scenario === 'idle') {
  const bus = createMessageBus();
  let handled = false;
  await bus.subscribe('work', () => {
    handled = true;
  }, { componentId: 'worker', handlerTimeoutMs: 5_000 });
  await bus.publish(m('s', 'work'));
  while (!handled) await new Promise((resolve) => setTimeout(resolve, 1));
  process.stdout.write('idle\n');
} else {
  throw new Error(`unknown scenario ${scenario}`);
}
