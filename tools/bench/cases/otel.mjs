#!/usr/bin/env node
/**
 * What `instrumentBus` costs with no OpenTelemetry SDK registered (issue 15: at most 5% per
 * message): a memory bus beside the same memory bus wrapped by `@woodwork/bus-otel`, same work, in
 * one run. Only `@opentelemetry/api` is loaded, so every tracer and meter is the API's no-op, as in
 * an app that installed the package and never set up an SDK.
 * Both: 1 KiB payloads over 100 sessions, a window of publishes in flight, one durable group; the
 * two targets alternate for `--rounds` rounds after a warm-up of each (the machine's load drifts),
 * and each reports its median msg/s and CPU us per message; then p50/p99 (publish call to handler
 * start) at a fixed rate of half the plain bus's median. The verdict is the median of the rounds'
 * ratios (wrapped / plain CPU per message, the two runs of a round side by side, so they share the
 * machine's load of the moment). Then the wrapper's own work alone, with the noise of the bus taken
 * away: publish and one handler call through a bus that does nothing, wrapped and not, in CPU
 * nanoseconds per message. Last line: one JSON object.
 *
 * `--instructions` counts instructions instead of time (valgrind's callgrind; repeatable on a busy
 * machine, where CPU time varies by +-15% from one round to the next): the same alternating runs
 * in one process (node --predictable: compiling and collecting on the main thread, in the same
 * order each time) under callgrind, each run cut out by a dump at its `process.cpuUsage()` calls,
 * instructions per message of each target and the median of the rounds' ratios. Slow (valgrind runs
 * node some 50 times slower): defaults to 10,000 messages and 5 rounds.
 *
 * `--control` adds the plain bus a second time as a third target (an A/A test): its ratio to the
 * first shows how far the measure itself wanders at the moment.
 *
 *   npm run bench -- otel [--messages 100000] [--rounds 9] [--sessions 100] [--inflight 256]
 *                         [--payload 1024] [--seconds 2] [--control]
 *   npm run bench -- otel --instructions [--messages 10000] [--rounds 5] [--control]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { createMessageBus } from '@woodwork/bus-memory';

// The root `npm run bench` builds the backends; this case also needs @woodwork/bus-otel built.
const otelDist = new URL('../../../packages/bus-otel/dist/index.js', import.meta.url);
if (!existsSync(otelDist)) {
  const built = spawnSync('npx', ['nx', 'run', '@woodwork/bus-otel:build', '--outputStyle=static'], {
    cwd: new URL('../../../', import.meta.url),
    stdio: ['ignore', 2, 2],
    env: { ...process.env, NX_DAEMON: 'false', NX_TUI: 'false', NX_NO_CLOUD: 'true' },
  });
  if (built.status !== 0) {
    console.error('could not build @woodwork/bus-otel (npx nx run @woodwork/bus-otel:build)');
    process.exit(1);
  }
}
const { instrumentBus } = await import('@woodwork/bus-otel');
import { envelopeMaker, fmt, latencyAtRate, printTable, throughput } from '../lib/stats.mjs';

const { values } = parseArgs({
  options: {
    messages: { type: 'string' },
    rounds: { type: 'string' },
    instructions: { type: 'boolean', default: false },
    control: { type: 'boolean', default: false },
    // Internal: the run under callgrind (see --instructions).
    'callgrind-child': { type: 'boolean', default: false },
    sessions: { type: 'string', default: '100' },
    inflight: { type: 'string', default: '256' },
    concurrency: { type: 'string', default: '64' },
    payload: { type: 'string', default: '1024' },
    seconds: { type: 'string', default: '2' },
  },
});
const counting = values.instructions || values['callgrind-child'];
const MESSAGES = Number(values.messages ?? (counting ? 10_000 : 100_000));
const ROUNDS = Number(values.rounds ?? (counting ? 5 : 9));
const SESSIONS = Number(values.sessions);
const INFLIGHT = Number(values.inflight);
const CONCURRENCY = Number(values.concurrency);
const PAYLOAD = Number(values.payload);
const SECONDS = Number(values.seconds);
const envelope = envelopeMaker({ sessions: SESSIONS, payloadBytes: PAYLOAD });
const work = { messages: MESSAGES, inflight: INFLIGHT, envelope };

function opener(wrap) {
  return () => {
    const inner = createMessageBus({ maxQueueSize: 1_000_000, concurrency: CONCURRENCY });
    const bus = wrap ? instrumentBus(inner) : inner;
    return {
      publish: (message) => bus.publish(message),
      subscribe: (handler) => bus.subscribe('bench.msg', handler, { componentId: 'bench' }),
      close: () => bus.close(),
    };
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const targets = [
  { name: '@woodwork/bus-memory', open: opener(false), runs: [] },
  { name: 'instrumentBus(memory), no SDK', open: opener(true), runs: [] },
];
// `--control`: the plain bus a second time, as a third target: its ratio to the first is the
// noise of the measure on this machine at this moment (an A/A test).
if (values.control) targets.push({ name: '@woodwork/bus-memory (control)', open: opener(false), runs: [] });

/** The warm-up of each, then `ROUNDS` rounds of both, alternating which goes first. */
async function alternatingRuns() {
  for (const t of targets) await throughput(t.open, work); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which goes first, so neither always runs on the warmer (or more loaded) side.
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const t of order) t.runs.push(await throughput(t.open, work));
  }
}

