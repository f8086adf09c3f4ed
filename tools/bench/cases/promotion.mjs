#!/usr/bin/env node
/**
 * What each target's young collections promote to the old generation at a fixed rate: the measure
 * that found the bus's extra full collections (a `Map` whose replaced tables made every young
 * collection promote the held deliveries: core's dictionary-table.ts). Each target runs alone in a
 * child process under `node --trace-gc-nvp` (nothing else of the bench in it: the tail cases' marks
 * would be promoted too), on a server of this case's own: one warm-up second at the rate, one full
 * collection forced (such a chain starts only once an old table has been moved to the old generation,
 * which any full collection does; waiting for one by chance made the figure depend on the run), then
 * `--seconds` measured. Per run it prints the young collections, what they promoted and kept on
 * average, their mean pause, the total promoted, and the full collections in the window.
 *
 *   npm run bench -- promotion [--backend redis|nats] [--target raw,bus,pub,sub] [--rate 14000]
 *                              [--seconds 10] [--runs 2] [--url ...]
 * Targets: redis: raw, bus, pub (bus publish, raw consume), sub (raw publish, bus consume); nats:
 * raw, bus.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { envelopeMaker, fmt } from '../lib/stats.mjs';
import { ownServer } from '../lib/servers.mjs';
import { redisTargets } from '../lib/redis-targets.mjs';
import { natsTargets } from '../lib/nats-targets.mjs';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'redis' },
    target: { type: 'string' },
    rate: { type: 'string' },
    seconds: { type: 'string', default: '10' },
    runs: { type: 'string', default: '2' },
    url: { type: 'string' },
    child: { type: 'boolean', default: false },
  },
});
const BACKEND = values.backend;
if (BACKEND !== 'redis' && BACKEND !== 'nats') throw new Error(`--backend: redis or nats; got ${BACKEND}`);
const RATE = Number(values.rate ?? (BACKEND === 'redis' ? 14_000 : 5_000));
const SECONDS = Number(values.seconds);

function targetsOf(prefix) {
  const envelope = envelopeMaker({ sessions: 100, payloadBytes: 1024 });
  return BACKEND === 'redis' ? redisTargets({ prefix }) : (({ makeRaw, makeBus }) => ({ raw: makeRaw, bus: makeBus }))(natsTargets({ prefix, batch: 256, inflight: 64, envelope }));
}

/** In the child: one target at the fixed rate; the measured window on stderr (performance.now() ms). */
async function child(name, url) {
  const envelope = envelopeMaker({ sessions: 100, payloadBytes: 1024 });
  const target = await targetsOf(`promo-${process.pid}`)[name](url);
  let handled = 0;
  await target.subscribe(() => void handled++);
  const runAt = async (count) => {
    handled = 0;
    const started = performance.now();
    let sent = 0;
    while (sent < count) {
      const due = Math.min(count, Math.floor(((performance.now() - started) / 1000) * RATE));
      while (sent < due) target.publish(envelope(sent, performance.now())), sent++;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    while (handled < count) await new Promise((resolve) => setTimeout(resolve, 5));
  };
  await runAt(RATE);
  globalThis.gc();
  const from = performance.now();
  await runAt(RATE * SECONDS);
  process.stderr.write(`WINDOW ${from} ${performance.now()}\n`);
  await target.close();
  process.exit(0);
}

/** Runs the child under --trace-gc-nvp and sums its collections inside the window. */
function measure(name, url) {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--trace-gc-nvp', '--expose-gc', fileURLToPath(import.meta.url), '--child', '--backend', BACKEND, '--target', name, '--url', url, '--rate', String(RATE), '--seconds', String(SECONDS)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (err += d));
    proc.once('exit', (code) => {
      const window = /WINDOW (\S+) (\S+)/.exec(err);
      if (code !== 0 || !window) return reject(new Error(`${name}: the child failed (exit ${code}): ${err.slice(-500)}`));
      const [from, to] = [Number(window[1]), Number(window[2])];
      const young = [];
      let full = 0;
      for (const line of out.split('\n')) {
        const at = /\]\s+(\d+) ms: /.exec(line);
        if (!at || Number(at[1]) < from || Number(at[1]) > to) continue;
        const field = (key) => Number((new RegExp(`\\b${key}=([\\d.]+)`).exec(line) ?? [])[1] ?? 0);
        if (/ gc=s /.test(line)) young.push({ promoted: field('promoted'), survived: field('new_space_survived'), pause: field('pause') });
        else if (/ gc=(mc|ms|mmc) /.test(line)) full++;
      }
      const sum = (k) => young.reduce((n, y) => n + y[k], 0);
      resolve({ young: young.length, promotedKb: sum('promoted') / young.length / 1024, survivedKb: sum('survived') / young.length / 1024, pauseMs: sum('pause') / young.length, totalMb: sum('promoted') / 1048576, full });
    });
    proc.once('error', reject);
  });
}

async function startServer() {
  const url = values.url ?? (BACKEND === 'redis' ? process.env.REDIS_URL : process.env.NATS_URL);
  if (url) return { url, stop: async () => undefined };
  if (BACKEND === 'redis') {
    const own = await ownServer({ bin: process.env.REDIS_SERVER_BIN ?? 'redis-server', name: 'redis-server', args: (port, dir) => ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--auto-aof-rewrite-percentage', '0'] });
    return { url: `redis://127.0.0.1:${own.port}`, stop: own.stop };
  }
  const own = await ownServer({ bin: process.env.NATS_SERVER_BIN ?? 'nats-server', name: 'nats-server', args: (port, dir) => ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir] });
  return { url: `nats://127.0.0.1:${own.port}`, stop: own.stop };
}

if (values.child) {
  await child(values.target, values.url);
} else {
  const names = (values.target ?? (BACKEND === 'redis' ? 'raw,bus,pub,sub' : 'raw,bus')).split(',');
  const known = Object.keys(targetsOf('check'));
  for (const name of names) if (!known.includes(name)) throw new Error(`--target for ${BACKEND}: some of ${known.join(', ')}; got ${name}`);
  const server = await startServer();
  console.log(`promotion by young collections, ${BACKEND}: ${fmt(RATE)} msg/s of 1 KiB over 100 sessions, ${SECONDS} s measured after 1 s, each target alone in a child process under --trace-gc-nvp; node ${process.version}`);
  const rows = [];
  try {
    for (let run = 1; run <= Number(values.runs); run++) {
      for (const name of names) {
        const r = await measure(name, server.url);
        rows.push([`${name} (run ${run})`, fmt(r.young), fmt(r.promotedKb), fmt(r.survivedKb), r.pauseMs.toFixed(2), r.totalMb.toFixed(1), fmt(r.full)]);
      }
    }
  } finally {
    await server.stop();
  }
  const head = ['target', 'young GCs', 'promoted KB each', 'kept KB each', 'pause ms each', 'promoted MB', 'full GCs'];
  console.log(head.map((h, i) => (i === 0 ? h.padEnd(16) : h.padStart(18))).join(''));
  for (const row of rows) console.log(row.map((c, i) => (i === 0 ? c.padEnd(16) : c.padStart(18))).join(''));
}
