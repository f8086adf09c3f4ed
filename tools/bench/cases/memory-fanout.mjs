#!/usr/bin/env node
/**
 * The memory bus's fan-out alone, for counting instead of timing (issue 11): `--groups` durable groups
 * on one event type (sync handlers), a warm-up of 20,000 deliveries, then `--deliveries` deliveries
 * (each publish awaited, then until every group handled it) between two `process.cpuUsage()` calls.
 * Run under callgrind, `--dump-before=uv_getrusage` splits the count at those calls, so the second
 * dump covers the timed loop only:
 *
 *   valgrind --tool=callgrind --cache-sim=yes --dump-before=uv_getrusage \
 *     node tools/bench/main.mjs memory-fanout --groups 1000 --deliveries 100000
 *
 * Prints the CPU per publish and per delivery (the count is the load-independent figure).
 */
import { parseArgs } from 'node:util';
import { createMessageBus } from '@woodwork/bus-memory';
import { envelopeMaker } from '../lib/stats.mjs';

const { values } = parseArgs({
  options: { groups: { type: 'string', default: '1000' }, deliveries: { type: 'string', default: '100000' } },
});
const GROUPS = Number(values.groups);
const DELIVERIES = Number(values.deliveries);
const envelope = envelopeMaker({ sessions: 100, payloadBytes: 1024 });

const bus = createMessageBus({ maxQueueSize: 1_000_000 });
let handled = 0;
for (let g = 0; g < GROUPS; g++) await bus.subscribe('bench.msg', () => void handled++, { componentId: `c${g}` });
const until = async (n) => {
  while (handled < n) await new Promise((resolve) => setTimeout(resolve, 1));
};
const warm = Math.ceil(20_000 / GROUPS);
for (let i = 0; i < warm; i++) await bus.publish(envelope(i, 0));
await until(warm * GROUPS);
const publishes = Math.ceil(DELIVERIES / GROUPS);
const cpu = process.cpuUsage();
for (let i = 0; i < publishes; i++) await bus.publish(envelope(warm + i, 0));
await until((warm + publishes) * GROUPS);
const used = process.cpuUsage(cpu);
const cpuUs = used.user + used.system;
console.log(`${GROUPS} groups, ${publishes} publishes: CPU ${(cpuUs / publishes).toFixed(1)} us per publish, ${((cpuUs * 1000) / (publishes * GROUPS)).toFixed(0)} ns per delivery`);
await bus.close();