if (values['callgrind-child']) {
  // Under callgrind: the runs only (each one between two process.cpuUsage() calls), nothing else.
  await alternatingRuns();
  process.exit(0);
}
if (values.instructions) {
  countInstructions();
  process.exit(0);
}

/**
 * `--instructions`: this case's alternating runs in one node process under callgrind, which dumps
 * its counts each time `process.cpuUsage()` asks libuv for the CPU time (`uv_getrusage`): the
 * throughput helper does so right before a run's first publish and right after its last handler
 * call, so every second part of the dump is one run, and nothing else (no startup, no open or close).
 */
function countInstructions() {
  const dir = mkdtempSync(join(tmpdir(), 'otel-callgrind-'));
  try {
    // --predictable: V8 does its compiling and collecting on the main thread, in the same order each
    // time, so two runs of the same work count about the same (without it, +-10% from run to run).
    const args = ['--tool=callgrind', '--dump-before=uv_getrusage', `--callgrind-out-file=${join(dir, 'out')}`, process.execPath, '--predictable', fileURLToPath(import.meta.url), '--callgrind-child'];
    for (const key of ['messages', 'rounds', 'sessions', 'inflight', 'concurrency', 'payload']) args.push(`--${key}`, String(key === 'messages' ? MESSAGES : key === 'rounds' ? ROUNDS : values[key]));
    if (values.control) args.push('--control');
    const started = Date.now();
    const run = spawnSync('valgrind', args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (run.error || run.status !== 0) {
      console.error(`valgrind --tool=callgrind failed (${run.error?.message ?? `exit ${run.status}`}); is valgrind installed (apt-get install valgrind)?\n${(run.stderr ?? '').slice(-2000)}`);
      process.exit(1);
    }
    const parts = readdirSync(dir)
      .filter((f) => /^out\.\d+$/.test(f))
      .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)))
      .map((f) => Number(/^(?:summary|totals): (\d+)/m.exec(readFileSync(join(dir, f), 'utf8'))?.[1]));
    const sequence = [...targets];
    for (let round = 0; round < ROUNDS; round++) sequence.push(...(round % 2 === 0 ? targets : [...targets].reverse()));
    if (parts.length !== 2 * sequence.length || parts.some((n) => !Number.isFinite(n))) {
      console.error(`expected ${2 * sequence.length} callgrind parts (two per run), got ${parts.length}: did something else call process.cpuUsage()?`);
      process.exit(1);
    }
    // Parts 1, 3, 5, ... are the runs; the warm-up of each (the first two runs) is left out.
    sequence.forEach((t, i) => {
      if (i >= targets.length) t.runs.push(parts[2 * i + 1] / MESSAGES);
    });
    const [plainT, wrappedT, controlT] = targets;
    const ratios = plainT.runs.map((p, i) => wrappedT.runs[i] / p);
    const overhead = median(ratios) - 1;
    const controlRatios = controlT === undefined ? undefined : plainT.runs.map((p, i) => controlT.runs[i] / p);
    console.log(`otel wrapper benchmark, instructions (valgrind --tool=callgrind, node --predictable, no SDK registered): ${fmt(MESSAGES)} messages of ${PAYLOAD} B over ${SESSIONS} sessions per run, ${INFLIGHT} in flight, concurrency ${CONCURRENCY}, ${ROUNDS} alternating rounds after a warm-up of each (${fmt((Date.now() - started) / 1000)} s)`);
    console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);
    console.log('');
    for (const t of targets) console.log(`${t.name.padEnd(36)} instructions/msg: median ${fmt(median(t.runs))}; per round ${t.runs.map((v) => fmt(v)).join(', ')}`);
    console.log(`wrapped / plain per round: ${ratios.map((r) => fmt(r, 3)).join(', ')}; median ${fmt(median(ratios), 3)} (${overhead >= 0 ? '+' : ''}${fmt(overhead * 100, 1)}% instructions per message; goal <= +5%)`);
    if (controlRatios) console.log(`control / plain per round (the same bus twice: the noise): ${controlRatios.map((r) => fmt(r, 3)).join(', ')}; median ${fmt(median(controlRatios), 3)}`);
    console.log(
      JSON.stringify({
        backend: 'otel',
        over: 'memory',
        sdk: false,
        measure: 'instructions',
        messages: MESSAGES,
        rounds: ROUNDS,
        payloadBytes: PAYLOAD,
        sessions: SESSIONS,
        inflight: INFLIGHT,
        instructionsPerMessage: Math.round(median(wrappedT.runs)),
        rawInstructionsPerMessage: Math.round(median(plainT.runs)),
        overheadPercent: Number((overhead * 100).toFixed(1)),
        ...(controlRatios ? { controlPercent: Number(((median(controlRatios) - 1) * 100).toFixed(1)) } : {}),
      }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await alternatingRuns();
const rows = targets.map((t) => ({
  name: t.name,
  open: t.open,
  perSecond: median(t.runs.map((r) => r.perSecond)),
  cpuUsPerMessage: median(t.runs.map((r) => r.cpuUsPerMessage)),
  cpuRuns: t.runs.map((r) => r.cpuUsPerMessage),
  rateRuns: t.runs.map((r) => r.perSecond),
}));
const rate = Math.floor(rows[0].perSecond / 2);
for (const row of rows) Object.assign(row, await latencyAtRate(row.open, { ratePerSecond: rate, seconds: SECONDS, envelope }), { rate });
const [plain, wrapped, control] = rows;
// Each round's two runs ran side by side, under the same load: their ratio is steadier than the
// ratio of the two medians.
const cpuRatios = plain.cpuRuns.map((p, i) => wrapped.cpuRuns[i] / p);

/**
 * The wrapper's own work per message: `publish` and one handler call (as the bus makes it) through a
 * bus that does nothing, wrapped and not; the difference, in CPU ns, is what `instrumentBus` adds.
 */
async function wrapperNs(count) {
  const result = { messageId: 'm', duplicate: false };
  const nullBus = () => {
    let handler;
    return {
      backend: 'null',
      publish: async () => result,
      subscribe: async (_p, h) => ((handler = h), 'sub'),
      unsubscribe: async () => true,
      createSessionQueue: async () => {},
      deleteSessionQueue: async () => {},
      getDeadLetterMessages: async () => [],
      redriveDeadLetters: async () => ({ redriven: [], skipped: [] }),
      purgeDeadLetters: async () => ({ purged: 0 }),
      healthCheck: async () => ({}),
      close: async () => {},
      deliver: (e, ctx) => handler(e, ctx),
    };
  };
  const time = async (wrap) => {
    const inner = nullBus();
    const bus = wrap ? instrumentBus(inner) : inner;
    let seen = 0;
    await bus.subscribe('bench.msg', () => void seen++, { componentId: 'bench' });
    const e = envelope(0, 0);
    const ctx = { attempt: 1, group: 'bench~bench~msg', subscriptionId: 'sub', get signal() { throw new Error('read signal'); } };
    const run = async (n) => {
      const cpu = process.cpuUsage();
      for (let i = 0; i < n; i++) {
        await bus.publish(e);
        inner.deliver(e, ctx);
      }
      const used = process.cpuUsage(cpu);
      return ((used.user + used.system) * 1000) / n;
    };
    await run(count / 10);
    return run(count);
  };
  const plainNs = [];
  const wrappedNs = [];
  for (let r = 0; r < 5; r++) {
    plainNs.push(await time(false));
    wrappedNs.push(await time(true));
  }
  return { plainNs: median(plainNs), wrappedNs: median(wrappedNs) };
}
const alone = await wrapperNs(1_000_000);
const cpuOverhead = median(cpuRatios) - 1;
const throughputRatio = wrapped.perSecond / plain.perSecond;

console.log(`otel wrapper benchmark (no SDK registered): ${fmt(MESSAGES)} messages of ${PAYLOAD} B over ${SESSIONS} sessions, ${INFLIGHT} in flight, concurrency ${CONCURRENCY}, median of ${ROUNDS} alternating rounds`);
console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);
console.log('');
printTable(rows);
console.log('');
for (const row of rows) {
  console.log(`${row.name.padEnd(36)} CPU us/msg per round: ${row.cpuRuns.map((v) => fmt(v, 2)).join(', ')}`);
  console.log(`${''.padEnd(36)} msgs/s per round:     ${row.rateRuns.map((v) => fmt(v)).join(', ')}`);
}
console.log(`wrapped / plain CPU per message, per round: ${cpuRatios.map((r) => fmt(r, 3)).join(', ')}`);
const controlRatios = control === undefined ? undefined : plain.cpuRuns.map((p, i) => control.cpuRuns[i] / p);
if (controlRatios) console.log(`control / plain CPU per message, per round (the same bus twice: the noise): ${controlRatios.map((r) => fmt(r, 3)).join(', ')}; median ${fmt(median(controlRatios), 3)}`);
console.log(`wrapped / plain: throughput ${fmt(throughputRatio, 3)}; CPU per message ${fmt(wrapped.cpuUsPerMessage, 2)} us vs ${fmt(plain.cpuUsPerMessage, 2)} us (medians); median of the rounds' ratios ${cpuOverhead >= 0 ? '+' : ''}${fmt(cpuOverhead * 100, 1)}% (goal <= +5%)`);
const aloneNs = alone.wrappedNs - alone.plainNs;
console.log(`the wrapper alone (a bus that does nothing, median of 5 x 1,000,000, CPU time): ${fmt(alone.plainNs)} ns -> ${fmt(alone.wrappedNs)} ns per publish + handler call, ${aloneNs >= 0 ? '+' : ''}${fmt(aloneNs)} ns (${fmt((aloneNs / 1000 / plain.cpuUsPerMessage) * 100, 1)}% of the memory bus's CPU per message)`);
console.log(
  JSON.stringify({
    backend: 'otel',
    over: 'memory',
    sdk: false,
    messages: MESSAGES,
    rounds: ROUNDS,
    payloadBytes: PAYLOAD,
    sessions: SESSIONS,
    inflight: INFLIGHT,
    throughput: Math.round(wrapped.perSecond),
    rawThroughput: Math.round(plain.perSecond),
    ratio: Number(throughputRatio.toFixed(3)),
    cpuUsPerMessage: Number(wrapped.cpuUsPerMessage.toFixed(2)),
    rawCpuUsPerMessage: Number(plain.cpuUsPerMessage.toFixed(2)),
    cpuOverheadPercent: Number((cpuOverhead * 100).toFixed(1)),
    rateForLatency: rate,
    p50Us: wrapped.p50Us,
    p99Us: wrapped.p99Us,
    rawP50Us: plain.p50Us,
    rawP99Us: plain.p99Us,
    wrapperAloneNs: Math.round(aloneNs),
    ...(controlRatios ? { controlPercent: Number(((median(controlRatios) - 1) * 100).toFixed(1)) } : {}),
  }),
);
process.exit(0);
