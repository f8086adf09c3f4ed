#!/usr/bin/env node
/**
 * Handler deadlines, the shared ticker (attempt-runner.ts `DeadlineTicker`) against one timer per
 * attempt: CPU time per attempt of SessionLanes running sync handlers with `handlerTimeoutMs` set,
 * the two variants interleaved, median of the rounds. Build core first.
 *
 *   node bench/deadlines.mjs [--attempts 200000] [--rounds 7] [--timeout 30000]
 */
import { parseArgs } from 'node:util';
import { SessionLanes, createEnvelope } from '../dist/index.js';

const { values } = parseArgs({
  options: {
    attempts: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '7' },
    timeout: { type: 'string', default: '30000' },
  },
});
const ATTEMPTS = Number(values.attempts);
const ROUNDS = Number(values.rounds);
const TIMEOUT_MS = Number(values.timeout);

/** The alternative: a timer per attempt, cleared when it ends. */
class TimerPerAttempt {
  timers = new Map();
  watch(attempt) {
    this.timers.set(attempt, setTimeout(() => {
      this.timers.delete(attempt);
      attempt.timeOut();
    }, attempt.timeoutMs));
  }
  forget(attempt) {
    const timer = this.timers.get(attempt);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.timers.delete(attempt);
  }
  clear() {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}

const envelopes = Array.from({ length: 1000 }, (_, i) => createEnvelope({ sessionId: `s${i % 100}`, eventType: 'bench.x', componentSource: 'bench', payload: {} }));

async function round(variant) {
  let done = 0;
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  const lanes = new SessionLanes({
    acknowledge: () => {
      if (++done === ATTEMPTS) finish();
    },
    deadLetter: () => undefined,
    retryDelayMs: () => 1,
  });
  if (variant === 'timer per attempt') lanes.deadlines = new TimerPerAttempt();
  lanes.attach({ subscriptionId: 'b', group: 'g', handlerTimeoutMs: TIMEOUT_MS, concurrency: 64, handler: () => undefined });
  const before = process.cpuUsage();
  // Fed in slices so the lanes stay busy without holding every delivery at once.
  let pushed = 0;
  const feed = () => {
    for (let i = 0; i < 5000 && pushed < ATTEMPTS; i++, pushed++) lanes.push({ envelope: envelopes[pushed % 1000], attemptsMade: 0 });
    if (pushed < ATTEMPTS) setImmediate(feed);
  };
  feed();
  await finished;
  const used = process.cpuUsage(before);
  await lanes.stop(0);
  return ((used.user + used.system) * 1000) / ATTEMPTS; // ns per attempt
}

const results = { 'shared ticker': [], 'timer per attempt': [] };
for (let r = 0; r < ROUNDS; r++) {
  for (const variant of r % 2 === 0 ? ['shared ticker', 'timer per attempt'] : ['timer per attempt', 'shared ticker']) {
    results[variant].push(await round(variant));
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ticker = median(results['shared ticker']);
const timers = median(results['timer per attempt']);
console.log(`${ATTEMPTS} attempts x ${ROUNDS} rounds, handlerTimeoutMs ${TIMEOUT_MS}, node ${process.version}`);
console.log(`shared ticker      ${ticker.toFixed(0)} ns CPU per attempt (median)`);
console.log(`timer per attempt  ${timers.toFixed(0)} ns CPU per attempt (median)`);
console.log(`timer per attempt vs ticker: ${(((timers - ticker) / ticker) * 100).toFixed(1)}%`);
